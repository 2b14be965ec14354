"""Wiring: python-telegram-bot in, keyq's engine in the middle, Bot API calls out."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import warnings
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from telegram import BotCommand, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler
from telegram.warnings import PTBUserWarning

from bot.engine import Engine
from bot.pace import Reserve
from channels.telegram.inbound import Inbound, Membership, translate
from channels.telegram.outbound import calls
from channels.telegram.pace import SharedPace
from channels.telegram.request import AiohttpRequest

logger = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "Answer the key question"),
    BotCommand("help", "What I can do"),
    BotCommand("privacy", "How your answer is protected"),
    BotCommand("next", "A tip on what to do next"),
    BotCommand("report", "The latest figures (core HR team only)"),
]
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
_WEBHOOK_REPLY: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "telegram_webhook_reply", default=None
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# Replies go out by name (channels/telegram/outbound.py says why), which PTB answers with a hint
# to use its typed method instead: a hint for people, not a fault.
warnings.filterwarnings("ignore", r"Please use 'Bot\.", PTBUserWarning, __name__)


class TelegramChannel:
    """Runs the bot by polling (default) or on keyq's webhook route.

    Args:
        engine: keyq's engine.
        token: the bot token from BotFather.
        base_url: the Bot API base URL, ending in ``/bot`` (PTB appends the token).
        webhook_url: where Telegram should deliver updates; None means polling.
        webhook_secret: the secret Telegram sends back on every delivery (random if None).
        poll_timeout: long-polling timeout in seconds.
        reply_rate: reply messages a second (0: no pacing, for measurements only).
        reserve: the database pace shared by every keyq process; without it, per process.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        token: str,
        base_url: str,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        poll_timeout: int = 10,
        reply_rate: float = 30,
        reserve: Reserve | None = None,
    ) -> None:
        self._engine = engine
        self._webhook_url = webhook_url
        self._secret = webhook_secret or secrets.token_urlsafe(32)
        self._poll_timeout = poll_timeout
        self._polling: asyncio.Task[None] | None = None
        builder: Any = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .updater(None)
            # aiohttp rather than PTB's httpx: under half the CPU a call (request.py says more)
            .request(AiohttpRequest())
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
        )
        if reply_rate > 0 and reserve is not None:  # one pace for every keyq process
            builder = builder.rate_limiter(SharedPace(reserve, reply_rate))
        elif reply_rate > 0:
            builder = builder.rate_limiter(
                AIORateLimiter(max_retries=5, overall_max_rate=reply_rate)
            )
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        await app.start()
        await app.bot.set_my_commands(COMMANDS)
        if self._webhook_url:
            await app.bot.set_webhook(
                self._webhook_url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
            )
            logger.info("telegram: webhook registered")
        else:
            await app.bot.delete_webhook()
            self._polling = asyncio.create_task(self._poll())
            logger.info("telegram: polling for updates")

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        await self.application.stop()
        await self.application.shutdown()

    @property
    def secret(self) -> str:
        """The secret Telegram sends with each webhook delivery."""
        return self._secret

    async def deliver(self, given_secret: str, body: bytes) -> tuple[int, dict[str, Any] | None]:
        """A webhook delivery, whose HTTP answer may carry one Bot API call (Telegram runs it):
        the callback-query answer goes back that way, so it costs no call of its own."""
        reply: list[dict[str, Any]] = []
        token = _WEBHOOK_REPLY.set(reply)
        try:
            status = await self.receive(given_secret, body)
        finally:
            _WEBHOOK_REPLY.reset(token)
        return status, (reply[0] if reply else None)

    async def receive(self, given_secret: str, body: bytes) -> int:
        """Handles one webhook delivery; returns the HTTP status to answer with."""
        if not hmac.compare_digest(given_secret.encode(), self._secret.encode()):
            return 403
        try:
            update = Update.de_json(json.loads(body), self.application.bot)
        except Exception:  # the body is never logged: it carries ids and text
            logger.warning("telegram: refused a malformed webhook delivery")
            return 400
        await self.application.process_update(update)
        return 200

    async def _poll(self) -> None:
        """getUpdates, one update at a time: a malformed update is skipped, not refetched
        forever (PTB's own updater would jam on it)."""
        bot, offset, backoff = self.application.bot, 0, 1.0
        while True:
            try:
                with warnings.catch_warnings():  # raw on purpose: updates are parsed one by one
                    warnings.simplefilter("ignore", PTBUserWarning)
                    raw = await bot.do_api_request(
                        "getUpdates",
                        api_kwargs={
                            "offset": offset,
                            "timeout": self._poll_timeout,
                            "allowed_updates": ALLOWED_UPDATES,
                        },
                        read_timeout=self._poll_timeout + 10,
                    )
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("telegram: getUpdates failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            for item in raw or []:
                offset = max(offset, int(item.get("update_id", -1)) + 1)
                try:
                    update = Update.de_json(item, bot)
                except Exception:
                    logger.warning("telegram: skipped a malformed update")
                    continue
                await self.application.process_update(update)

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert isinstance(update, Update)
        event = translate(update)
        if isinstance(event, Membership):
            await self._engine.set_reachable(event.user, event.reachable)
        elif isinstance(event, Inbound):
            replies = await self._engine.handle(event.incoming)
            await self._send(event, calls(replies, event, self.application.bot.username))

    async def _send(self, inbound: Inbound, planned: list[Any]) -> None:
        bot = self.application.bot
        for call in planned:
            pending = _WEBHOOK_REPLY.get()
            if call.method == "answerCallbackQuery" and pending is not None and not pending:
                pending.append({"method": call.method, **call.kwargs})
                continue
            try:
                if call.method == "sendPhoto":  # an upload: PTB builds the multipart body
                    await bot.send_photo(**call.kwargs)
                else:  # through the same limiter and errors as the typed methods
                    await bot.do_api_request(call.method, api_kwargs=call.kwargs)
            except Forbidden:
                await self._engine.set_reachable(inbound.incoming.user, False)
                return
            except TelegramError as exc:
                logger.warning("telegram: %s failed (%s)", call.method, type(exc).__name__)

    async def _on_error(self, _update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram: handler failed (%s)", type(context.error).__name__)


router = APIRouter()


@router.post("/telegram/webhook", include_in_schema=False)
async def webhook(request: Request) -> Response:
    """Telegram's deliveries, checked against the secret token registered with setWebhook."""
    channel: TelegramChannel | None = getattr(request.app.state, "telegram", None)
    if channel is None:
        return Response(status_code=404)
    status, reply = await channel.deliver(
        request.headers.get(SECRET_HEADER, ""), await request.body()
    )
    if reply is not None and status == 200:
        return JSONResponse(reply)
    return Response(status_code=status)
