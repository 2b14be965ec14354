"""The promises of shared/guide/privacy.md, checked against what is really stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import App, build
from bot.settings import Settings
from storage.database import urls
from survey.content import question
from tests.conftest import FakeClock, write_followups
from tests.driver import Person

PEOPLE = 30
OPTIONS = [
    "professional",
    "manager",
    "clerical",
    "technical",
    "routine",
    "unemployed",
    "small business",
    "other",
    "prefer not",
]


def person_name(i: int) -> str:
    return f"worker-{i:03d}-smith"


async def crowd(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> tuple[App, list[Person]]:
    """30 people answer in order; person i works at "Site i", which identifies their answer."""
    write_followups(tmp_path / "keyq.toml", locations=PEOPLE)
    keyq = await build(make_settings(), clock=clock)
    people = []
    for i in range(PEOPLE):
        person = Person(keyq.engine, person_name(i))
        await person.answer(OPTIONS[i % len(OPTIONS)], "frontline", f"site {i}")
        person.expect("thank you")
        people.append(person)
    return keyq, people


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the database holds it."""
    engine = sa.create_engine(urls(url)[1])
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            tables[name] = [
                dict(r._mapping) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            ]
    engine.dispose()
    return tables


def forbidden_for(name: str) -> list[bytes]:
    """A person's id in the clear, and the unkeyed hashes someone might store instead."""
    out = []
    for text in (name, f"console:{name}", f"console\x1f\x1f{name}"):
        raw = text.encode()
        out.append(raw)
        for algo in ("md5", "sha1", "sha256", "sha512"):
            digest = hashlib.new(algo, raw)
            out += [digest.digest(), digest.hexdigest().encode()]
    return out


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return str(value).encode()


async def test_table_dump_shows_no_identity_and_no_plaintext_answer(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    keyq, _ = await crowd(make_settings, clock, tmp_path)
    await keyq.close()
    tables = dump(database_url)
    cells = [as_bytes(v) for rows in tables.values() for row in rows for v in row.values()]
    blob = b"\n".join(cells).lower()
    for i in range(PEOPLE):
        for needle in forbidden_for(person_name(i)):
            assert needle.lower() not in blob, person_name(i)
    q = question()
    plaintexts = [o.id for o in q.options] + [o.label for o in q.options] + ["site 1", "frontline"]
    text_cells = b"\n".join(c for c in cells if c.isascii()).lower()
    for plain in plaintexts:
        assert plain.casefold().encode() not in text_cells, plain
    assert len(tables["participation"]) == PEOPLE
    assert len(tables["answers"]) == 30 and not tables["pending_answers"]
    assert set(tables["answers"][0]) == {
        "id",
        "campaign_id",
        "month",
        "schema_version",
        "key_id",
        "sealed",
    }
    assert {row["month"] for row in tables["answers"]} == {"2026-03"}
    assert not tables["conversations"]  # finished conversations leave nothing behind
    if database_url.startswith("sqlite"):  # deleted rows are overwritten in the file as well
        raw = Path(urls(database_url)[1].database or "").read_bytes().lower()  # noqa: ASYNC240
        for i in range(PEOPLE):
            assert person_name(i).encode() not in raw
        assert b"site 1" not in raw


async def test_sqlite_keeps_no_moved_pending_answer_in_its_log(
    make_settings: Callable[..., Settings], clock: FakeClock, database_url: str
) -> None:
    """SQLite writes ahead to a log: after a batch moves and housekeeping runs, neither the log
    nor the database file holds the sealed pending rows (which sat beside their ledger rows)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write-ahead log")
    keyq = await build(make_settings(), clock=clock)
    path = Path(urls(database_url)[1].database or "")
    try:
        sealed: list[bytes] = []
        for i in range(10):
            person = Person(keyq.engine, person_name(i))
            await person.say("start")
            await person.tap("answer now")
            await person.tap(OPTIONS[i % len(OPTIONS)])
            if i < 9:
                sealed += [bytes(row["sealed"]) for row in dump(database_url)["pending_answers"]]
        assert len(set(sealed)) == 9 and not dump(database_url)["pending_answers"]  # moved
        log = path.with_name(path.name + "-wal")
        assert log.stat().st_size > 0
        await keyq.store.vacuum()  # what housekeeping runs every two minutes, never on a turn
        assert log.stat().st_size == 0
        raw = path.read_bytes()  # noqa: ASYNC240
        assert not [blob for blob in set(sealed) if blob in raw]
    finally:
        await keyq.close()


async def test_stored_order_follows_answer_order_no_closer_than_the_batch(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    keyq, _ = await crowd(make_settings, clock, tmp_path)
    keys = keyq.store.keys
    await keyq.close()
    postgres = not database_url.startswith("sqlite")
    order = "ctid" if postgres else "rowid"
    extra = ", xmin::text AS xmin" if postgres else ""
    engine = sa.create_engine(urls(database_url)[1])
    with engine.connect() as conn:
        rows = list(
            conn.execute(sa.text(f"SELECT key_id, sealed{extra} FROM answers ORDER BY {order}"))
        )
        ledger_xmins = (
            {r[0] for r in conn.execute(sa.text("SELECT xmin::text FROM participation"))}
            if postgres
            else set()
        )
    engine.dispose()
    stored = [
        int(
            json.loads(keys.answers.open(r.key_id, bytes(r.sealed), "answer|workforce"))[
                "location"
            ].split()[-1]
        )
        for r in rows
    ]
    batches = [stored[i : i + 10] for i in range(0, PEOPLE, 10)]
    for n, batch in enumerate(batches):  # each batch holds exactly that batch's people...
        assert sorted(batch) == list(range(n * 10, n * 10 + 10))
    assert any(batch != sorted(batch) for batch in batches)  # ...in shuffled order
    if postgres:
        xmins = [r.xmin for r in rows]
        for n in range(3):  # one transaction per batch: xmin tells nothing within it
            assert len(set(xmins[n * 10 : n * 10 + 10])) == 1
        assert not set(xmins) & ledger_xmins


async def test_no_reply_after_a_choice_repeats_it(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    keyq, people = await crowd(make_settings, clock, tmp_path)
    await keyq.close()
    q = question()
    for i, person in enumerate(people):
        option = next(
            o
            for o in q.options
            if OPTIONS[i % len(OPTIONS)] in o.label.casefold()
            or OPTIONS[i % len(OPTIONS)] in q.detail(o).casefold()
        )
        asked = max(n for n, r in enumerate(person.transcript) if len(r.choices) == 10)
        for reply in person.transcript[asked + 1 :]:
            lowered = reply.text.casefold()
            assert option.label.casefold() not in lowered
            assert q.detail(option).casefold() not in lowered
            assert f"site {i}" not in lowered.replace("where do you mostly work?", "")


async def test_ciphertext_length_does_not_reveal_the_option(app: App) -> None:
    for i, option in enumerate(question().options):
        async with app.store.unit() as unit:
            await unit.record_answer("workforce", bytes([i]) * 32, {"kq": option.id})
    engine = sa.create_engine(urls(app.settings.database_url)[1])
    with engine.connect() as conn:
        lengths = {
            len(bytes(r[0])) for r in conn.execute(sa.text("SELECT sealed FROM pending_answers"))
        }
    engine.dispose()
    assert len(lengths) == 1


def _varlena(raw: bytes) -> bytes:
    """An attribute's bytes without PostgreSQL's varlena header (short or 4-byte)."""
    if raw[0] & 0x01:
        return raw[1 : raw[0] >> 1]
    return raw[4 : int.from_bytes(raw[:4], "little") >> 2]


def _every_tuple(url: str, table: str) -> list[list[bytes | None]]:
    """Every tuple on the table's pages, live or dead, split into raw attributes."""
    engine = sa.create_engine(urls(url)[1])
    found: list[list[bytes | None]] = []
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public"))
        pages = conn.scalar(sa.text(f"SELECT pg_relation_size('{table}') / 8192"))
        for page in range(int(pages or 0)):
            rows = conn.execute(
                sa.text(
                    "SELECT public.tuple_data_split(CAST(:rel AS regclass), t_data, t_infomask, "
                    "t_infomask2, t_bits) FROM public.heap_page_items("
                    "public.get_raw_page(:rel, :page)) WHERE t_data IS NOT NULL"
                ),
                {"rel": table, "page": page},
            )
            found += [[bytes(a) if a is not None else None for a in r[0]] for r in rows]
    engine.dispose()
    return found


async def test_raw_postgres_pages_hold_nothing_that_links_a_person_to_an_answer(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    settings = make_settings()
    if "postgresql" not in settings.database_url:
        pytest.skip("dead tuples are a PostgreSQL matter; SQLite overwrites deleted rows")
    write_followups(tmp_path / "keyq.toml")
    keyq = await build(settings, clock=clock)
    people = [Person(keyq.engine, person_name(i)) for i in range(15)]
    for i, person in enumerate(people):
        await person.say("start")
        await person.tap("answer now")
        await person.tap(OPTIONS[i % len(OPTIONS)])
        if i < 12:  # three leave before the optional follow-ups
            await person.tap("team leader")
            await person.tap("prefer not")
    states = []
    for tag, key_id, sealed in (
        (_varlena(t[0] or b""), _varlena(t[2] or b"").decode(), _varlena(t[3] or b""))
        for t in _every_tuple(settings.database_url, "conversations")
    ):
        states.append(
            json.loads(keyq.store.keys.answers.open(key_id, sealed, f"conversation|{tag.hex()}"))
        )
    assert len(states) > 15  # dead versions of every saved state are on the pages
    for state in states:  # no version of any state ever held an answer
        assert set(state) <= {"step", "campaign", "pending"}, state
    await keyq.store.vacuum()  # what housekeeping runs every two minutes, never on a turn
    pending_ids = {
        _varlena(t[0] or b"").decode()
        for t in _every_tuple(settings.database_url, "pending_answers")
    }
    answer_ids = {
        _varlena(t[0] or b"").decode() for t in _every_tuple(settings.database_url, "answers")
    }
    referenced = {s["pending"] for s in states if "pending" in s}
    # After the shuffled batch: a flushed answer's pending row is gone from the pages, and
    # its new row shares no id with anything a person's state ever pointed at.
    assert len(answer_ids) == 10 and not answer_ids & referenced
    assert len(pending_ids) == 5 and pending_ids <= referenced
    await keyq.close()


async def test_a_long_transaction_elsewhere_does_not_jam_answers(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    """A report or a backup holding a long REPEATABLE READ transaction (on SQLite, a read
    transaction) while answers flow and housekeeping vacuums (on SQLite, empties the log):
    every turn still completes promptly, every answer counted once."""
    import asyncio
    import sqlite3
    import time

    settings = make_settings()
    keyq = await build(settings, clock=clock)
    engine = sa.create_engine(urls(settings.database_url)[1])
    count = "SELECT count(*) FROM pending_answers"
    long_reader: Any
    if settings.database_url.startswith("sqlite"):  # a reader holding its snapshot of the file
        long_reader = sqlite3.connect(engine.url.database or "", isolation_level=None)
        long_reader.execute("BEGIN")
        long_reader.execute(count).fetchall()
    else:
        long_reader = engine.connect()
        long_reader.execute(sa.text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        long_reader.execute(sa.text(count)).scalar()
    try:
        started = time.monotonic()

        async def one(i: int) -> float:
            t0 = time.monotonic()
            person = Person(keyq.engine, f"jam-{i}")
            await person.answer(OPTIONS[i % len(OPTIONS)])
            person.expect("thank you")
            return time.monotonic() - t0

        async def vacuum_all_along() -> None:
            for _ in range(5):
                await keyq.store.vacuum()
                await asyncio.sleep(0.05)

        durations, _ = await asyncio.gather(
            asyncio.gather(*(one(i) for i in range(40))), vacuum_all_along()
        )
        assert max(durations) < 3.0 and time.monotonic() - started < 20
        answered, waiting = await keyq.store.counts("workforce")
        moved = len(await keyq.store.answers("workforce"))
        assert answered == 40 and moved + waiting == 40 and waiting < 10  # each counted once
    finally:
        long_reader.rollback()
        long_reader.close()
        engine.dispose()
        await keyq.close()
