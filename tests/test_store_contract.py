"""One contract every store runs: SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from storage.store import CampaignInfo, Conflict, sync_log
from storage.tables import Contact


async def test_event_claimed_once(app: App) -> None:
    async with app.store.unit() as unit:
        assert await unit.claim_event(b"e" * 32)
    async with app.store.unit() as unit:
        assert not await unit.claim_event(b"e" * 32)


async def test_conversation_round_trip_and_optimistic_lock(app: App) -> None:
    tag = b"t" * 32
    async with app.store.unit() as unit:
        assert await unit.load_conversation(tag) is None
        await unit.save_conversation(tag, {"step": "kq"}, None)
    async with app.store.unit() as unit:
        saved = await unit.load_conversation(tag)
        assert saved is not None and saved.state == {"step": "kq"} and saved.version == 1
        await unit.save_conversation(tag, {"step": "level"}, 1)
    with pytest.raises(Conflict):
        async with app.store.unit() as unit:
            await unit.save_conversation(tag, {"step": "stale"}, 1)
    with pytest.raises(Conflict):
        async with app.store.unit() as unit:
            await unit.save_conversation(tag, {"step": "new"}, None)
    with pytest.raises(Conflict):
        async with app.store.unit() as unit:
            await unit.end_conversation(tag, 1)
    async with app.store.unit() as unit:
        await unit.end_conversation(tag, 2)
        assert await unit.load_conversation(tag) is None


async def test_an_event_is_claimed_and_the_conversation_loaded_together(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    """A turn's first step (one statement on PostgreSQL): a new event loads the conversation,
    a replay loads nothing, an event without an id only loads, an expired one is gone."""
    tag = b"t" * 32
    async with app.store.unit() as unit:
        assert await unit.claim_and_load(b"1" * 32, tag) == (True, None)
        await unit.save_conversation(tag, {"step": "kq"}, None)
    async with app.store.unit() as unit:
        claimed, saved = await unit.claim_and_load(b"2" * 32, tag)
        assert claimed and saved is not None
        assert (saved.state, saved.version) == ({"step": "kq"}, 1)
        assert await unit.claim_and_load(b"2" * 32, tag) == (False, None)  # a replay
    async with app.store.unit() as unit:
        assert await unit.claim_and_load(b"1" * 32, tag) == (False, None)
        claimed, saved = await unit.claim_and_load(None, tag)
        assert claimed and saved is not None and saved.version == 1
    clock.advance(days=2)
    async with app.store.unit() as unit:
        assert await unit.claim_and_load(b"3" * 32, tag) == (True, None)  # expired: deleted
        assert await unit.load_conversation(tag) is None


async def test_a_new_event_touches_the_contact_with_its_claim(app: App) -> None:
    """The contact's upsert rides with the claim (one statement on PostgreSQL): a new event
    stores the contact, or refreshes it and makes it reachable again; a replay changes
    nothing."""
    person, tag = b"k" * 32, b"t" * 32
    contact = (person, "slack", {"user": "U1", "workspace": "T1", "address": "D1"})

    async def stored() -> list[tuple[bool, str]]:
        async with app.store.engine.connect() as conn:
            rows = await conn.execute(select(Contact.reachable, Contact.key_id, Contact.sealed))
            return [(r.reachable, r.key_id + r.sealed.hex()) for r in rows]

    async with app.store.unit() as unit:
        assert await unit.claim_and_load(b"1" * 32, tag, contact=contact) == (True, None)
        assert await unit.set_contact(person, reachable=False)
    [(reachable, sealed)] = await stored()
    assert not reachable
    async with app.store.unit() as unit:  # a replay
        assert await unit.claim_and_load(b"1" * 32, tag, contact=contact) == (False, None)
    assert await stored() == [(False, sealed)]
    async with app.store.unit() as unit:
        assert await unit.claim_and_load(b"2" * 32, tag, contact=contact) == (True, None)
    [(reachable, resealed)] = await stored()
    assert reachable and resealed != sealed


async def test_the_default_campaign_is_read_with_the_claim(app: App) -> None:
    """A turn that starts a conversation reads the open default campaign (on PostgreSQL in the
    event's claim, one statement): the same one a lookup of its own finds, a new default once
    it is started, none while no default is open."""
    tag = b"t" * 32

    async def with_claim(digest: bytes) -> CampaignInfo | None:
        async with app.store.unit() as unit:
            assert (await unit.claim_and_load(digest, tag))[0]
            return await unit.default_campaign()

    async def on_its_own() -> CampaignInfo | None:
        async with app.store.unit() as unit:
            return await unit.default_campaign()

    first = await with_claim(b"1" * 32)
    assert first is not None and first.is_default and first.is_open
    assert first == await on_its_own()
    await app.store.start_campaign("workforce-2027", "Refresh 2027", make_default=True)
    second = await with_claim(b"2" * 32)
    assert second is not None and second.id == "workforce-2027" and second.title == "Refresh 2027"
    assert second == await on_its_own()
    await app.store.close_campaign("workforce-2027")
    assert await with_claim(b"3" * 32) == await on_its_own()


async def test_beginning_a_conversation_notes_the_reach_once(app: App) -> None:
    """The question put (one statement on PostgreSQL for a new conversation): reached once
    however often it is put, a second new conversation for the same tag is a conflict, and a
    restart saves over the old one."""
    ledger, tag = b"l" * 32, b"t" * 32
    async with app.store.unit() as unit:
        await unit.begin_conversation("workforce", ledger, tag, {"step": "intro"}, None)
    assert await app.store.people("workforce") == (1, 0)
    with pytest.raises(Conflict):
        async with app.store.unit() as unit:
            await unit.begin_conversation("workforce", ledger, tag, {"step": "kq"}, None)
    async with app.store.unit() as unit:
        await unit.begin_conversation("workforce", ledger, tag, {"step": "kq"}, 1)
        saved = await unit.load_conversation(tag)
    assert saved is not None and (saved.state, saved.version) == ({"step": "kq"}, 2)
    assert await app.store.people("workforce") == (1, 0)


async def test_no_conversation_begins_for_someone_who_has_answered(app: App) -> None:
    """The check rides with the beginning (one statement on PostgreSQL): a ledger tag that
    has answered gets False, and neither a conversation nor a second reach."""
    ledger, tag = b"l" * 32, b"t" * 32
    async with app.store.unit() as unit:
        assert await unit.record_answer("workforce", ledger, {"kq": "prof"})
    for version in (None, 1):
        async with app.store.unit() as unit:
            if version:
                await unit.save_conversation(tag, {"step": "intro"}, None)
            assert not await unit.begin_conversation("workforce", ledger, tag, {}, version)
            saved = await unit.load_conversation(tag)
        assert saved is None if version is None else saved is not None and saved.version == 1
        assert await app.store.people("workforce") == (0, 1)
    async with app.store.unit() as unit:  # someone else still begins
        assert await unit.begin_conversation("workforce", b"m" * 32, b"u" * 32, {}, None)
    assert await app.store.people("workforce") == (1, 1)


async def test_the_last_answer_ends_the_conversation_with_it(app: App) -> None:
    """``ending`` deletes the conversation in the same step (one statement on PostgreSQL),
    a second answer included; a conversation moved on meanwhile is a conflict, and the whole
    unit rolls back."""
    tag = b"c" * 32
    async with app.store.unit() as unit:
        await unit.save_conversation(tag, {"step": "kq"}, None)
        await unit.save_conversation(tag, {"step": "kq"}, 1)  # now version 2
    with pytest.raises(Conflict):
        async with app.store.unit() as unit:
            await unit.record_answer("workforce", b"a" * 32, {"kq": "prof"}, ending=(tag, 1))
    async with app.store.unit() as unit:
        assert not await unit.has_answered("workforce", b"a" * 32)
        assert await unit.record_answer("workforce", b"a" * 32, {"kq": "prof"}, ending=(tag, 2))
        assert await unit.load_conversation(tag) is None
    async with app.store.unit() as unit:
        await unit.save_conversation(tag, {"step": "kq"}, None)
    async with app.store.unit() as unit:
        assert not await unit.record_answer("workforce", b"a" * 32, {"kq": "ii"}, ending=(tag, 1))
        assert await unit.load_conversation(tag) is None
    assert await app.store.counts("workforce") == (1, 1)


async def test_failed_unit_rolls_back_everything(app: App) -> None:
    with pytest.raises(RuntimeError):
        async with app.store.unit() as unit:
            await unit.claim_event(b"r" * 32)
            assert await unit.record_answer("workforce", b"p" * 32, {"kq": "prof"})
            raise RuntimeError("crash mid-turn")
    async with app.store.unit() as unit:
        assert await unit.claim_event(b"r" * 32)  # the event can be retried: nothing was lost
        assert not await unit.has_answered("workforce", b"p" * 32)
    assert await app.store.counts("workforce") == (0, 0)


async def test_answer_recorded_once_per_tag_and_campaign(app: App) -> None:
    async with app.store.unit() as unit:
        assert await unit.record_answer("workforce", b"a" * 32, {"kq": "prof"})
        assert not await unit.record_answer("workforce", b"a" * 32, {"kq": "craft"})
        assert await unit.has_answered("workforce", b"a" * 32)
    assert await app.store.counts("workforce") == (1, 1)


async def test_flush_waits_for_a_batch_then_moves_it_shuffled(app: App) -> None:
    for i in range(9):
        async with app.store.unit() as unit:
            await unit.record_answer("workforce", bytes([i]) * 32, {"kq": "prof", "n": str(i)})
    assert await app.store.flush("workforce", batch=10) == 0
    assert await app.store.answers("workforce") == []
    async with app.store.unit() as unit:
        await unit.record_answer("workforce", b"\xff" * 32, {"kq": "prof", "n": "9"})
    assert await app.store.flush("workforce", batch=10) == 10
    stored = await app.store.answers("workforce")
    assert sorted(int(a["n"]) for a in stored) == list(range(10))
    assert await app.store.counts("workforce") == (10, 0)
    assert await app.store.flush("workforce", batch=10) == 0  # nothing is moved twice


async def test_close_campaign_flushes_the_remainder(app: App) -> None:
    await app.store.start_campaign("applicants-2027", "Applicants", make_default=False)
    async with app.store.unit() as unit:
        await unit.record_answer("applicants-2027", b"q" * 32, {"kq": "craft"})
    await app.store.close_campaign("applicants-2027")
    assert await app.store.answers("applicants-2027") == [{"kq": "craft"}]
    async with app.store.unit() as unit:
        closed = await unit.campaign("applicants-2027")
    assert closed is not None and not closed.is_open and closed.closed_month == "2026-03"
    with pytest.raises(ValueError, match="exists already"):
        await app.store.start_campaign("applicants-2027", "Again", make_default=False)


async def test_new_default_campaign_replaces_the_old(app: App) -> None:
    await app.store.start_campaign("workforce-2027", "Refresh 2027", make_default=True)
    async with app.store.unit() as unit:
        default = await unit.default_campaign()
    assert default is not None and default.id == "workforce-2027"
    assert [c.id for c in await app.store.campaigns() if c.is_default] == ["workforce-2027"]


async def test_purge_removes_expired_conversations(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    async with app.store.unit() as unit:
        await unit.save_conversation(b"o" * 32, {"step": "kq"}, None)
        await unit.claim_event(b"v" * 32)
    clock.advance(hours=23)
    assert await app.store.purge() == 0
    clock.advance(days=8)
    assert await app.store.purge() == 1
    async with app.store.unit() as unit:
        assert await unit.claim_event(b"v" * 32)  # week-old event digests are forgotten


async def test_reseal_moves_everything_to_the_new_key(app: App) -> None:
    for i in range(12):  # ten flushed, two pending, one conversation in progress
        async with app.store.unit() as unit:
            await unit.record_answer("workforce", bytes([i]) * 32, {"kq": "craft"})
        if i == 9:
            assert await app.store.flush("workforce", batch=10) == 10
    async with app.store.unit() as unit:
        await unit.save_conversation(b"c" * 32, {"step": "kq"}, None)
    ring = app.store.keys.answers
    old = ring.primary
    new = ring.add("a-")
    assert await app.store.key_ids_in_use() == {old}
    assert await app.store.reseal(chunk=3) == 14  # 10 answers, 2 pending, 1 conversation, tally
    assert await app.store.key_ids_in_use() == {new}
    del ring.keys[old]  # retired: everything still opens
    assert len(await app.store.answers("workforce")) == 10
    async with app.store.unit() as unit:
        saved = await unit.load_conversation(b"c" * 32)
    assert saved is not None and saved.state == {"step": "kq"}
    assert await app.store.flush("workforce", batch=1, force=True) == 2


async def test_reseal_covers_sealed_addresses_too(app: App) -> None:
    async with app.store.unit() as unit:
        await unit.touch_contact(
            b"k" * 32, "telegram", {"user": "1", "workspace": "", "address": "1"}
        )
    ring = app.store.keys.addresses
    old, new = ring.primary, ring.add("p-")
    assert await app.store.key_ids_in_use("addresses") == {old}
    assert await app.store.reseal() == 1
    assert await app.store.key_ids_in_use("addresses") == {new}


async def test_every_step_of_a_turn_reads_and_writes_what_it_says(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    """Each statement a turn can make, on each database (a turn's statements are built once
    and, on PostgreSQL, run by asyncpg itself)."""
    from storage.codes import Codes

    _, (code,) = await Codes(app.store).issue("workforce", 1)
    person, tag = b"c" * 32, b"d" * 32
    async with app.store.unit() as unit:
        assert (await unit.campaign("workforce")) is not None
        assert await unit.campaign("nope") is None
        assert (await unit.default_campaign()).id == "workforce"  # type: ignore[union-attr]
        pending = await unit.record_answer("workforce", tag, {"kq": "prof"}, complete=False)
        assert pending is not None
        await unit.save_conversation(person, {"step": "level", "pending": pending}, None)
        await unit.touch_contact(person, "telegram", {"user": "u1"})
        assert await unit.set_contact(person, opted_out=True)
        assert not await unit.set_contact(b"x" * 32, opted_out=True)
        digest = app.store.keys.tag("code", code)
        assert await unit.spend_code(digest)
        assert not await unit.spend_code(digest)  # spent once
    assert await app.store.waiting("workforce") == 0  # not complete yet
    async with app.store.unit() as unit:
        assert await unit.add_to_answer("workforce", pending, {"level": "a"}, complete=True)
        assert not await unit.add_to_answer("workforce", pending, {"level": "b"}, complete=True)
    assert await app.store.waiting("workforce") == 1
    async with app.store.unit() as unit:
        await unit.end_conversation(person, 1)
        await unit.forget_contact(person)
        assert not await unit.set_contact(person, opted_out=False)  # forgotten
    async with app.store.unit() as unit:  # an expired conversation completes its answer
        second = await unit.record_answer("workforce", b"e" * 32, {"kq": "craft"}, complete=False)
        await unit.save_conversation(person, {"step": "level", "pending": second}, None)
    clock.advance(days=2)
    async with app.store.unit() as unit:
        assert await unit.load_conversation(person) is None
    assert await app.store.waiting("workforce") == 2
    assert await app.store.flush("workforce", batch=1) == 2
    assert sorted(a["kq"] for a in await app.store.answers("workforce")) == ["craft", "prof"]
    assert any(a.get("level") == "a" for a in await app.store.answers("workforce"))


async def test_a_turn_on_a_lost_connection_fails_and_the_next_gets_a_new_one(
    app: App, database_url: str
) -> None:
    """PostgreSQL: a pooled connection the server dropped fails one turn, uncommitted, and is
    not handed out again (a turn's statements bypass SQLAlchemy, so the store tells its pool)."""
    import sqlalchemy as sa

    from storage.database import urls

    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections")
    admin = sa.create_engine(urls(database_url)[1])
    with pytest.raises(Exception):  # noqa: B017 - whichever error the driver raises
        async with app.store.unit() as unit:
            pid = await unit._conn.scalar(sa.text("SELECT pg_backend_pid()"))
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await unit.claim_event(b"z" * 32)
    admin.dispose()
    for i in range(20):  # more than the pool holds: the dead connection never comes back
        async with app.store.unit() as unit:
            assert await unit.claim_event(bytes([i]) * 32)
    async with app.store.unit() as unit:
        assert await unit.claim_event(b"z" * 32)  # nothing of the failed turn was committed


async def test_cancelled_turns_commit_nothing_and_leave_no_connection_behind(
    app: App, database_url: str
) -> None:
    """PostgreSQL: a turn cancelled mid-statement (a request dropped) commits nothing, and its
    connection is neither pooled half-done nor lost: more turns than the pool holds are
    cancelled, and the next turn still gets a connection at once."""
    import sqlalchemy as sa

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's turns do not wait on a server")

    async def slow_turn() -> None:
        async with app.store.unit() as unit:
            await unit.claim_event(b"c" * 32)
            await unit._conn.execute(sa.text("SELECT pg_sleep(5)"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(16):
            task = asyncio.create_task(slow_turn())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    # Each went back to the pool itself, not when the garbage collector found it.
    assert not [w for w in caught if "checked-in" in str(w.message)]
    started = time.monotonic()
    async with app.store.unit() as unit:
        assert await unit.claim_event(b"c" * 32)  # none of the cancelled turns committed
    assert time.monotonic() - started < 1.0


def test_syncing_sqlite_s_log_falls_back_to_the_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sync_log`` fsyncs the write-ahead log when there is one, else the database file
    itself, and does nothing for a database with no file (in memory)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    database = tmp_path / "keyq.db"
    database.write_bytes(b"")
    sync_log(str(database))
    assert synced == [str(database)]
    (tmp_path / "keyq.db-wal").write_bytes(b"")
    sync_log(str(database))
    assert synced[1:] == [str(tmp_path / "keyq.db-wal")]
    sync_log(None)
    assert len(synced) == 2
