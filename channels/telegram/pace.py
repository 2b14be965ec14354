"""One pace for every keyq process sending replies on Telegram.

python-telegram-bot's AIORateLimiter keeps Telegram's per-chat limits and waits out 429s, but it
counts calls in one process only. This limiter first takes a slot on a pace kept in the
database (``storage.Store.reserve``, the row reminders use for their own lane), so two or ten
``keyq serve`` replicas together never send replies faster than ``KEYQ_TELEGRAM_REPLY_RATE``.
Reminders pace on a lane of their own with the rest of ``KEYQ_TELEGRAM_RATE``, so a reminder wave
never delays a reply: replies come first by construction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

Reserve = Callable[[str, int, float], Awaitable[float]]
LANE = "tg-replies"
"""Fits send_pace.channel (12 characters); reminders pace on "telegram"."""
MESSAGES = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
"""Calls that send a new message: what Telegram's ~30 a second counts. Edits (a tap turning its
message into the next step) and callback answers are not new messages."""


class SharedPace(BaseRateLimiter[Any]):
    def __init__(self, reserve: Reserve, rate: float) -> None:
        self._reserve = reserve
        self._interval = 1.0 / rate
        # Per chat and 429s stay with PTB; the overall rate is the shared pace's job.
        self._local = AIORateLimiter(max_retries=5, overall_max_rate=0)

    async def initialize(self) -> None:
        await self._local.initialize()

    async def shutdown(self) -> None:
        await self._local.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> Any:
        if endpoint in MESSAGES and data.get("chat_id") is not None:
            start = await self._reserve(LANE, 1, self._interval)
            delay = start - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        return await self._local.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
