"""The survey conversation, end to end through the engine, on every store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storage.store as store_module
from bot.app import App, build
from bot.events import Channel
from bot.settings import Settings
from survey.content import question
from tests.conftest import FakeClock, write_followups
from tests.driver import Person, loop_ticks
from tests.sqlcount import sql_sent


def labels_and_details() -> list[str]:
    q = question()
    return [o.label for o in q.options] + [q.detail(o) for o in q.options]


async def test_first_contact_explains_why_and_promises(app: App) -> None:
    alice = Person(app.engine, "alice")
    await alice.say("hello")
    alice.expect(
        "anonymous",
        "totals",
        "never used for hiring, promotion",
        "core HR team",
        "fewer than 10 people",
        "prefer not to say",
    )
    assert [c.label for c in alice.last[0].choices] == [
        "Answer now",
        "I prefer not to say",
        "How my answer is protected",
        "Not now",
    ]
    assert len(alice.last[0].text) <= 600  # one phone screen


async def test_key_question_is_standard_with_all_nine_options(app: App) -> None:
    alice = Person(app.engine, "alice")
    await alice.say("start")
    await alice.tap("answer now")
    assert alice.last[0].replaces_prompt and not alice.last[0].choices  # intro made inert
    prompt = alice.last[-1]
    q = question()
    assert prompt.text.startswith(
        "What was the occupation of your main household earner when you were about aged 14?"
    )
    labels = [c.label for c in prompt.choices]
    assert labels[:9] == [o.label for o in q.options]
    assert labels[-3:] == ["Other", "I prefer not to say", "Which one fits me?"]
    assert all(len(c.label) <= 30 for c in prompt.choices)
    assert len(prompt.text) <= 600  # the question and short examples fit one phone screen
    assert "HGV driver" in prompt.text and "electrician" in prompt.text
    await alice.tap("which one fits")  # the full standard examples, on request
    full = alice.last[0]
    for option in q.options:
        assert q.detail(option) in full.text
    assert "Other (retired, this question does not apply to me, I don't know)" in full.text
    assert [c.label for c in full.choices] == labels
    await alice.say("examples")
    assert alice.last[0].text == full.text


async def test_answer_then_thanks_without_repeating_it(app: App) -> None:
    alice = Person(app.engine, "alice")
    await alice.say("start")
    await alice.tap("answer now")
    before = len(alice.transcript)
    await alice.tap("technical or craft")
    after = alice.transcript[before:]
    assert after[0].replaces_prompt  # the question message is replaced by a neutral receipt
    alice.expect("thank you")
    for reply in after:
        for text in labels_and_details():
            assert text.casefold() not in reply.text.casefold()


async def test_second_attempt_is_told_and_not_asked(app: App) -> None:
    alice = Person(app.engine, "alice")
    await alice.answer("prefer not")
    await alice.say("start")
    alice.expect("already answered")
    assert not any(r.choices for r in alice.last)
    _, pending = await app.store.counts("workforce")
    assert pending == 1


async def test_typed_number_and_label_work_and_nonsense_is_reasked(app: App) -> None:
    bob = Person(app.engine, "bob")
    await bob.say("start")
    await bob.say("1")  # "Answer now" by number
    bob.expect("main household earner")
    await bob.say("purple monkey dishwasher")
    bob.expect("didn't catch that")
    assert len(bob.last[0].choices) == 10
    await bob.say("99")
    bob.expect("didn't catch that")
    await bob.say("long-term unemployed")
    bob.expect("thank you")
    answered, _ = await app.store.counts("workforce")
    assert answered == 1


async def test_help_and_privacy_work_mid_question_and_resume(app: App) -> None:
    carol = Person(app.engine, "carol")
    await carol.say("start")
    await carol.tap("answer now")
    await carol.say("privacy")
    carol.expect("encrypted", "shuffled batches")
    assert len(carol.last[-1].choices) == 10  # the question offered again, in one short line
    assert len(carol.last[-1].text) < 60
    await carol.say("/help")
    carol.expect("start", "privacy")
    carol.expect_not("report")  # not an admin
    await carol.tap("clerical")
    carol.expect("thank you")


async def test_privacy_from_intro_keeps_the_choices(app: App) -> None:
    dan = Person(app.engine, "dan")
    await dan.say("hi")
    await dan.tap("protected")
    dan.expect("nothing connects the two")
    assert len(dan.last[0].choices) == 4


async def test_decline_stores_nothing_and_start_comes_back(app: App) -> None:
    erin = Person(app.engine, "erin")
    await erin.say("hi")
    await erin.tap("not now")
    erin.expect("no problem")
    assert erin.last[0].replaces_prompt
    assert await app.store.counts("workforce") == (0, 0)
    await erin.say("start")
    erin.expect("one short question")


async def test_double_tap_counts_once(app: App) -> None:
    fay = Person(app.engine, "fay")
    await fay.say("start")
    await fay.tap("answer now")
    tap = fay.choice_id("routine")
    await fay.send(choice=tap)
    fay.expect("thank you")
    await fay.send(choice=tap)  # the second tap of a double tap: a new event id
    fay.expect("already answered")
    assert await app.store.counts("workforce") == (1, 1)


async def test_replayed_event_changes_nothing(app: App) -> None:
    gus = Person(app.engine, "gus")
    await gus.say("start")
    await gus.tap("answer now")
    tap = gus.choice_id("manager")
    await gus.send(choice=tap, event_id="update-77")
    replayed = await gus.send(choice=tap, event_id="update-77")
    assert [r.text for r in replayed] == ["Thanks, noted."]  # answered, changes nothing
    assert await app.store.counts("workforce") == (1, 1)


async def test_old_and_forged_buttons_are_refused_politely(app: App) -> None:
    hal = Person(app.engine, "hal")
    await hal.say("start")
    intro_tap = hal.choice_id("answer now")
    await hal.send(choice=intro_tap)
    await hal.send(choice=intro_tap)  # an old keyboard
    hal.expect("has closed")
    assert len(hal.last[-1].choices) == 10
    for forged in ("kq:nonsense", "zz:1", "", "kq:", "level:3", "x" * 500):
        await hal.send(choice=forged)
        assert hal.last, forged
        hal.expect_not("thank you")
    assert await app.store.counts("workforce") == (0, 0)
    await hal.tap("other")
    hal.expect("thank you")


async def test_stale_button_after_the_end_says_so(app: App) -> None:
    ivy = Person(app.engine, "ivy")
    await ivy.say("hi")
    tap = ivy.choice_id("answer now")
    await ivy.tap("not now")
    await ivy.send(choice=tap)
    ivy.expect("has ended")


async def test_group_chat_never_asks(app: App) -> None:
    jo = Person(app.engine, "jo", channel=Channel.TELEGRAM, private=False)
    await jo.say("start")
    assert jo.last[0].open_private and not jo.last[0].choices
    jo.expect("private chat")
    assert await app.store.counts("workforce") == (0, 0)


async def test_unknown_command_gets_a_clear_answer(app: App) -> None:
    kim = Person(app.engine, "kim")
    await kim.say("/frobnicate")
    kim.expect("didn't understand")


async def test_conversation_expires_after_a_day(app: App, clock: FakeClock) -> None:
    lee = Person(app.engine, "lee")
    await lee.say("start")
    await lee.tap("answer now")
    tap = lee.choice_id("routine")
    clock.advance(hours=25)
    await lee.send(choice=tap)
    lee.expect("has ended")
    assert await app.store.counts("workforce") == (0, 0)


async def test_admin_report_in_chat(app: App) -> None:
    admin = Person(app.engine, "hr-admin")
    await admin.say("report")
    admin.expect("report", "no answers have reached the totals yet")
    assert admin.last[0].image is not None and admin.last[0].image.startswith(b"\x89PNG")
    await admin.say("help")
    admin.expect("report publish", "remind add", "remind pause all", "plan", "done N")
    staff = Person(app.engine, "staff")
    await staff.say("report")
    staff.expect("only for the core HR team")


async def test_followups_with_prefer_not_to_say(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    write_followups(tmp_path / "keyq.toml")
    keyq = await build(make_settings(), clock=clock)
    try:
        mo = Person(keyq.engine, "mo")
        await mo.say("start")
        mo.expect("Northwind Logistics")
        await mo.tap("answer now")
        await mo.tap("routine")
        mo.expect("Which level is your job?")
        assert mo.last[-1].choices[-1].label == "I prefer not to say"
        await mo.tap("team leader")
        mo.expect("Where do you mostly work?")
        await mo.tap("prefer not")
        mo.expect("thank you")
        await keyq.store.flush("workforce", batch=1, force=True)
        assert await keyq.store.answers("workforce") == [
            {"kq": "routine", "level": "Team leader", "location": ""}
        ]
    finally:
        await keyq.close()


async def test_the_answer_that_completes_a_batch_is_not_kept_waiting_for_the_move(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tenth answer's reply comes back while its batch's move is still running; a batch
    filled meanwhile is moved when that move ends (and closing the app waits for both)."""
    import asyncio

    gate = asyncio.Event()
    moved: list[int] = []
    flush = app.store.flush

    async def held_flush(campaign: str, *, batch: int, force: bool = False) -> int:
        moved.append(await flush(campaign, batch=batch, force=force))
        if len(moved) == 1:
            await gate.wait()  # the first move has moved its batch but has not finished
        return moved[-1]

    async def answer(person: Person) -> None:
        await person.say("start", settle=False)
        await person.tap("answer now", settle=False)
        await person.tap("clerical", settle=False)

    monkeypatch.setattr(app.store, "flush", held_flush)
    for n in range(9):
        await Person(app.engine, f"p{n}").answer("clerical")
    tenth = Person(app.engine, "p9")
    await asyncio.wait_for(answer(tenth), 5)  # not kept waiting behind the move
    tenth.expect("thank you")
    for _ in range(200):
        if moved:
            break
        await asyncio.sleep(0.01)
    assert moved == [10]
    for n in range(10, 20):  # the second batch fills while the first move is still running
        await answer(Person(app.engine, f"p{n}"))
    assert await app.store.counts("workforce") == (20, 10)
    gate.set()
    await app.engine.settle()
    assert moved == [10, 10] and await app.store.counts("workforce") == (20, 0)


async def test_waiting_answers_are_counted_about_once_a_batch_not_once_an_answer(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch still moves at its tenth answer, but the count of waiting answers is made
    after the first answer of a batch and at its tenth, not after every answer; another
    process's answers (stored here straight into pending) make a batch larger, never smaller."""
    counted: list[int] = []
    waiting = app.store.waiting

    async def counting(campaign: str) -> int:
        counted.append(await waiting(campaign))
        return counted[-1]

    monkeypatch.setattr(app.store, "waiting", counting)
    for n in range(30):
        await Person(app.engine, f"p{n}").answer("clerical")
        stored, pending = await app.store.counts("workforce")
        assert (stored, pending) == (n + 1, (n + 1) % 10), n  # a batch moves at its tenth
    assert counted == [1, 10, 1, 10, 1, 10]
    # Another process stores five answers after this one counted: its floor does not see
    # them, so its batch is larger (15), and it is still moved whole at its own tenth.
    await Person(app.engine, "p30").answer("clerical")
    async with app.store.unit() as unit:
        for n in range(5):
            await unit.record_answer("workforce", f"elsewhere-{n}".encode(), {"kq": "routine"})
    for n in range(31, 40):
        assert (await app.store.counts("workforce"))[1] == n - 30 + 5
        await Person(app.engine, f"p{n}").answer("clerical")
    assert await app.store.counts("workforce") == (45, 0)
    assert counted[-2:] == [1, 15]


async def test_campaigns_allow_one_answer_each(app: App) -> None:
    nia = Person(app.engine, "nia")
    await nia.answer("clerical")
    await app.store.start_campaign("applicants-2027", "Applicants 2027", make_default=False)
    await nia.say("start applicants-2027")
    nia.expect("one short question")
    await nia.tap("answer now")
    await nia.tap("clerical")
    nia.expect("thank you")
    await nia.say("start", campaign="applicants-2027")
    nia.expect("already answered")
    await nia.say("start no-such-round")
    nia.expect("closed")
    assert (await app.store.counts("applicants-2027"))[0] == 1


async def test_a_failing_turn_apologises_and_logs_no_personal_data(
    app: App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("secret-name-zed leaked in a message")

    monkeypatch.setattr(type(app.store), "unit", lambda self: broken_unit())

    class broken_unit:
        async def __aenter__(self) -> None:
            await broken()

        async def __aexit__(self, *exc: object) -> None:
            return None

    zed = Person(app.engine, "secret-name-zed")
    with caplog.at_level(logging.DEBUG):
        await zed.say("hello")
    zed.expect("something went wrong")
    assert "RuntimeError" in caplog.text
    assert "secret-name-zed" not in caplog.text


async def test_an_ordinary_turn_is_lean(app: App) -> None:
    """A tap or a typed line: at most 6 SQL statements, in one transaction, no lock taken; on
    PostgreSQL, where each is a round trip, at most 2 (the event's claim rides with the
    conversation's read and the default campaign's; the "answered already?" check and the
    reach with a new conversation; the ledger with the answer and the conversation's end)."""
    zoe = Person(app.engine, "zoe", channel=Channel.TELEGRAM)
    limit = 2 if app.store.engine.dialect.name == "postgresql" else 6
    with sql_sent(app.store) as sent:
        for step in ("start", "answer now", "clerical"):
            await app.engine.settle()  # what runs beside a turn (a batch move) is not the turn
            sent.clear()
            await (zoe.say(step, settle=False) if step == "start" else zoe.tap(step, settle=False))
            await sent.caught_up()
            assert 0 < len(sent.statements) <= limit, sent.statements
            assert sent.transactions == 1
            assert not any("advisory" in s or "VACUUM" in s for s in sent.statements)
    zoe.expect("thank you")


async def test_only_a_conversations_steps_commit_without_waiting_for_the_disk(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn that only moves a conversation along (the start, "Answer now") commits without
    waiting for the disk; one that stores an answer or changes what keyq keeps about a person
    is on disk before it returns. A crash could undo a step, never an answer or a "stop
    reminders". PostgreSQL: its COMMIT waits, or not (synchronous_commit off for a step).
    SQLite: commits never sync on the loop; the store syncs the log (``sync_log``) after a
    turn that must last, the database file's own log."""
    synced: list[str | None] = []
    real_sync = store_module.sync_log

    def sync_log(database: str | None) -> None:
        synced.append(database)
        real_sync(database)

    monkeypatch.setattr(store_module, "sync_log", sync_log)
    postgres = app.store.engine.dialect.name == "postgresql"
    zoe = Person(app.engine, "zoe", channel=Channel.TELEGRAM)
    turns = [("start", "step"), ("answer now", "step"), ("clerical", "lasts")]
    turns += [("stop reminders", "lasts"), ("forget me", "lasts")]
    with sql_sent(app.store) as sent:
        for words, kind in turns:
            await app.engine.settle()  # what runs beside a turn (a batch move) is not the turn
            sent.clear()
            synced.clear()
            if words in ("answer now", "clerical"):
                await zoe.tap(words, settle=False)
            else:
                await zoe.say(words, settle=False)
            await sent.caught_up()
            if words == "clerical":
                zoe.expect("thank you")
            if postgres:  # a step's COMMIT does not wait for the disk; the others' do
                commit = "step" if kind == "step" else "plain"
                assert sent.commits == [commit] and not synced, (words, sent.commits)
            else:  # a plain COMMIT that does not sync; the store syncs the log after the others
                assert sent.commits == ["plain"], (words, sent.commits)
                assert synced == ([app.store.turn_engine.url.database] if kind == "lasts" else [])


async def test_two_replicas_share_one_database_and_count_everyone_once(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """Turns of the same people land on either of two keyq processes (as a load balancer
    spreads webhooks), some delivered to both: each person is counted once."""
    import asyncio

    settings = make_settings()
    first, second = await build(settings, clock=clock), await build(settings, clock=clock)
    try:

        async def person(i: int) -> None:
            one = Person(first.engine, f"replica-{i}")
            other = Person(second.engine, f"replica-{i}")
            await one.say("start")
            other.last = one.last  # the intro was shown by the first process
            await other.tap("answer now")
            one.last = other.last
            tap = one.choice_id("routine")
            event = f"both-{i}"
            await asyncio.gather(
                one.send(choice=tap, event_id=event), other.send(choice=tap, event_id=event)
            )

        await asyncio.gather(*(person(i) for i in range(25)))
        answered, waiting = await first.store.counts("workforce")
        moved = len(await first.store.answers("workforce"))
        assert answered == 25 and moved + waiting == 25
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("force", [False, True])
async def test_two_processes_moving_one_batch_count_each_answer_once(
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    force: bool,
) -> None:
    """Two processes move the same batch at once: the second starts while the first holds the
    answers it took. Each answer lands once, in ``answers`` and in the tally (on SQLite a
    flush once read the batch without a lock and added it to the totals twice). The second
    move either gives way (PostgreSQL's lock, tried) or waits and finds nothing left
    (forced, or SQLite's write lock)."""
    settings = make_settings()
    first, second = await build(settings, clock=clock), await build(settings, clock=clock)
    try:
        for i in range(10):
            async with first.store.unit() as unit:
                assert await unit.record_answer("workforce", bytes([i]) * 32, {"kq": "prof"})
        real_read_tally = store_module.read_tally
        taken = asyncio.Event()

        async def slow_read_tally(conn: Any, keys: Any, campaign: str) -> Any:
            taken.set()  # the answers are out of pending, not yet committed
            await asyncio.sleep(0.2)
            return await real_read_tally(conn, keys, campaign)

        monkeypatch.setattr(store_module, "read_tally", slow_read_tally)

        async def second_move() -> int:
            await taken.wait()
            return await second.store.flush("workforce", batch=10, force=force)

        moves = await asyncio.gather(first.store.flush("workforce", batch=10), second_move())
        assert moves == [10, 0]
        monkeypatch.setattr(store_module, "read_tally", real_read_tally)
        assert len(await first.store.answers("workforce")) == 10
        assert await first.store.counts("workforce") == (10, 0)
        assert await first.store.tally("workforce") == {("prof", "", "", ""): 10}
    finally:
        await first.close()
        await second.close()


async def test_fewer_than_a_batch_are_put_back(app: App) -> None:
    """A move that finds fewer than a batch waiting (the count it was started on was stale)
    moves nothing and leaves them in pending; a forced one (closing a campaign) moves them."""
    for i in range(3):
        async with app.store.unit() as unit:
            assert await unit.record_answer("workforce", bytes([i]) * 32, {"kq": "prof"})
    assert await app.store.flush("workforce", batch=10) == 0
    assert await app.store.counts("workforce") == (3, 3)
    assert await app.store.flush("workforce", batch=10, force=True) == 3
    assert await app.store.counts("workforce") == (3, 0)
    assert await app.store.tally("workforce") == {("prof", "", "", ""): 3}


async def test_a_turn_waits_for_another_process_on_sqlite_without_stalling(
    app: App, database_url: str
) -> None:
    """While another process holds SQLite's write lock, a turn sleeps on the event loop (other
    work goes on) and completes once the lock is free; past the time-out it fails uncommitted."""
    import asyncio
    import sqlite3

    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    async with loop_ticks() as ticks:
        zoe = Person(app.engine, "zoe", channel=Channel.TELEGRAM)
        turn = asyncio.create_task(zoe.say("start"))
        await asyncio.sleep(0.3)
        assert not turn.done() and ticks.count >= 10  # waiting, and the loop is free
        other.execute("COMMIT")
        await turn
    zoe.expect("anonymous")

    yan = Person(app.engine, "yan", channel=Channel.TELEGRAM)
    other.execute("BEGIN IMMEDIATE")
    try:
        await yan.say("start")
    finally:
        other.execute("ROLLBACK")
        other.close()
    yan.expect("something went wrong")
    async with app.store.unit() as unit:  # nothing of yan's turn was committed
        assert await unit.load_conversation(app.engine._conversation_tag(yan.user)) is None
