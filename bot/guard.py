"""Guards in front of every HTTP route, before FastAPI, Bolt or PTB read a byte of the body.

- A body over ``BODY_LIMIT`` is refused with 413 (from Content-Length, or while streaming),
  so a flood of large POSTs cannot grow memory.
- ``/api/`` requests are checked for the admin bearer token before routing (so an anonymous
  caller learns nothing from validation errors), and failed tokens are rate-limited per client.
- ``/telegram/webhook`` is checked for Telegram's secret header before the body is read.
- ``/slack/events`` is checked with slack_sdk's ``SignatureVerifier`` (timestamp freshness and
  HMAC) before Bolt parses anything; a signed body that is not UTF-8 is a 400 (the route itself
  refuses, with a 400, one that is not JSON of sane depth: it parses the body once, for Bolt).
- Every response carries security headers; the server does not name itself.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_LIMIT = 256 * 1024
"""Telegram updates and Slack payloads are a few kilobytes; admin API bodies are tiny."""
JSON_DEPTH_LIMIT = 64
FAILED_TOKENS_PER_MINUTE = 10
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


def admin_token_ok(settings: Any, given: str) -> bool:
    """Whether ``given`` is the admin bearer token (compared in constant time); never when
    no token is configured."""
    expected = settings.admin_token
    return expected is not None and hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    )


class Guard:
    """ASGI middleware; settings are read from the running keyq at each request."""

    def __init__(self, app: ASGIApp, *, settings: Any) -> None:
        self.app = app
        self.settings = settings
        self._failures: dict[str, deque[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        path: str = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if path.startswith("/api/") and not await self._admin_ok(scope, headers, send):
            return
        if path == "/telegram/webhook" and not self._telegram_ok(scope, headers):
            await _answer(send, 403, "forbidden")
            return
        declared = headers.get("content-length", "")
        if declared and (not declared.isdecimal() or int(declared) > BODY_LIMIT):
            await _answer(send, 413, "request body too large")
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body = await _read(receive)
            if body is None:
                await _answer(send, 413, "request body too large")
                return
            if path == "/slack/events":
                problem = self._slack_problem(headers, body)
                if problem is not None:
                    await _answer(send, *problem)
                    return
            receive = _replay(body)
        await self.app(scope, receive, send)

    async def _admin_ok(self, scope: Scope, headers: dict[str, str], send: Send) -> bool:
        client = (scope.get("client") or ("?", 0))[0]
        recent = self._failures.get(client)
        now = time.monotonic()
        if recent is not None:
            while recent and now - recent[0] > 60:
                recent.popleft()
            if len(recent) >= FAILED_TOKENS_PER_MINUTE:
                await _answer(send, 429, "too many failed tokens; wait a minute")
                return False
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.casefold() == "bearer" and admin_token_ok(self.settings, token.strip()):
            return True
        if len(self._failures) > 10_000:  # bounded: forget the oldest clients
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, deque()).append(now)
        await _answer(
            send, 401, "a valid admin bearer token is required", [(b"www-authenticate", b"Bearer")]
        )
        return False

    def _telegram_ok(self, scope: Scope, headers: dict[str, str]) -> bool:
        channel = getattr(scope["app"].state, "telegram", None) if "app" in scope else None
        if channel is None:
            return True  # Telegram is off: the route answers 404
        secret = getattr(channel, "secret", None)
        given = headers.get("x-telegram-bot-api-secret-token", "")
        return secret is not None and hmac.compare_digest(given.encode(), secret.encode())

    def _slack_problem(self, headers: dict[str, str], body: bytes) -> tuple[int, str] | None:
        secret = self.settings.slack_signing_secret
        if secret is None:
            return None  # Slack is off: the route answers 404
        stamp = headers.get("x-slack-request-timestamp", "")
        if not (stamp.isascii() and stamp.isdecimal()):
            return 401, "invalid request"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # Slack only ever sends UTF-8
            return 400, "the body is not UTF-8"
        verifier = SignatureVerifier(secret.get_secret_value())
        if not verifier.is_valid(text, stamp, headers.get("x-slack-signature", "")):
            return 401, "invalid request"
        return None


def too_deep(document: Any) -> bool:
    """Whether parsed JSON nests deeper than ``JSON_DEPTH_LIMIT`` (walked level by level)."""
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > JSON_DEPTH_LIMIT:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return False


async def _read(receive: Receive) -> bytes | None:
    """The whole body, or None as soon as it passes the limit (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in HEADERS if k not in names]
            message["headers"] = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != b"server"
            ] + extra
        await send(message)

    return wrapped


async def _answer(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
