"""A local fake of the Slack Web API on 127.0.0.1, in its own thread, for real slack_sdk."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.server import ThreadedFake

SIGNING_SECRET = "fake-signing-secret"
BOT_TOKEN = "xoxb-fake-token"


class FakeSlack(ThreadedFake):
    """Records Web API calls, answers like Slack, and can answer 429 with Retry-After."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # The same calls, by the channel or user they name: a load test asking for one
        # person's last buttons must not scan every call made so far.
        self._by_channel: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.throttle_left = 0
        self._ts = 1_700_000_000
        self.envelopes: list[dict[str, Any]] = []
        self.members: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.message_times: list[float] = []  # every new message (postMessage, postEphemeral)
        self.peers: set[object] = set()  # the client ends of the connections Web API calls used

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload", self._upload)

    def sent(self, *methods: str, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            calls = self.calls if channel is None else self._by_channel.get(channel, [])
            return [p for m, p in calls if m in methods]

    def _record(self, method: str, params: dict[str, Any]) -> None:
        """Keeps a call (under the lock), in order and under each channel or user it names."""
        self.calls.append((method, params))
        for key in {params.get("channel"), params.get("user_id")}:
            if isinstance(key, str):
                self._by_channel.setdefault(key, []).append((method, params))

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.transport is not None:
            with self._lock:
                self.peers.add(request.transport.get_extra_info("peername"))
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
                self._record("429", params)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
                )
            self._record(method, params)
            if method in ("chat.postMessage", "chat.postEphemeral"):
                self.message_times.append(time.monotonic())
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
        if method == "files.getUploadURLExternal":
            return web.json_response(
                {"ok": True, "file_id": "F1", "upload_url": f"http://127.0.0.1:{self.port}/upload"}
            )
        if method == "files.completeUploadExternal":
            return web.json_response({"ok": True, "files": [{"id": "F1"}]})
        if method == "conversations.members":
            return web.json_response(
                {
                    "ok": True,
                    "members": [m["id"] for m in self.members if m.get("in_channel")],
                    "response_metadata": {"next_cursor": ""},
                }
            )
        if method == "users.info":
            user = next(m for m in self.members if m["id"] == params.get("user"))
            return web.json_response({"ok": True, "user": user})
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

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.calls.append(("upload", {"size": len(body), "png": b"PNG" in body[:64]}))
        return web.Response(text="OK")
