"""The promises of shared/guide/privacy.md, checked against what is really stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
