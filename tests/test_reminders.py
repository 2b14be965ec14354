"""Reminders: schedules across DST, who is skipped, working hours, grace, crashes, two
processes, 429s; time comes from an injected clock, never from sleeping."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import sqlalchemy as sa

from bot.app import App, build
from bot.events import Channel, Incoming, UserRef
from bot.reminders.rules import RuleError, preview, trigger
from bot.settings import Settings
from storage.tables import Outbox
from tests.conftest import FakeClock
from tests.driver import Person
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegram

LONDON = "Europe/London"
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # 10:00 in London (GMT)


def test_rules_keep_local_time_across_daylight_saving() -> None:
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    every6 = preview(trigger("every 6 weeks", LONDON, anchor=start), start, 3)
    assert [(d.astimezone(dt.UTC).hour, d.date().isoformat()) for d in every6] == [
        (10, "2026-03-02"),
        (9, "2026-04-13"),
        (9, "2026-05-25"),
    ]  # 10:00 local, BST after
    quarterly = preview(
        trigger("first monday of each quarter at 10:00", LONDON, anchor=start), start, 4
    )
    assert [d.date().isoformat() for d in quarterly] == [
        "2026-04-06",
        "2026-07-06",
        "2026-10-05",
        "2027-01-04",
    ]
    assert all(d.hour == 10 for d in quarterly)
    yearly = preview(trigger("every year on 1 march", LONDON, anchor=start), start, 2)
    assert [d.date().isoformat() for d in yearly] == ["2027-03-01", "2028-03-01"]
    autumn = preview(
        trigger("every sunday at 01:30", LONDON, anchor=start),
        dt.datetime(2026, 10, 20, tzinfo=dt.UTC),
        2,
    )
    assert autumn[0].date().isoformat() == "2026-10-25"  # the night the clocks go back
    for bad in ("whenever", "every year on 31 smarch", "every 0 days", "every monday at 25:00"):
        with pytest.raises(RuleError):
            trigger(bad, LONDON, anchor=start)
    with pytest.raises(RuleError, match="time zone"):
        trigger("every monday", "Mars/Olympus", anchor=start)


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
async def keyq(
    make_settings: Callable[..., Settings], telegram_fake: FakeTelegram, clock: FakeClock
) -> AsyncIterator[App]:
    clock.now = MONDAY_10 - dt.timedelta(hours=1)  # schedules are added before they fall due
    app = await build(
        make_settings(
            telegram_token=TOKEN,
            telegram_api_url=telegram_fake.base_url,
            telegram_rate=500,
            admins=("console:hr-admin",),
        ),
        clock=clock,
    )
    yield app
    await app.close()


async def meet(app: App, user: int, text: str = "hello") -> None:
    """A Telegram user who started the bot (so keyq may message them later)."""
    await app.engine.handle(
        Incoming(
            user=UserRef(channel=Channel.TELEGRAM, user_id=str(user)),
            conversation=str(user),
            text=text,
            event_id=f"u-{user}-{text}",
            address=str(user),
        )
    )


async def answer(app: App, user: int) -> None:
    ref = UserRef(channel=Channel.TELEGRAM, user_id=str(user))
    for n, choice in enumerate(("intro:start", "kq:craft")):
        await app.engine.handle(
            Incoming(
                user=ref,
                conversation=str(user),
                choice=choice,
                event_id=f"a-{user}-{n}",
                address=str(user),
            )
        )


async def test_only_people_who_should_be_reminded_are(
    keyq: App, telegram_fake: FakeTelegram, clock: FakeClock
) -> None:
    for user in range(1, 7):
        await meet(keyq, user)
    await answer(keyq, 1)  # answered: skipped
    await meet(keyq, 2, "stop reminders")  # opted out
    await keyq.engine.set_reachable(UserRef(channel=Channel.TELEGRAM, user_id="3"), False)
    await keyq.reminders.add("weekly", "every monday at 10:00")
    waves = await keyq.reminders.run_due(MONDAY_10)
    assert len(waves) == 1
    wave = waves[0]
    assert (wave.reached, wave.skipped_answered, wave.opted_out, wave.unreachable) == (3, 1, 1, 1)
    got = {
        int(p["chat_id"])
        for m, p in telegram_fake.calls
        if m == "sendMessage" and "A reminder from" in str(p.get("text"))
    }
    assert got == {4, 5, 6}
    clock.now = MONDAY_10 + dt.timedelta(days=7)  # reminded 7 days ago: inside the quiet 14
    again = await keyq.reminders.run_due(clock.now)
    assert again[0].reached == 0 and again[0].recently_reminded == 3
    clock.now = MONDAY_10 + dt.timedelta(days=14)
    assert (await keyq.reminders.run_due(clock.now))[0].reached == 3
    await meet(keyq, 2, "start reminders")
    assert await keyq.reminders.run_due(clock.now) == []  # not due again until next week
    assert (
        len(
            [
                1
                for m, p in telegram_fake.calls
                if m == "sendMessage"
                and int(p["chat_id"]) == 2
                and "A reminder" in str(p.get("text"))
            ]
        )
        == 0
    )


async def test_reminder_button_starts_the_survey(keyq: App, telegram_fake: FakeTelegram) -> None:
    await meet(keyq, 11)
    await keyq.reminders.add("weekly", "every monday at 10:00")
    await keyq.reminders.run_due(MONDAY_10)
    sent = [p for m, p in telegram_fake.calls if m == "sendMessage" and int(p["chat_id"]) == 11]
    button = sent[-1]["reply_markup"]["inline_keyboard"][0][0]
    person = Person(keyq.engine, "11", channel=Channel.TELEGRAM)
    replies = await person.send(choice=button["callback_data"])
    # Straight to the question: the reminder already said why; one more tap answers.
    assert replies[0].text.startswith("What was the occupation of your main household earner")
    assert "I prefer not to say" in [c.label for c in replies[0].choices]
    await person.tap("Routine")
    person.expect("thank you")


async def test_weekends_and_evenings_wait_for_working_hours(
    keyq: App, telegram_fake: FakeTelegram
) -> None:
    await meet(keyq, 21)
    await keyq.reminders.add("saturday", "every saturday at 10:00")
    saturday = dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
    wave = (await keyq.reminders.run_due(saturday))[0]
    assert wave.reached == 0 and wave.waiting == 1
    sunday_night = dt.datetime(2026, 3, 8, 23, 0, tzinfo=dt.UTC)
    await keyq.reminders.send_outbox(sunday_night)
    assert (await keyq.reminders.counts(wave.id)).reached == 0
    await keyq.reminders.send_outbox(dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC))
    assert (await keyq.reminders.counts(wave.id)).reached == 1


async def test_missed_while_down_is_sent_once_within_grace(keyq: App) -> None:
    await meet(keyq, 31)
    await keyq.reminders.add("weekly", "every monday at 10:00")
    late = MONDAY_10 + dt.timedelta(hours=2)  # keyq was down at 10:00
    assert [w.reached for w in await keyq.reminders.run_due(late)] == [1]
    assert await keyq.reminders.run_due(late + dt.timedelta(minutes=1)) == []  # never twice
    too_late = MONDAY_10 + dt.timedelta(days=7, hours=7)  # next Monday, beyond the 6h grace
    assert await keyq.reminders.run_due(too_late) == []
    info = (await keyq.reminders.schedules())[0]
    assert info.next_runs[0] == MONDAY_10 + dt.timedelta(days=14)


async def test_a_crash_mid_wave_never_sends_a_second_copy(
    keyq: App, telegram_fake: FakeTelegram
) -> None:
    for user in range(41, 51):
        await meet(keyq, user)
    await keyq.reminders.add("weekly", "every monday at 10:00")
    original = keyq.reminders.send_outbox

    async def crash_after_claiming(at: dt.datetime | None = None, *, batch: int = 200) -> int:
        await keyq.reminders._claim(at or MONDAY_10, 4)  # claimed, then the process died
        return 0

    keyq.reminders.send_outbox = crash_after_claiming  # type: ignore[method-assign]
    wave = (await keyq.reminders.run_due(MONDAY_10))[0]
    keyq.reminders.send_outbox = original  # type: ignore[method-assign]
    assert wave.waiting == 10
    async with keyq.store.engine.begin() as conn:  # the lease of the dead process runs out
        await conn.execute(
            sa.update(Outbox)
            .where(Outbox.status == "sending")
            .values(claimed_at=dt.datetime(2000, 1, 1))
        )
    await keyq.reminders.send_outbox(MONDAY_10)
    counts = await keyq.reminders.counts(wave.id)
    assert (counts.reached, counts.failed, counts.waiting) == (6, 4, 0)
    chats = [
        int(p["chat_id"])
        for m, p in telegram_fake.calls
        if m == "sendMessage" and "A reminder" in str(p.get("text"))
    ]
    assert len(chats) == len(set(chats)) == 6
    async with keyq.store.engine.connect() as conn:
        assert (
            await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE sealed IS NOT NULL")) == 0
        )  # addresses are gone once handled


async def test_a_429_is_waited_out(keyq: App, telegram_fake: FakeTelegram) -> None:
    for user in range(61, 64):
        await meet(keyq, user)
    telegram_fake.throttle_left = 1
    telegram_fake.retry_after = 1
    await keyq.reminders.add("weekly", "every monday at 10:00")
    wave = (await keyq.reminders.run_due(MONDAY_10))[0]
    assert wave.reached == 3 and keyq.reminders.retries == 1


async def test_admin_schedules_in_chat(keyq: App) -> None:
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("remind add first monday of each quarter at 10:00")
    admin.expect("Reminder 1 added", "Mon 06 Apr 2026 10:00 BST")
    await admin.say("remind list")
    admin.expect("#1 first monday of each quarter at 10:00")
    await admin.say("remind pause 1")
    admin.expect("paused")
    await admin.say("remind add whenever you like")
    admin.expect("Sorry")
    await admin.say("remind waves")
    admin.expect("No reminder waves yet")
    staff = Person(keyq.engine, "someone")
    await staff.say("remind list")
    staff.expect("only for the core HR team")


async def test_slack_members_come_from_users_list(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    fake = FakeSlack().start()
    fake.members = [
        {"id": "UHUMAN1", "team_id": "T1", "tz": "Europe/London"},
        {"id": "UHUMAN2", "team_id": "T1", "tz": "America/New_York"},
        {"id": "UBOT", "team_id": "T1", "is_bot": True},
        {"id": "UGONE", "team_id": "T1", "deleted": True},
        {"id": "USLACKBOT", "team_id": "T1"},
    ]
    clock.now = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    app = await build(
        make_settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret="x",
            slack_api_url=fake.base_url,
            slack_rate_per_minute=6000,
        ),
        clock=clock,
    )
    try:
        await app.reminders.add("weekly", "every monday at 17:30", timezone="UTC")
        clock.now = dt.datetime(2026, 3, 2, 17, 30, tzinfo=dt.UTC)  # 12:30 in New York
        wave = (await app.reminders.run_due(clock.now))[0]
        assert wave.reached == 1 and wave.waiting == 1  # London is past 17:00; NY is not
        assert [p["channel"] for p in fake.sent("chat.postMessage")] == ["UHUMAN2"]
        listed = len(fake.sent("users.list"))
        clock.now += dt.timedelta(days=15, hours=-1)  # a Tuesday: no schedule due
        assert await app.reminders.run_due(clock.now) == []  # members listed are not joiners
        assert len(fake.sent("users.list")) == listed  # and nobody lists them every minute
    finally:
        await app.close()
        fake.stop()


async def test_slack_reminders_can_be_limited_to_a_channel(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.reminders.senders import slack_directory

    fake = FakeSlack().start()
    fake.members = [
        {"id": "UIN", "team_id": "T1", "in_channel": True},
        {"id": "UOUT", "team_id": "T1"},
        {"id": "UBOTIN", "team_id": "T1", "is_bot": True, "in_channel": True},
    ]
    try:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
        members = await slack_directory(client, "C123")()
        assert [m["user"] for m in members] == ["UIN"]
        assert len(await slack_directory(client)()) == 2
    finally:
        fake.stop()


async def test_two_processes_on_postgres_send_each_reminder_once(
    make_settings: Callable[..., Settings],
    telegram_fake: FakeTelegram,
    clock: FakeClock,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several processes share PostgreSQL; SQLite is one process")
    clock.now = MONDAY_10 - dt.timedelta(hours=1)
    settings = make_settings(
        telegram_token=TOKEN, telegram_api_url=telegram_fake.base_url, telegram_rate=400
    )
    first = await build(settings, clock=clock)
    second = await build(settings, clock=clock)
    try:
        for user in range(100, 160):
            await meet(first, user)
        await first.reminders.add("weekly", "every monday at 10:00")
        waves = await asyncio.gather(
            first.reminders.run_due(MONDAY_10), second.reminders.run_due(MONDAY_10)
        )
        assert sorted(len(w) for w in waves) == [0, 1]
        await asyncio.gather(
            first.reminders.send_outbox(MONDAY_10), second.reminders.send_outbox(MONDAY_10)
        )
        chats = [int(p["chat_id"]) for m, p in telegram_fake.calls if m == "sendMessage"]
        assert sorted(chats) == list(range(100, 160))
    finally:
        await first.close()
        await second.close()


async def test_new_joiners_are_asked_once_after_two_weeks(
    keyq: App, telegram_fake: FakeTelegram, clock: FakeClock
) -> None:
    await meet(keyq, 71)  # first contact today
    assert await keyq.reminders.run_due(MONDAY_10) == []  # too new
    clock.now = MONDAY_10 + dt.timedelta(days=14)
    waves = await keyq.reminders.run_due(clock.now)
    assert [(w.kind, w.reached) for w in waves] == [("joiners", 1)]
    clock.now = MONDAY_10 + dt.timedelta(days=35)
    assert await keyq.reminders.run_due(clock.now) == []  # asked once only


@pytest.mark.parametrize("leader_goes", ["stops", "crashes"])
async def test_only_one_process_leads_on_postgres(
    make_settings: Callable[..., Settings], clock: FakeClock, database_url: str, leader_goes: str
) -> None:
    from bot.reminders.scheduler import ReminderLoop

    if database_url.startswith("sqlite"):
        pytest.skip("on SQLite the one process always leads")
    first, second = (
        await build(make_settings(), clock=clock),
        await build(make_settings(), clock=clock),
    )
    loops = [ReminderLoop(reminders=a.reminders, store=a.store) for a in (first, second)]
    try:
        assert [await loop.is_leader() for loop in loops] == [True, False]
        if leader_goes == "stops":
            await loops[0].stop()  # it hands the lock over before it goes
            assert await loops[1].is_leader()  # at once, not when the server notices the drop
        else:  # its connection drops without a word, as when its process is killed
            await loops[0]._lock_conn.invalidate()
            loops[0]._lock_conn = None
            deadline = asyncio.get_running_loop().time() + 10
            while not await loops[1].is_leader():  # the server frees the lock once it notices
                assert asyncio.get_running_loop().time() < deadline, "the lead was never taken"
                await asyncio.sleep(0.05)
    finally:
        await loops[1].stop()
        await first.close()
        await second.close()


def test_reminders_api(make_settings: Callable[..., Settings]) -> None:
    from fastapi.testclient import TestClient

    from bot.web import create_app

    auth = {"Authorization": "Bearer tok-0123456789abcdef"}
    with TestClient(create_app(make_settings(admin_token="tok-0123456789abcdef"))) as client:
        assert client.get("/api/reminders").status_code == 401
        made = client.post("/api/reminders", json={"rule": "every year on 1 march"}, headers=auth)
        assert made.status_code == 201 and made.json()["next_runs"]
        bad = client.post("/api/reminders", json={"rule": "now and then"}, headers=auth)
        assert bad.status_code == 422
        number = made.json()["id"]
        paused = client.post(f"/api/reminders/{number}/pause", headers=auth).json()
        assert paused["paused"] is True and paused["next_runs"] == []
        assert client.get("/api/reminders/waves", headers=auth).json() == []
        assert client.delete(f"/api/reminders/{number}", headers=auth).status_code == 204
        assert client.delete(f"/api/reminders/{number}", headers=auth).status_code == 404
        huge = client.post(f"/api/reminders/{10**30}/pause", headers=auth)
        assert huge.status_code == 422  # an oversized number is refused, never a 500
        nowhere = client.post(
            "/api/reminders", json={"rule": "every monday", "campaign": "nope"}, headers=auth
        )
        assert nowhere.status_code == 404


def test_keyq_remind_run_due_from_the_command_line(tmp_path, telegram_fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    from tests.test_cli import keyq as run

    env = {
        "KEYQ_TELEGRAM_TOKEN": TOKEN,
        "KEYQ_TELEGRAM_API_URL": telegram_fake.base_url,
        "KEYQ_ADMINS": "console:hr",
    }
    added = run(
        tmp_path, "chat", "--as", "hr", stdin="remind add every monday at 10:00\n", env=env
    ).stdout
    assert "Reminder 1 added" in added
    assert "every monday at 10:00" in run(tmp_path, "remind", "list", env=env).stdout

    async def two_people() -> None:
        app = await build(
            Settings(
                database_url=f"sqlite:///{tmp_path / 'keyq.db'}",
                keys_file=tmp_path / "keyq.keys",
                config=tmp_path / "none.toml",
            )
        )
        try:
            await meet(app, 81)
            await meet(app, 82, "stop reminders")
        finally:
            await app.close()

    asyncio.run(two_people())
    now = dt.datetime.now(dt.UTC)
    due = preview(trigger("every monday at 10:00", LONDON, anchor=now), now, 1)[0]
    early = run(
        tmp_path, "remind", "run-due", "--at", (due - dt.timedelta(minutes=5)).isoformat(), env=env
    ).stdout
    assert "reached" not in early  # not due yet
    out = run(tmp_path, "remind", "run-due", "--at", due.isoformat(), env=env).stdout
    assert "(schedule," in out and "reached 1" in out and "opted out 1" in out
    again = run(
        tmp_path, "remind", "run-due", "--at", (due + dt.timedelta(minutes=5)).isoformat(), env=env
    )
    assert "reached" not in again.stdout  # never twice
    sent = [
        p
        for m, p in telegram_fake.calls
        if m == "sendMessage" and "A reminder" in str(p.get("text"))
    ]
    assert [int(p["chat_id"]) for p in sent] == [81]
    bad = run(tmp_path, "remind", "run-due", "--at", "tuesday", env=env, ok=False)
    assert bad.returncode != 0 and "ISO time" in bad.stderr
