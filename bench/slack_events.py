"""Slack over HTTP: whole answers a second through `keyq serve`, against a bare Bolt AsyncApp
behind FastAPI in the same run, both posting to the same loopback fake Web API.

Run: python bench/slack_events.py [--answers 120] [--rounds 5] [--database postgresql://...]

One keyq answer is three signed requests (a DM, then two button clicks); the bare baseline
acks three DMs and posts once for each. CPU is read from /proc for each server process; on
PostgreSQL, the database server's own CPU during keyq's rounds is printed too (a local server:
it shares the machine's cores with both sides, and only keyq uses it).
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.telegram_webhook import arguments, compare, driver, rss_mb, servers  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack  # noqa: E402

BARE = textwrap.dedent(
    """
    import sys
    import uvicorn
    from fastapi import FastAPI, Request
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    token, secret, base, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    bolt = AsyncApp(
        client=AsyncWebClient(token=token, base_url=base),
        signing_secret=secret,
        process_before_response=True,
    )

    @bolt.event("message")
    async def reply(body, client):
        await client.chat_postMessage(channel=body["event"]["channel"], text="ok")

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request):
        return await handler.handle(request)

    @api.get("/healthz")
    async def health():
        return {"ok": True}

    uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning")
    """
)


def signed(body: str, content_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


def dm(user: str, text: str, n: int) -> tuple[str, dict[str, str]]:
    body = json.dumps(
        {
            "token": "x",
            "team_id": "T111",
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": f"Ev{user}{n}",
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
    return body, signed(body, "application/json")


def click(user: str, value: str, message_ts: str, n: int) -> tuple[str, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T111"},
        "team": {"id": "T111"},
        "api_app_id": "A111",
        "trigger_id": "t",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": f"D{user}"},
        "channel": {"id": f"D{user}"},
        "actions": [
            {
                "action_id": "keyq-0",
                "block_id": "b",
                "value": value,
                "type": "button",
                "action_ts": f"2.{n}",
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return body, signed(body, "application/x-www-form-urlencoded")


def buttons(fake: FakeSlack, user: str) -> tuple[str, dict[str, str]]:
    for params in reversed(fake.sent("chat.postMessage", "chat.update", channel=f"D{user}")):
        blocks: list[dict[str, Any]] = params.get("blocks") or []
        actions = [b for b in blocks if b["type"] == "actions"]
        if actions:
            found = {e["text"]["text"]: e["value"] for a in actions for e in a["elements"]}
            return str(params.get("ts") or params.get("_ts", "1.1")), found
    raise RuntimeError("no buttons")


async def drive(
    port: int, fake: FakeSlack, users: list[str], concurrency: int, *, keyq: bool
) -> tuple[float, list[float]]:
    url = f"http://127.0.0.1:{port}/slack/events"
    latencies: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)

    async def post(client: aiohttp.ClientSession, request: tuple[str, dict[str, str]]) -> None:
        started = time.perf_counter()
        async with client.post(url, data=request[0], headers=request[1]) as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200, response.status

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            user = queue.get_nowait()
            await post(client, dm(user, "hello", 0))
            for n, label in enumerate(("Answer now", "Other"), start=1):
                if keyq:
                    ts, found = buttons(fake, user)
                    await post(client, click(user, found[label], ts, n))
                else:
                    await post(client, dm(user, label, n))

    started = time.perf_counter()
    async with driver(concurrency) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return len(users) / (time.perf_counter() - started), latencies


def main() -> None:
    args = arguments()
    fake = FakeSlack().start()
    settings = {
        "KEYQ_SLACK_BOT_TOKEN": BOT_TOKEN,
        "KEYQ_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "KEYQ_SLACK_API_URL": fake.base_url,
        "KEYQ_SLACK_REPLY_RATE": "0",  # pacing off: the servers' own figures
    }
    bare_args = [BARE, BOT_TOKEN, SIGNING_SECRET, fake.base_url]
    try:
        with servers(settings, bare_args, args.database) as (keyq, bare):

            async def run(port: int, users: list[str], concurrency: int, keyq_side: bool) -> Any:
                return await drive(port, fake, users, concurrency, keyq=keyq_side)

            compare(
                keyq,
                bare,
                lambda first, count: [f"U9{n:07d}" for n in range(first, first + count)],
                run,
                args.answers,
                unit="request",
                rounds=args.rounds,
                database=args.database is not None,
            )
            print(
                f"RSS keyq {rss_mb(keyq[1].pid):.0f} MB, bare {rss_mb(bare[1].pid):.0f} MB "
                "after the run"
            )
        made = [m for m, p in fake.calls if p.get("channel") == "DU90000000"]
        print(
            f"Web API calls for one keyq answer: {len(made)} ({made.count('chat.postMessage')} "
            "new message)"
        )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
