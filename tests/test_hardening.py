"""What an attacker tried (issue 15), each reproduced first: logs, body sizes, unauthenticated
errors, replays, bursts, key files and defaults."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from bot.app import App, build
from bot.guard import JSON_DEPTH_LIMIT, too_deep
from bot.housekeeping import Housekeeping
from bot.settings import Settings
from bot.web import create_app
from storage.crypto import KeyRingError
from tests.conftest import FakeClock
from tests.driver import Person
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack

TOKEN = "admin-token-0123456789abcdef"
USER = "U8SECRETUSER"


@pytest.fixture
def slack_client(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[TestClient, FakeSlack]]:
    fake = FakeSlack().start()
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.base_url,
        admin_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        yield client, fake
    fake.stop()


def sign(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
        timestamp=stamp, body=body.decode("utf-8", "replace")
    )
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def action_body(value: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": USER, "username": "secret.name"},
        "channel": {"id": "D1"},
        "container": {"message_ts": "1.1"},
        "actions": [{"action_id": "keyq-0", "value": value}],
    }
    return "payload=" + json.dumps(payload)


def test_failed_signatures_log_no_body(
    slack_client: tuple[TestClient, FakeSlack], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = slack_client
    body = action_body("kq:routine")
    with caplog.at_level(logging.DEBUG):
        forged = client.post(
            "/slack/events",
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": "v0=" + "0" * 64,
            },
        )
    assert forged.status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (USER, "secret.name", "routine", "payload"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b"x", {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=1"}, 401),
        (b"x", {"X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": "v0=1"}, 401),
        (b"x", {}, 401),
        (b"\xff\xfe{}", None, 400),  # signed, but not UTF-8
        (b"[" * 5000 + b"]" * 5000, None, 400),  # signed, nested past any sane depth
        (b"{not json", None, 400),
        (b"[1]", None, 400),  # JSON, but not an object
        (b'"text"', None, 400),
    ],
)
def test_no_unauthenticated_or_malformed_request_gets_a_500(
    slack_client: tuple[TestClient, FakeSlack],
    body: bytes,
    headers: dict[str, str] | None,
    expected: int,
) -> None:
    client, _ = slack_client
    sent = {"Content-Type": "application/json", **(headers if headers is not None else sign(body))}
    assert client.post("/slack/events", content=body, headers=sent).status_code == expected


@pytest.mark.parametrize(
    "payload",
    ["{not json", "[1]", "7", "[" * 5000 + "]" * 5000, '{"a":' * 100 + "1" + "}" * 100],
)
def test_a_signed_form_whose_payload_is_not_a_sane_json_object_is_a_400(
    slack_client: tuple[TestClient, FakeSlack], payload: str
) -> None:
    client, fake = slack_client
    body = urllib.parse.urlencode({"payload": payload}).encode()
    sent = {**sign(body), "Content-Type": "application/x-www-form-urlencoded"}
    before = len(fake.calls)
    assert client.post("/slack/events", content=body, headers=sent).status_code == 400
    assert len(fake.calls) == before  # no listener ran


def test_depth_is_counted_in_containers_and_the_limit_itself_passes() -> None:
    def nested(levels: int) -> object:
        document: object = 1
        for n in range(levels):
            document = {"k": document} if n % 2 else [0, document]
        return document

    assert not too_deep(nested(JSON_DEPTH_LIMIT))
    assert too_deep(nested(JSON_DEPTH_LIMIT + 1))
    assert too_deep({"wide": [1] * 100, "deep": nested(JSON_DEPTH_LIMIT)})  # one level more
    assert not too_deep({"wide": [[1]] * 1000})
    assert not too_deep("text") and not too_deep(7)


def test_serve_freezes_what_start_up_built_and_collects_young_objects_less_often(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`keyq serve` asks for it; the app, once started, has frozen the objects start-up built
    (the guidance's among them) and raised the youngest generation's threshold, and still
    answers. Tests that build apps without asking leave the collector as it is."""
    import gc

    from click.testing import CliRunner

    import bot.cli
    import bot.web

    asked: list[bool] = []
    real = bot.web.create_app
    monkeypatch.setattr(
        bot.web,
        "create_app",
        lambda settings, **kw: asked.append(kw["freeze_heap"]) or real(settings),
    )
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: None)
    assert (
        CliRunner()
        .invoke(bot.cli.main, ["serve"], env={"KEYQ_DATABASE_URL": "sqlite://"})
        .exit_code
        == 0
    )
    assert asked == [True]

    threshold = gc.get_threshold()
    try:
        with TestClient(create_app(make_settings())):
            assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
        with TestClient(create_app(make_settings(), freeze_heap=True)) as client:
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold()[0] == bot.web.YOUNG_COLLECTION
            assert client.get("/healthz").json()["status"] == "ok"
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_large_bodies_are_refused_unread(slack_client: tuple[TestClient, FakeSlack]) -> None:
    client, _ = slack_client
    big = b"a" * (2 * 1024 * 1024)
    declared = client.post("/slack/events", content=big, headers={"X-Slack-Signature": "v0=1"})
    assert declared.status_code == 413

    def stream() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(64):
            yield b"b" * 65536

    chunked = client.post("/slack/events", content=stream())
    assert chunked.status_code == 413
    assert client.post("/api/reminders", content=big).status_code == 401  # token first


def test_admin_api_checks_the_token_first_and_rate_limits_failures(
    slack_client: tuple[TestClient, FakeSlack],
) -> None:
    client, _ = slack_client
    # An anonymous caller learns nothing from validation: 401, not 422.
    assert client.post("/api/reminders", json={"nonsense": 1}).status_code == 401
    assert client.post(f"/api/reminders/{10**30}/pause").status_code == 401
    codes = [
        client.get("/api/report", headers={"Authorization": "Bearer wrong"}).status_code
        for _ in range(12)
    ]
    failed_before = 2  # the two anonymous calls above count as failed tokens too
    assert codes[: 10 - failed_before] == [401] * (10 - failed_before)
    assert set(codes[10 - failed_before :]) == {429}
    ok = client.get("/healthz")
    for name in ("x-content-type-options", "referrer-policy", "content-security-policy"):
        assert name in ok.headers
    assert "server" not in ok.headers


def test_short_admin_tokens_are_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="16"):
        make_settings(admin_token="short")


async def test_world_readable_key_file_is_refused(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    keyq = await build(make_settings(), clock=clock)
    await keyq.close()
    keys = tmp_path / "keyq.keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    if "sqlite" in keyq.settings.database_url:
        assert stat.S_IMODE((tmp_path / "keyq.db").stat().st_mode) == 0o600
    os.chmod(keys, 0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        await build(make_settings(), clock=clock)


async def test_superscript_digits_and_huge_messages_fail_nothing(app: App) -> None:
    person = Person(app.engine, "odd")
    await person.say("start")
    await person.say("\u00b2")
    person.expect_not("went wrong")
    await person.tap("answer now")
    await person.say("\u00b2")
    person.expect("didn't catch that")
    started = time.monotonic()
    await person.say("how can I help people in my team get promoted? " * 20_000)
    assert time.monotonic() - started < 5
    person.expect_not("went wrong")
    await person.say("done \u00b2")
    person.expect_not("went wrong")


async def test_a_replayed_tap_is_answered_and_counted_once(app: App) -> None:
    person = Person(app.engine, "replayed")
    await person.say("start")
    await person.tap("answer now")
    tap = person.choice_id("Other")
    await person.send(choice=tap, event_id="update-77")
    person.expect("thank you")
    again = await person.send(choice=tap, event_id="update-77")  # redelivered after a crash
    assert [r.text for r in again] == ["Thanks, noted."]
    assert await app.store.counts("workforce") == (1, 1)
    assert await person.say("hello", event_id="update-78") and not await person.say(
        "hello", event_id="update-78"
    )  # a replayed message is not answered twice


async def test_a_burst_from_one_person_is_not_an_error(app: App) -> None:
    person = Person(app.engine, "burst")
    await person.say("start")
    await person.tap("answer now")
    replies = await asyncio.gather(*(person.say("privacy") for _ in range(8)))
    for batch in replies:
        assert all("went wrong" not in r.text for r in batch)


async def test_housekeeping_forgets_expired_conversations(app: App, clock: FakeClock) -> None:
    person = Person(app.engine, "left")
    await person.say("start")
    clock.advance(hours=25)
    job = Housekeeping(store=app.store, batch=10)
    await job.run()
    async with app.store.unit() as unit:
        tag = app.store.keys.tag("conversation", "console", "", "left")
        assert await unit.load_conversation(tag) is None


def test_one_chat_gets_a_short_burst_then_one_message_a_second() -> None:
    from bot.pace import ChatSpacing

    now = [100.0]
    spacing = ChatSpacing(interval=1.0, burst=3, clock=lambda: now[0])
    assert [spacing.delay("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert spacing.delay("a") == pytest.approx(1.0)
    assert spacing.delay("a") == pytest.approx(2.0)
    assert spacing.delay("b") == 0.0  # another chat is not held up
    now[0] += 10
    assert spacing.delay("a") == 0.0  # idle again: a new burst
