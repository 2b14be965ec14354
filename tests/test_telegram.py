"""Telegram: real python-telegram-bot against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from telegram import Bot, Update

from bot.app import App, build
from bot.events import Choice, Reply
from bot.settings import Settings
from channels.telegram.app import TelegramChannel
from channels.telegram.inbound import Inbound, Membership, translate
from channels.telegram.outbound import calls, split
from storage.database import urls
from survey.content import question
from tests.conftest import SHARED
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.serve import serving

FIXTURES = SHARED / "fixtures"
OFFLINE_BOT = Bot(TOKEN)
PEOPLE = 8_123_456_700  # Telegram ids long enough not to turn up by chance in ciphertext


def fixture(name: str) -> dict:  # type: ignore[type-arg]
    if not FIXTURES.is_dir():
        raise AssertionError("tests/data/fixtures is missing")
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# Pure translators, from real captured updates ---------------------------------------------


def test_text_message_becomes_a_private_text_event() -> None:
    event = translate(Update.de_json(fixture("telegram_update_message_text.json"), OFFLINE_BOT))
    assert isinstance(event, Inbound)
    assert event.incoming.text and event.incoming.private and event.chat_id == 123
    assert event.incoming.user.user_id == "123" and event.incoming.event_id == "update-12345667"
    assert "John" not in repr(event.incoming) and "123" not in repr(event.incoming)


def test_inline_callback_becomes_a_choice() -> None:
    data = fixture("telegram_update_callback_query_inline.json")
    event = translate(Update.de_json(data, OFFLINE_BOT))
    assert isinstance(event, Inbound)
    assert event.incoming.choice == "Data from button callback"
    assert event.inline_message_id == "1234csdbsk4839" and event.callback_id


def test_blocking_the_bot_marks_unreachable() -> None:
    data = fixture("telegram_update_my_chat_member_kicked.json")
    event = translate(Update.de_json(data, OFFLINE_BOT))
    assert isinstance(event, Membership) and event.reachable is False


def test_the_legacy_sample_is_malformed_for_ptb() -> None:
    with pytest.raises(TypeError):
        Update.de_json(fixture("telegram_update_message_start_official.json"), OFFLINE_BOT)


def test_a_tap_edits_the_question_and_answers_the_callback() -> None:
    inbound = Inbound(
        incoming=translate(
            Update.de_json(fixture("telegram_update_message_text.json"), OFFLINE_BOT)
        ).incoming,  # type: ignore[union-attr]
        chat_id=5,
        callback_id="cb",
        message_id=77,
    )
    planned = calls(
        [
            Reply(text="Thanks, noted.", replaces_prompt=True),
            Reply(text="Next?", choices=(Choice("level:0", "Frontline"),)),
        ],
        inbound,
        "keyq_bot",
    )
    # The tapped message becomes the next step: one edit, no new bubble.
    assert [c.method for c in planned] == ["answerCallbackQuery", "editMessageText"]
    assert planned[1].kwargs["message_id"] == 77
    assert planned[1].kwargs["text"] == "Thanks, noted.\n\nNext?"
    assert planned[1].kwargs["reply_markup"] == {
        "inline_keyboard": [[{"text": "Frontline", "callback_data": "level:0"}]]
    }
    assert split("a\n" * 3000, 4096)[0].endswith("a") and all(
        len(p) <= 4096 for p in split("a\n" * 3000)
    )


# The real PTB against the fake -------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
async def telegram(
    make_settings: Callable[..., Settings], fake: FakeTelegram, clock
) -> AsyncIterator[tuple[App, TelegramChannel]]:  # type: ignore[no-untyped-def]
    keyq = await build(make_settings(admins=("telegram:900",)), clock=clock)
    channel = TelegramChannel(
        engine=keyq.engine, token=TOKEN, base_url=fake.base_url, poll_timeout=1
    )
    await channel.start()
    yield keyq, channel
    await channel.stop()
    await keyq.close()


async def wait(condition: Callable[[], bool], limit: float = 10) -> None:
    for _ in range(int(limit / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not do that in time")


async def answer(fake: FakeTelegram, user: int, option_label: str) -> None:
    """One person: /start, tap "Answer now", tap their option."""
    seen = len(fake.calls_to(user))
    fake.push(fake.text(user, "/start"))
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) > seen)
    message_id, buttons = fake.last_keyboard(user)
    fake.push(fake.tap(user, dict(buttons)["Answer now"], message_id))
    await wait(lambda: any(len(b) == 10 for b in [fake.last_keyboard(user)[1]]))
    await answer_open_question(fake, user, option_label)


async def test_thirty_people_answer_with_buttons_by_polling(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    keyq, _ = telegram
    labels = [o.label for o in question().options]
    for n in range(30):
        await answer(fake, PEOPLE + n, labels[n % 9])
    await keyq.engine.settle()  # the last batch moves beside the last turn
    assert await keyq.store.counts("workforce") == (30, 0)
    q = question()
    for n in range(30):
        user, option = PEOPLE + n, q.options[n % 9]
        sent = fake.calls_to(user, "sendMessage", "editMessageText")
        asked = max(
            i
            for i, p in enumerate(sent)
            if len((p.get("reply_markup") or {}).get("inline_keyboard", [])) == 10
        )
        for params in sent[asked + 1 :]:
            text = str(params.get("text", "")).casefold()
            assert option.label.casefold() not in text and q.detail(option).casefold() not in text
        edits = fake.calls_to(user, "editMessageText")
        assert edits and edits[-1].get("reply_markup") in (None, "")  # the answer left no keys
    engine = sa.create_engine(urls(keyq.settings.database_url)[1])
    with engine.connect() as conn:
        dump = b"".join(
            str(v).encode() if not isinstance(v, bytes) else v
            for t in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))
            for v in row
        )
    engine.dispose()
    for n in range(30):
        assert str(PEOPLE + n).encode() not in dump
        assert f"Person {PEOPLE + n}".encode() not in dump


async def test_duplicates_double_taps_and_forged_data_change_nothing(
    telegram, fake: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    keyq, _ = telegram
    user = 2001
    fake.push(fake.text(user, "/start"))
    await wait(lambda: bool(fake.calls_to(user, "sendMessage")))
    message_id, buttons = fake.last_keyboard(user)
    fake.push(fake.tap(user, dict(buttons)["Answer now"], message_id))
    await wait(lambda: len(fake.last_keyboard(user)[1]) == 10)
    message_id, buttons = fake.last_keyboard(user)
    tap = fake.tap(user, dict(buttons)["Other"], message_id)
    update_id = fake.push(tap)
    await wait(
        lambda: (keyq.store.counts, True)[1] and bool(fake.calls_to(user, "editMessageText"))
    )
    fake.push({**tap, "update_id": update_id})  # the same update delivered twice
    fake.push(fake.tap(user, dict(buttons)["Other"], message_id))  # a double tap
    fake.push(fake.tap(user, "kq:forged", message_id))  # data keyq never sent
    fake.push(fake.tap(user, "\u0000" * 10, message_id))
    await wait(
        lambda: (
            sum(
                "already answered" in str(p.get("text")) or "recognise" in str(p.get("text"))
                for p in fake.calls_to(user, "sendMessage")
            )
            >= 2
        )
    )
    await asyncio.sleep(0.3)
    assert await keyq.store.counts("workforce") == (1, 1)
    answered = [
        p
        for p in fake.calls_to(user, "sendMessage", "editMessageText")
        if "Thank you" in str(p.get("text"))
    ]
    assert len(answered) == 1


async def test_group_chat_gets_a_private_link_and_no_question(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    fake.push(fake.text(3001, "/start", chat_type="group", chat_id=-555))
    await wait(lambda: bool(fake.calls_to(-555, "sendMessage")))
    sent = fake.calls_to(-555, "sendMessage")[0]
    assert "private chat" in sent["text"]
    url = sent["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url == "https://t.me/keyq_test_bot?start=start"


async def test_blocking_and_unblocking(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    keyq, _ = telegram
    fake.push(fake.text(4001, "/start"))
    await wait(lambda: bool(fake.calls_to(4001, "sendMessage")))
    tag = keyq.engine.person_tag(
        translate(
            Update.de_json({"update_id": 1, **fake.text(4001, "x")}, OFFLINE_BOT)
        ).incoming.user
    )  # type: ignore[union-attr]

    async def reachable() -> bool:
        async with keyq.store.engine.connect() as conn:
            return bool(
                await conn.scalar(
                    sa.text("SELECT reachable FROM contacts WHERE tag = :t"), {"t": tag}
                )
            )

    assert await reachable()
    fake.push(fake.blocked(4001))
    for _ in range(200):
        if not await reachable():
            break
        await asyncio.sleep(0.02)
    assert not await reachable()
    fake.push(fake.blocked(4001, status="member"))
    for _ in range(200):
        if await reachable():
            break
        await asyncio.sleep(0.02)
    assert await reachable()


async def test_a_429_is_waited_out_not_dropped(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    fake.throttle_left = 1
    fake.push(fake.text(5001, "help"))
    await wait(lambda: bool(fake.calls_to(5001, "sendMessage")), limit=15)
    assert [m for m, _ in fake.calls if m == "429"]
    assert "I ask one anonymous question" in fake.calls_to(5001, "sendMessage")[0]["text"]


async def test_admin_report_and_refusal(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    fake.push(fake.text(900, "/report"))
    await wait(lambda: bool(fake.calls_to(900, "sendMessage")))
    assert "No answers have reached the totals yet" in fake.calls_to(900, "sendMessage")[0]["text"]
    assert fake.calls_to(900, "sendPhoto")
    fake.push(fake.text(901, "/report"))
    await wait(lambda: bool(fake.calls_to(901, "sendMessage")))
    assert "only for the core HR team" in fake.calls_to(901, "sendMessage")[0]["text"]


async def test_malformed_update_does_not_jam_polling(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    fake.push(
        {
            "message": {
                "message_id": 1,
                "chat": {"id": 6001, "type": "private"},
                "from": {"id": 6001, "first_name": "no is_bot"},
                "text": "hi",
            }
        }
    )
    fake.push(fake.text(6002, "help"))
    await wait(lambda: bool(fake.calls_to(6002, "sendMessage")))
    assert not fake.calls_to(6001)


async def test_commands_are_registered(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    registered = [p for m, p in fake.calls if m == "setMyCommands"]
    assert {c["command"] for c in registered[0]["commands"]} == {
        "start",
        "help",
        "privacy",
        "next",
        "report",
    }


async def test_deep_link_starts_a_named_campaign(telegram, fake: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    keyq, _ = telegram
    await keyq.store.start_campaign("applicants-2027", "Applicants", make_default=False)
    fake.push(fake.text(7001, "/start applicants-2027"))
    await wait(lambda: bool(fake.calls_to(7001, "sendMessage")))
    message_id, buttons = fake.last_keyboard(7001)
    fake.push(fake.tap(7001, dict(buttons)["Answer now"], message_id))
    await wait(lambda: len(fake.last_keyboard(7001)[1]) == 10)
    message_id, buttons = fake.last_keyboard(7001)
    fake.push(fake.tap(7001, dict(buttons)["Other"], message_id))
    await wait(
        lambda: any(
            "Thank you" in str(p.get("text"))
            for p in fake.calls_to(7001, "sendMessage", "editMessageText")
        )
    )
    assert (await keyq.store.counts("applicants-2027"))[0] == 1
    assert (await keyq.store.counts("workforce"))[0] == 0


# Webhook mode --------------------------------------------------------------------------------


@pytest.fixture
async def webhook(
    make_settings: Callable[..., Settings], fake: FakeTelegram, clock
) -> AsyncIterator[tuple[App, TelegramChannel]]:  # type: ignore[no-untyped-def]
    """keyq with Telegram in webhook mode (secret "s3cret"), against the fake."""
    keyq = await build(make_settings(), clock=clock)
    channel = TelegramChannel(
        engine=keyq.engine,
        token=TOKEN,
        base_url=fake.base_url,
        webhook_url="https://keyq.example/telegram/webhook",
        webhook_secret="s3cret",
    )
    await channel.start()
    yield keyq, channel
    await channel.stop()
    await keyq.close()


async def test_webhook_refuses_wrong_secret_and_malformed_bodies(
    webhook: tuple[App, TelegramChannel], fake: FakeTelegram
) -> None:
    _, channel = webhook
    registered = next(p for m, p in fake.calls if m == "setWebhook")
    assert registered["secret_token"] == "s3cret"
    body = json.dumps({"update_id": 99, **fake.text(8001, "help")}).encode()
    assert await channel.receive("wrong", body) == 403
    assert await channel.receive("", body) == 403
    assert await channel.receive("s3cret", b"{not json") == 400
    assert await channel.receive("s3cret", b'{"update_id": "x", "message": 5}') == 400
    assert not fake.calls_to(8001)
    assert await channel.receive("s3cret", body) == 200
    assert await channel.receive("s3cret", body) == 200  # a redelivery: no second reply
    assert len(fake.calls_to(8001, "sendMessage")) == 1


# keyq serve, as an operator runs it ----------------------------------------------------------


def test_keyq_serve_polls_telegram(tmp_path: Path, fake: FakeTelegram) -> None:
    env = {"KEYQ_TELEGRAM_TOKEN": TOKEN, "KEYQ_TELEGRAM_API_URL": fake.base_url}
    with serving(tmp_path, env) as server:
        fake.push(fake.text(PEOPLE, "/start"))
        fake.wait_for(lambda: bool(fake.calls_to(PEOPLE, "sendMessage")))
        assert "One short question" in fake.calls_to(PEOPLE, "sendMessage")[0]["text"]
    output = server.output
    assert TOKEN not in output and str(PEOPLE) not in output


def test_keyq_serve_takes_webhooks(tmp_path: Path, fake: FakeTelegram) -> None:
    with serving(
        tmp_path,
        {
            "KEYQ_TELEGRAM_TOKEN": TOKEN,
            "KEYQ_TELEGRAM_API_URL": fake.base_url,
            "KEYQ_TELEGRAM_WEBHOOK_URL": "https://keyq.example/telegram/webhook",
            "KEYQ_TELEGRAM_WEBHOOK_SECRET": "hook-secret",
        },
    ) as server:
        url = f"http://127.0.0.1:{server.port}/telegram/webhook"
        body = {"update_id": 5, **fake.text(PEOPLE + 1, "/start")}
        assert (
            httpx.post(
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "no"}
            ).status_code
            == 403
        )
        assert (
            httpx.post(
                url, content=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
            ).status_code
            == 400
        )
        assert (
            httpx.post(
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
            ).status_code
            == 200
        )
        assert len(fake.calls_to(PEOPLE + 1, "sendMessage")) == 1
        # Two taps finish the answer; each webhook answer carries the callback answer itself.
        headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
        for update_id, label in ((6, "Answer now"), (7, "Other")):
            message_id, buttons = fake.last_keyboard(PEOPLE + 1)
            tap = {"update_id": update_id, **fake.tap(PEOPLE + 1, dict(buttons)[label], message_id)}
            answered = httpx.post(url, json=tap, headers=headers)
            assert answered.status_code == 200
            assert answered.json()["method"] == "answerCallbackQuery"
        made = [m for m, p in fake.calls if str(p.get("chat_id")) == str(PEOPLE + 1)]
        # One full answer: at most 4 Bot API calls, at most 2 of them messages.
        assert len(made) <= 4 and made.count("sendMessage") <= 2, made
        assert "answerCallbackQuery" not in [m for m, _ in fake.calls]
        assert "Thank you" in fake.calls_to(PEOPLE + 1, "editMessageText")[-1]["text"]


async def test_thirty_people_answer_by_webhook(
    webhook: tuple[App, TelegramChannel], fake: FakeTelegram
) -> None:
    keyq, channel = webhook
    update_ids = iter(range(1, 1000))

    async def deliver(update: dict) -> None:  # type: ignore[type-arg]
        body = json.dumps({"update_id": next(update_ids), **update}).encode()
        assert await channel.receive("s3cret", body) == 200

    q = question()
    for n in range(30):
        user, option = PEOPLE + 500 + n, q.options[n % 9]
        await deliver(fake.text(user, "/start"))
        message_id, buttons = fake.last_keyboard(user)
        await deliver(fake.tap(user, dict(buttons)["Answer now"], message_id))
        message_id, buttons = fake.last_keyboard(user)
        await deliver(fake.tap(user, dict(buttons)[option.label], message_id))
        after = [
            p
            for p in fake.calls_to(user, "sendMessage", "editMessageText")
            if "Thank you" in str(p.get("text")) or "noted" in str(p.get("text"))
        ]
        assert len(after) == 1 and "Thanks, noted." in after[0]["text"]  # one bubble
        assert all(option.label not in p["text"] for p in after)
        # A whole answer: /start, two taps. One message sent, two edits, two callback answers.
        made = [m for m, p in fake.calls if str(p.get("chat_id")) == str(user)]
        assert made.count("sendMessage") == 1 and made.count("editMessageText") == 2
    await keyq.engine.settle()  # the last batch moves beside the last turn
    assert await keyq.store.counts("workforce") == (30, 0)


def test_two_processes_share_one_reply_pace(
    make_settings: Callable[..., Settings], fake: FakeTelegram, tmp_path: Path
) -> None:
    """Two ``keyq serve`` processes on one database answer 16 people at once: together they
    never send more reply messages a second than KEYQ_TELEGRAM_REPLY_RATE (here 5), counted as
    the calls reach the fake Bot API."""
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings()
    if "postgresql" not in settings.database_url:
        pytest.skip("several processes share PostgreSQL; SQLite is one process")
    env = {
        "KEYQ_DATABASE_URL": settings.database_url,
        "KEYQ_KEYS_FILE": str(settings.keys_file),
        "KEYQ_TELEGRAM_TOKEN": TOKEN,
        "KEYQ_TELEGRAM_API_URL": fake.base_url,
        "KEYQ_TELEGRAM_WEBHOOK_URL": "https://keyq.example/telegram/webhook",
        "KEYQ_TELEGRAM_WEBHOOK_SECRET": "s3cret",
        "KEYQ_TELEGRAM_REPLY_RATE": "5",
    }
    with serving(tmp_path, env) as one, serving(tmp_path, env) as other:
        hooks = [f"http://127.0.0.1:{p.port}/telegram/webhook" for p in (one, other)]
        started = len(fake.message_times)

        def person(n: int) -> int:
            body = {"update_id": 10_000 + n, **fake.text(PEOPLE + 900 + n, "hi")}
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            return httpx.post(hooks[n % 2], json=body, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(person, range(16))) == [200] * 16
        fake.wait_for(lambda: len(fake.message_times) - started >= 16)
        times = sorted(fake.message_times[started:])
    assert len(times) == 16
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 6, busiest  # 5 a second, plus one at a window's edge
    assert times[-1] - times[0] >= 2.5  # 16 messages at 5 a second take about 3 s
    for process in (one, other):
        assert str(PEOPLE + 900) not in process.output and TOKEN not in process.output


async def test_a_question_typed_while_a_step_is_open_is_answered_and_the_step_stays(
    telegram, fake: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    """On Telegram as in the engine: a manager's question typed at the greeting and half-way
    through gets its answer, and the open step comes back underneath with its buttons; so does
    a short topic ("grad scheme") with the key question open, and so after its "Another tip"."""
    user = 5100
    fake.push(fake.text(user, "/start"))
    await wait(lambda: bool(fake.calls_to(user, "sendMessage")))
    fake.push(fake.text(user, "what is a cliff edge?"))
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) >= 3)
    texts = [str(p["text"]) for p in fake.calls_to(user, "sendMessage")]
    assert any("Cliff edge or pyramid" in t and "Source:" in t for t in texts)
    message_id, buttons = fake.last_keyboard(user)
    assert "Answer now" in dict(buttons)  # the greeting's step, offered again
    fake.push(fake.tap(user, dict(buttons)["Answer now"], message_id))
    await wait(lambda: len(fake.last_keyboard(user)[1]) == 10)
    seen = len(fake.calls_to(user, "sendMessage"))
    fake.push(fake.text(user, "How can I help people in my team get promoted?"))
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) >= seen + 2)
    texts = [str(p["text"]) for p in fake.calls_to(user, "sendMessage")[seen:]]
    assert any(t.startswith("Progression") for t in texts), texts
    assert "I prefer not to say" in dict(fake.last_keyboard(user)[1])  # the question is back
    seen = len(fake.calls_to(user, "sendMessage"))
    fake.push(fake.text(user, "how do I convince my CEO this matters"))  # names a job, asks
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) >= seen + 2)
    texts = [str(p["text"]) for p in fake.calls_to(user, "sendMessage")[seen:]]
    assert any(t.startswith("Vision and leadership") for t in texts), texts
    assert not any("Did you mean" in t for t in texts)
    assert "I prefer not to say" in dict(fake.last_keyboard(user)[1])
    seen = len(fake.calls_to(user, "sendMessage"))
    fake.push(fake.text(user, "grad scheme"))  # a short topic, not a job: a tip
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) >= seen + 2)
    texts = [str(p["text"]) for p in fake.calls_to(user, "sendMessage")[seen:]]
    assert any(t.startswith("Widening the talent pool") for t in texts), texts
    assert "I prefer not to say" in dict(fake.last_keyboard(user)[1])
    tip = next(t for t in texts if t.startswith("Widening the talent pool"))
    message_id, tip_buttons = fake.last_keyboard(user, having="Another tip")
    seen = len(fake.calls_to(user, "sendMessage"))
    fake.push(fake.tap(user, dict(tip_buttons)["Another tip"], message_id))  # a tip's button
    await wait(lambda: len(fake.calls_to(user, "sendMessage")) >= seen + 2)
    texts = [str(p["text"]) for p in fake.calls_to(user, "sendMessage")[seen:]]
    assert len(texts) == 2 and texts[0] != tip, texts  # another tip, then the open step
    assert texts[-1] == "When you're ready, carry on here:", texts
    assert "I prefer not to say" in dict(fake.last_keyboard(user)[1])
    await answer_open_question(fake, user, "Technical or craft")


async def answer_open_question(fake: FakeTelegram, user: int, label: str) -> None:
    message_id, buttons = fake.last_keyboard(user)
    fake.push(fake.tap(user, dict(buttons)[label], message_id))
    await wait(
        lambda: any(
            "Thank you" in str(p.get("text"))
            for p in fake.calls_to(user, "sendMessage", "editMessageText")
        )
    )
