"""A local fake of the Slack Web API on 127.0.0.1, in its own thread, for real slack_sdk."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

SIGNING_SECRET = "fake-signing-secret"
BOT_TOKEN = "xoxb-fake-token"


class FakeSlack:
    """Records Web API calls, answers like Slack, and can answer 429 with Retry-After."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.throttle_left = 0
        self._lock = threading.Lock()
        self._ts = 1_700_000_000
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.envelopes: list[dict[str, Any]] = []
        self.members: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []

    def start(self) -> FakeSlack:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def sent(self, *methods: str, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                p
                for m, p in self.calls
                if m in methods
                and (channel is None or p.get("channel") == channel or p.get("user_id") == channel)
            ]

    def wait_for(self, condition: Callable[[], bool], limit: float = 10) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < deadline, "the app did not do that in time"
            time.sleep(0.02)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            params = dict(request.query)
        elif request.content_type == "application/json":
            params = dict(await request.json())
        else:
            params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            for key in ("blocks", "view"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        with self._lock:
            if method == "chat.postMessage" and self.throttle_left > 0:
                self.throttle_left -= 1
                self.calls.append(("429", params))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
                )
            self.calls.append((method, params))
            self._ts += 1
            ts = f"{self._ts}.000100"
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake",
                    "user": "keyq",
                    "team_id": "T111",
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                },
                headers={"x-oauth-scopes": "chat:write,commands"},
            )
        if method == "users.list":
            return web.json_response(
                {"ok": True, "members": self.members, "response_metadata": {"next_cursor": ""}}
            )
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return web.json_response(
                {"ok": True, "channel": params.get("channel"), "ts": ts, "message_ts": ts}
            )
        return web.json_response({"ok": True})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: hello, then every queued envelope; acks are recorded."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}}
        )

        async def pump() -> None:
            while not ws.closed:
                with self._lock:
                    ready, self.envelopes = self.envelopes, []
                for envelope in ready:
                    await ws.send_json(envelope)
                await asyncio.sleep(0.02)

        task = asyncio.create_task(pump())
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                with self._lock:
                    self.acks.append(json.loads(message.data))
        task.cancel()
        return ws
