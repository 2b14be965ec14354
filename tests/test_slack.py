"""Slack: signed requests through FastAPI and real slack-bolt, a fake Web API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from bot.events import Choice, Reply
from bot.settings import Settings
from bot.web import create_app
from channels.slack.inbound import HomeOpened, Inbound, from_action, from_command, from_event
from channels.slack.outbound import blocks
from storage.database import urls
from survey.content import question
from tests.conftest import SHARED
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.serve import serving

TEAM = "T111"
PEOPLE = "U8123456"  # Slack ids long enough not to turn up by chance in ciphertext


def fixture(name: str) -> Any:
    path = SHARED / "fixtures" / name
    if not path.exists():
        raise AssertionError("tests/data/fixtures is missing")
    text = path.read_text(encoding="utf-8")
    return text if name.endswith(".txt") else json.loads(text)


# Pure translators, from real captured payloads ---------------------------------------------


def test_dm_becomes_a_private_text_event() -> None:
    event = from_event(fixture("slack_event_message_im.json"))
    assert isinstance(event, Inbound) and event.incoming.private
    assert event.incoming.user.workspace == "T111" and event.incoming.event_id == "event-Ev111"
    assert event.channel_id == "D111"


def test_mention_in_a_channel_is_not_private() -> None:
    event = from_event(fixture("slack_event_app_mention.json"))
    assert isinstance(event, Inbound) and not event.incoming.private
    assert "<@" not in (event.incoming.text or "")


def test_block_action_becomes_a_choice() -> None:
    event = from_action(fixture("slack_interactive_block_actions.json"))
    assert isinstance(event, Inbound)
    assert event.incoming.choice == "click_me_123" and event.message_ts == "111.222"


def test_slash_command_form_body() -> None:
    body = dict(urllib.parse.parse_qsl(fixture("slack_command_form_body.txt")))
    event = from_command(body)
    assert isinstance(event, Inbound) and event.incoming.text == "Hi"


def test_bots_and_edits_are_ignored_and_home_is_recognised() -> None:
    body = fixture("slack_event_message_im.json")
    body["event"]["bot_id"] = "B1"
    assert from_event(body) is None
    home = {"team_id": "T1", "event": {"type": "app_home_opened", "user": "U1", "tab": "home"}}
    assert isinstance(from_event(home), HomeOpened)
    assert from_event({"event": {"type": "message"}}) is None


def test_buttons_carry_choice_ids() -> None:
    built = blocks(Reply(text="a < b", choices=(Choice("kq:prof", "Professional"),)))
    assert built[0]["text"]["text"] == "a &lt; b"
    assert built[1]["elements"][0]["value"] == "kq:prof"


# Through FastAPI and Bolt ---------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def client(make_settings: Callable[..., Settings], fake: FakeSlack) -> Iterator[TestClient]:
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.base_url,
        admins=(f"slack:{PEOPLE}ADMIN",),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def signed(
    body: str, *, content_type: str, stale: bool = False, retry: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time()) - (600 if stale else 0))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=body
        ),
    }
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def post_event(
    client: httpx.Client, user: str, text: str, event_id: str, retry: int | None = None
) -> int:
    body = json.dumps(
        {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1,
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "text": text,
                "channel": f"D{user}",
                "ts": "1.1",
            },
        }
    )
    return client.post(
        "/slack/events",
        content=body,
        headers=signed(body, content_type="application/json", retry=retry),
    ).status_code


def click(client: TestClient, user: str, value: str, message_ts: str, action_ts: str) -> int:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM},
        "api_app_id": "A111",
        "trigger_id": "t",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": f"D{user}",
            "is_ephemeral": False,
        },
        "channel": {"id": f"D{user}"},
        "actions": [
            {
                "action_id": "keyq-0",
                "block_id": "b",
                "value": value,
                "type": "button",
                "action_ts": action_ts,
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return client.post(
        "/slack/events",
        content=body,
        headers=signed(body, content_type="application/x-www-form-urlencoded"),
    ).status_code


def command(client: TestClient, user: str, text: str) -> Any:
    body = urllib.parse.urlencode(
        {
            "token": "x",
            "team_id": TEAM,
            "user_id": user,
            "channel_id": "C999",
            "command": "/keyq",
            "text": text,
            "trigger_id": f"trig-{time.monotonic_ns()}",
            "response_url": "http://127.0.0.1:9/none",
        }
    )
    return client.post(
        "/slack/events",
        content=body,
        headers=signed(body, content_type="application/x-www-form-urlencoded"),
    )


def last_buttons(fake: FakeSlack, user: str, having: str = "") -> tuple[str, dict[str, str]]:
    """(ts, {label: value}) of the last message with buttons (one labelled ``having``)."""
    for params in reversed(fake.sent("chat.postMessage", "chat.update", channel=f"D{user}")):
        actions = [b for b in params.get("blocks") or [] if b["type"] == "actions"]
        buttons = {e["text"]["text"]: e["value"] for a in actions for e in a["elements"]}
        if buttons and (not having or having in buttons):
            return params.get("_ts", "1.1"), buttons
    raise AssertionError("no buttons sent")


def answer(client: TestClient, fake: FakeSlack, user: str, label: str, n: int) -> None:
    assert post_event(client, user, "hello", f"Ev-{user}") == 200
    _, buttons = last_buttons(fake, user)
    assert click(client, user, buttons["Answer now"], "10.1", f"{n}.1") == 200
    _, buttons = last_buttons(fake, user)
    assert click(client, user, buttons[label], "10.2", f"{n}.2") == 200


def test_web_api_calls_reuse_their_connections(client: TestClient, fake: FakeSlack) -> None:
    """Five whole answers are 15 Web API calls; they share kept-alive connections instead of
    opening one (and, against slack.com, a TLS handshake) each."""
    for n in range(5):
        answer(client, fake, f"{PEOPLE}K{n}", "Professional", 90 + n)
    assert len(fake.calls) >= 15
    assert len(fake.peers) <= 2, len(fake.peers)


def test_thirty_people_answer_and_nothing_repeats_their_choice(
    client: TestClient, fake: FakeSlack, database_url: str
) -> None:
    q = question()
    for n in range(30):
        answer(client, fake, f"{PEOPLE}{n:02d}", q.options[n % 9].label, n)
    for n in range(30):
        user, option = f"{PEOPLE}{n:02d}", q.options[n % 9]
        updates = fake.sent("chat.update", channel=f"D{user}")
        # "Answer now" turns the intro into the question (one update, no new message); the
        # answer turns the question into the thanks, which never shows the choice.
        assert updates[0]["text"].startswith("What was the occupation")
        assert len(fake.sent("chat.postMessage", channel=f"D{user}")) == 1
        after = updates[1:]
        assert after and all(option.label not in p["text"] for p in after)
        thanks = [
            p
            for p in fake.sent("chat.postMessage", "chat.update", channel=f"D{user}")
            if "Thank you" in p["text"]
        ]
        assert len(thanks) == 1
        assert q.detail(option) not in thanks[0]["text"] and option.label not in thanks[0]["text"]
    engine = sa.create_engine(urls(database_url)[1])
    with engine.connect() as conn:
        answered = conn.scalar(sa.text("SELECT count(*) FROM participation"))
        dump = b"".join(
            v if isinstance(v, bytes) else str(v).encode()
            for t in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))
            for v in row
        )
    engine.dispose()
    assert answered == 30
    assert PEOPLE.encode() not in dump and b"T111" not in dump


def test_retries_and_double_clicks_count_once(
    client: TestClient, fake: FakeSlack, database_url: str
) -> None:
    user = f"{PEOPLE}77"
    assert post_event(client, user, "hello", "Ev-retry") == 200
    assert post_event(client, user, "hello", "Ev-retry", retry=1) == 200  # Slack retried
    intros = [
        p
        for p in fake.sent("chat.postMessage", channel=f"D{user}")
        if "One short question" in p["text"]
    ]
    assert len(intros) == 1
    _, buttons = last_buttons(fake, user)
    click(client, user, buttons["Answer now"], "1.1", "5.1")
    _, buttons = last_buttons(fake, user)
    click(client, user, buttons["Other"], "1.2", "5.2")
    click(client, user, buttons["Other"], "1.2", "5.3")  # the second click of a double click
    click(client, user, "kq:made-up", "1.2", "5.4")
    engine = sa.create_engine(urls(database_url)[1])
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM participation")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM pending_answers")) == 1
    engine.dispose()


def test_unsigned_and_stale_requests_get_401(client: TestClient) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "event_id": "Ev9",
            "team_id": TEAM,
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": "U1",
                "text": "hi",
                "channel": "D1",
            },
        }
    )
    assert (
        client.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json"}
        ).status_code
        == 401
    )
    stale = signed(body, content_type="application/json", stale=True)
    assert client.post("/slack/events", content=body, headers=stale).status_code == 401
    forged = signed(body, content_type="application/json")
    assert client.post("/slack/events", content=body + " ", headers=forged).status_code == 401


def test_url_verification(client: TestClient) -> None:
    body = json.dumps(fixture("slack_event_url_verification.json"))
    response = client.post(
        "/slack/events", content=body, headers=signed(body, content_type="application/json")
    )
    assert response.status_code == 200 and "challenge" in response.text


def test_slash_command_help_report_and_start(client: TestClient, fake: FakeSlack) -> None:
    assert "anonymous question" in command(client, "U5", "help").json()["text"]
    assert "only for the core HR team" in command(client, "U5", "report").json()["text"]
    admin = command(client, f"{PEOPLE}ADMIN", "report").json()["text"]
    assert "No answers have reached the totals yet" in admin
    started = command(client, "U6", "start")
    assert started.status_code == 200, started.text
    assert "direct message" in started.text
    assert fake.sent("chat.postMessage", channel="U6")


def test_admin_report_in_a_dm_comes_with_its_chart(client: TestClient, fake: FakeSlack) -> None:
    assert post_event(client, f"{PEOPLE}ADMIN", "report", "Ev-report") == 200
    reports = [
        p
        for p in fake.sent("chat.postMessage", channel=f"D{PEOPLE}ADMIN")
        if "No answers have reached the totals yet" in p["text"]
    ]
    assert reports
    sections = [b for b in reports[0]["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2  # one Block Kit section per paragraph, readable on a phone
    uploads = [p for m, p in fake.calls if m == "upload"]
    assert uploads and uploads[0]["png"]
    assert fake.sent("files.completeUploadExternal")


def test_public_channel_offers_a_dm(client: TestClient, fake: FakeSlack) -> None:
    body = json.dumps(
        {
            "team_id": TEAM,
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": "Ev-public",
            "event": {
                "type": "app_mention",
                "user": "U7",
                "text": "<@UBOT> start",
                "channel": "C1",
                "ts": "1.1",
            },
        }
    )
    client.post(
        "/slack/events", content=body, headers=signed(body, content_type="application/json")
    )
    offers = fake.sent("chat.postEphemeral", channel="C1")
    assert offers and "private chat" in offers[0]["text"]
    assert not fake.sent("chat.postMessage", channel="C1")


def test_app_home_shows_the_promise_and_admin_summary(client: TestClient, fake: FakeSlack) -> None:
    for user in ("U8", f"{PEOPLE}ADMIN"):
        body = json.dumps(
            {
                "team_id": TEAM,
                "type": "event_callback",
                "event_id": f"Ev-h{user}",
                "event": {"type": "app_home_opened", "user": user, "tab": "home"},
            }
        )
        client.post(
            "/slack/events", content=body, headers=signed(body, content_type="application/json")
        )
    staff, admin = (
        fake.sent("views.publish", channel=u)[0]["view"] for u in ("U8", f"{PEOPLE}ADMIN")
    )
    assert "anonymous" in json.dumps(staff) and "in the totals" not in json.dumps(staff)
    assert "in the totals" in json.dumps(admin)
    payload = {
        "type": "block_actions",
        "user": {"id": "U8", "team_id": TEAM},
        "team": {"id": TEAM},
        "container": {"type": "view", "view_id": "V1"},
        "actions": [
            {"action_id": "keyq-home", "value": "home:start", "action_ts": "9.9", "type": "button"}
        ],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    client.post(
        "/slack/events",
        content=body,
        headers=signed(body, content_type="application/x-www-form-urlencoded"),
    )
    assert any(
        "One short question" in p["text"] for p in fake.sent("chat.postMessage", channel="U8")
    )


def test_a_429_is_retried_after_the_wait(client: TestClient, fake: FakeSlack) -> None:
    fake.throttle_left = 1
    post_event(client, "U9", "help", "Ev-429")
    assert [m for m, _ in fake.calls if m == "429"]
    assert any(
        "anonymous question" in p["text"] for p in fake.sent("chat.postMessage", channel="DU9")
    )


async def test_socket_mode_receives_and_acks(
    make_settings: Callable[..., Settings], fake: FakeSlack, clock
) -> None:  # type: ignore[no-untyped-def]
    from bot.app import build
    from channels.slack.app import SlackChannel

    keyq = await build(make_settings(), clock=clock)
    channel = SlackChannel(
        engine=keyq.engine,
        token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        base_url=fake.base_url,
        app_token="xapp-fake",
    )
    await channel.start()
    try:
        envelope = fixture("slack_socketmode_envelope_app_mention.json")
        dm = {
            "envelope_id": "env-dm",
            "type": "events_api",
            "accepts_response_payload": False,
            "payload": {
                "team_id": TEAM,
                "type": "event_callback",
                "event_id": "Ev-sock",
                "event": {
                    "type": "message",
                    "channel_type": "im",
                    "user": "U42",
                    "text": "hi",
                    "channel": "DU42",
                    "ts": "1.1",
                },
            },
        }
        fake.envelopes += [envelope, dm]
        for _ in range(500):
            if len(fake.acks) >= 2 and fake.sent("chat.postMessage", channel="DU42"):
                break
            await asyncio.sleep(0.02)
        assert {a["envelope_id"] for a in fake.acks} >= {envelope["envelope_id"], "env-dm"}
        assert "One short question" in fake.sent("chat.postMessage", channel="DU42")[0]["text"]
    finally:
        await channel.stop()
        await keyq.close()


def test_manifest_points_everything_at_one_route() -> None:
    text = (Path(__file__).resolve().parents[1] / "slack-app-manifest.yml").read_text()
    assert text.count("/slack/events") == 3
    for needed in (
        "message.im",
        "app_home_opened",
        "app_mention",
        "command: /keyq",
        "chat:write",
        "commands",
        "home_tab_enabled: true",
    ):
        assert needed in text


def test_team_join_becomes_a_contact(client: TestClient, database_url: str) -> None:
    body = json.dumps(
        {
            "team_id": TEAM,
            "type": "event_callback",
            "event_id": "Ev-join",
            "event": {
                "type": "team_join",
                "user": {"id": f"{PEOPLE}JOIN", "team_id": TEAM, "tz": "Europe/Paris"},
            },
        }
    )
    assert (
        client.post(
            "/slack/events", content=body, headers=signed(body, content_type="application/json")
        ).status_code
        == 200
    )
    engine = sa.create_engine(urls(database_url)[1])
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT channel, timezone, sealed FROM contacts")).one()
    engine.dispose()
    assert row.channel == "slack" and row.timezone == "Europe/Paris"
    assert PEOPLE.encode() not in bytes(row.sealed)


def test_two_processes_share_one_reply_pace(
    make_settings: Callable[..., Settings], fake: FakeSlack, tmp_path: Path
) -> None:
    """Two ``keyq serve`` processes on one database answer 16 people at once: together they
    never post more new messages a second than KEYQ_SLACK_REPLY_RATE (here 4), counted as the
    messages reach the fake Slack."""
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings()
    if "postgresql" not in settings.database_url:
        pytest.skip("several processes share PostgreSQL; SQLite is one process")
    env = {
        "KEYQ_DATABASE_URL": settings.database_url,
        "KEYQ_KEYS_FILE": str(settings.keys_file),
        "KEYQ_SLACK_BOT_TOKEN": BOT_TOKEN,
        "KEYQ_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "KEYQ_SLACK_API_URL": fake.base_url,
        "KEYQ_SLACK_REPLY_RATE": "4",
    }
    with (
        serving(tmp_path, env) as one,
        serving(tmp_path, env) as other,
        httpx.Client(base_url=f"http://127.0.0.1:{one.port}") as to_one,
        httpx.Client(base_url=f"http://127.0.0.1:{other.port}") as to_other,
    ):
        clients = (to_one, to_other)
        started = len(fake.message_times)

        def person(n: int) -> int:
            return post_event(clients[n % 2], f"{PEOPLE}P{n:02d}", "hi", f"Ev-pace-{n}")

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(person, range(16))) == [200] * 16
        # The last replies may follow their acknowledgement.
        fake.wait_for(lambda: len(fake.message_times) - started >= 16)
        times = sorted(fake.message_times[started:])
    assert len(times) == 16
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 5, busiest  # 4 a second, plus one at a window's edge
    assert times[-1] - times[0] >= 3.0  # 16 messages at 4 a second take about 3.75 s
    for process in (one, other):
        assert PEOPLE not in process.output and BOT_TOKEN not in process.output


@pytest.mark.parametrize("asked", ["what's the benchmark for law firms?", "law firm benchmark"])
def test_a_manager_question_in_a_dm_gets_the_fact_and_the_step_back(
    client: TestClient, fake: FakeSlack, asked: str
) -> None:
    """On Slack as in the engine: a question typed while the greeting is open, with or without
    a question mark, is answered (the benchmark figure for a named sector) and the greeting's
    buttons come back under it."""
    user = f"{PEOPLE}Q{len(asked)}"
    assert post_event(client, user, "hi", f"Ev-q-1-{user}") == 200
    assert post_event(client, user, asked, f"Ev-q-2-{user}") == 200
    posted = fake.sent("chat.postMessage", channel=f"D{user}")
    texts = [str(p.get("text")) for p in posted]
    assert any("Legal: 59% professional" in t for t in texts), texts
    last = posted[-1]
    labels = [e["text"]["text"] for b in last.get("blocks") or [] for e in b.get("elements") or []]
    assert "Answer now" in labels and "I prefer not to say" in labels  # the open step, again


def test_a_short_topic_at_the_key_question_gets_a_tip_and_the_question_back(
    client: TestClient, fake: FakeSlack
) -> None:
    """On Slack as in the engine: "grad scheme" typed with the key question open is a topic (a
    tip, then the question's buttons again, as after its "Another tip"), while "team leader",
    which may be the earner's job, gets the question again without a tip."""
    user = f"{PEOPLE}KQ"
    assert post_event(client, user, "hi", f"Ev-kq-1-{user}") == 200
    ts, buttons = last_buttons(fake, user)
    assert click(client, user, buttons["Answer now"], ts, "31.1") == 200
    assert post_event(client, user, "grad scheme", f"Ev-kq-2-{user}") == 200
    posted = fake.sent("chat.postMessage", channel=f"D{user}")
    assert any(str(p.get("text")).startswith("Widening the talent pool") for p in posted)
    _, buttons = last_buttons(fake, user)
    assert "I prefer not to say" in buttons  # the key question, offered again
    ts, tip = last_buttons(fake, user, having="Another tip")
    seen = len(posted)
    assert click(client, user, tip["Another tip"], ts, "32.1") == 200  # and after a tip's button
    texts = [str(p.get("text")) for p in fake.sent("chat.postMessage", channel=f"D{user}")[seen:]]
    assert len(texts) == 2 and texts[-1] == "When you're ready, carry on here:", texts
    assert "I prefer not to say" in last_buttons(fake, user)[1]  # the new tip, then the step
    seen = len(fake.sent("chat.postMessage", channel=f"D{user}"))
    assert post_event(client, user, "team leader", f"Ev-kq-3-{user}") == 200
    texts = [str(p.get("text")) for p in fake.sent("chat.postMessage", channel=f"D{user}")[seen:]]
    assert texts and not any(t.startswith("Progression") for t in texts), texts
    _, buttons = last_buttons(fake, user)
    assert "I prefer not to say" in buttons


def test_a_reply_waiting_for_its_slot_never_holds_the_acknowledgement(
    make_settings: Callable[..., Settings], fake: FakeSlack
) -> None:
    """At a slow pace (one message every 4 s), the second of two DMs is acknowledged within
    Slack's 3 s all the same; its reply follows when its slot comes, once."""
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.base_url,
        slack_reply_rate=0.25,
    )
    with TestClient(create_app(settings)) as client:
        assert post_event(client, f"{PEOPLE}S1", "hi", "Ev-slow-1") == 200
        started = time.monotonic()
        assert post_event(client, f"{PEOPLE}S2", "hi", "Ev-slow-2") == 200
        assert time.monotonic() - started < 3.0
        assert not fake.sent("chat.postMessage", channel=f"D{PEOPLE}S2")  # not yet
        for _ in range(100):
            if fake.sent("chat.postMessage", channel=f"D{PEOPLE}S2"):
                break
            time.sleep(0.1)
        assert len(fake.sent("chat.postMessage", channel=f"D{PEOPLE}S2")) == 1
