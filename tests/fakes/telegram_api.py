"""A local fake of the Telegram Bot API on 127.0.0.1, in its own thread, for real PTB to talk to."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.server import ThreadedFake

TOKEN = "123456:TEST-token"


class FakeTelegram(ThreadedFake):
    """Queues updates for getUpdates, records every call, and can answer 429."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._by_chat: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # calls, per chat
        self.throttle_left = 0
        self.retry_after = 1
        self.message_times: list[float] = []  # every call that puts or changes a message
        self.rate_limit: float | None = None  # sends per second allowed, like Telegram's ~30
        self.sent_times: list[float] = []
        self.too_many = 0
        self._next_message = 1000
        self._next_update = 1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    # What tests do -------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        with self._lock:
            if "update_id" not in update:
                update = {"update_id": self._next_update, **update}
            self._next_update = max(self._next_update, update["update_id"]) + 1
            self.updates.append(update)
            return int(update["update_id"])

    def text(
        self, user_id: int, text: str, chat_type: str = "private", chat_id: int | None = None
    ) -> dict[str, Any]:
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            if text.startswith("/")
            else []
        )
        return {
            "message": {
                "message_id": self._msg_id(),
                "date": int(time.time()),
                "from": {"id": user_id, "is_bot": False, "first_name": f"Person {user_id}"},
                "chat": {"id": chat_id or user_id, "type": chat_type},
                "text": text,
                "entities": entities,
            }
        }

    def tap(self, user_id: int, data: str, message_id: int) -> dict[str, Any]:
        return {
            "callback_query": {
                "id": f"cb-{user_id}-{self._msg_id()}",
                "chat_instance": "ci",
                "from": {"id": user_id, "is_bot": False, "first_name": f"Person {user_id}"},
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "text": "(question)",
                },
            }
        }

    def blocked(self, user_id: int, status: str = "kicked") -> dict[str, Any]:
        bot = {"id": 42, "is_bot": True, "first_name": "keyq"}
        return {
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private"},
                "date": int(time.time()),
                "from": {"id": user_id, "is_bot": False, "first_name": "P"},
                "old_chat_member": {"user": bot, "status": "member"},
                "new_chat_member": {"user": bot, "status": status, "until_date": 0},
            }
        }

    def calls_to(self, chat_id: int, *methods: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                p for m, p in self._by_chat.get(str(chat_id), []) if not methods or m in methods
            ]

    def last_keyboard(self, chat_id: int, having: str = "") -> tuple[int, list[tuple[str, str]]]:
        """(message id, [(label, callback data)]) of the last message with buttons (one
        labelled ``having``)."""
        for params in reversed(self.calls_to(chat_id, "sendMessage", "editMessageText")):
            markup = params.get("reply_markup")
            if markup:
                buttons = [
                    (b["text"], b.get("callback_data", b.get("url", "")))
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
                if having and having not in dict(buttons):
                    continue
                message = params.get("_message_id", params.get("message_id"))
                return int(message), buttons
        raise AssertionError("no keyboard was sent")

    def _msg_id(self) -> int:
        with self._lock:
            self._next_message += 1
            return self._next_message

    # The API -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if method == "getUpdates":
            return await self._get_updates(params)
        with self._lock:
            if method in ("sendMessage", "sendPhoto") and self.throttle_left > 0:
                self.throttle_left -= 1
                self.calls.append(("429", params))
                self._by_chat.setdefault(str(params.get("chat_id")), []).append(("429", params))
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {self.retry_after}",
                        "parameters": {"retry_after": self.retry_after},
                    },
                    status=429,
                )
            if method in ("sendMessage", "sendPhoto") and self._over_limit():
                self.too_many += 1
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests",
                        "parameters": {"retry_after": 1},
                    },
                    status=429,
                )
            if method in ("sendMessage", "sendPhoto"):
                self._next_message += 1
                params["_message_id"] = self._next_message
                self.sent_times.append(time.monotonic())
            if method in ("sendMessage", "sendPhoto", "editMessageText"):
                self.message_times.append(time.monotonic())
            self.calls.append((method, params))
            self._by_chat.setdefault(str(params.get("chat_id")), []).append((method, params))
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def _over_limit(self) -> bool:
        """More sends in the last second than the limit allows (with a 5% burst margin)."""
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        recent = 0
        for moment in reversed(self.sent_times):
            if now - moment > 1:
                break
            recent += 1
        return recent >= self.rate_limit * 1.05

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.3)
        while True:
            with self._lock:
                ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": ready[:100]})
            await asyncio.sleep(0.02)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": 42,
                "is_bot": True,
                "first_name": "keyq",
                "username": "keyq_test_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"):
            chat = params.get("chat_id", 0)
            return {
                "message_id": params.get("_message_id") or params.get("message_id") or 1,
                "date": int(time.time()),
                "chat": {"id": int(chat or 0), "type": "private"},
                "text": params.get("text", ""),
            }
        return True


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        return dict(data) if isinstance(data, dict) else {}
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = "<file>"
    return out
