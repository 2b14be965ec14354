"""One pace for every keyq process sending replies on Telegram.

python-telegram-bot's AIORateLimiter keeps Telegram's group limits and waits out 429s, but it
counts calls in one process only and has no limit for a private chat. This limiter first takes
a slot on the reply lane of the shared pace (``bot.pace.SharedLane``: one chat at most one
message a second after a short burst, and all processes together no faster than
``KEYQ_TELEGRAM_REPLY_RATE``). Reminders pace on a lane of their own with the rest of
``KEYQ_TELEGRAM_RATE``, so a reminder wave never delays a reply: replies come first by
construction.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

from bot.pace import Reserve, SharedLane

LANE = "tg-replies"
"""Fits send_pace.channel (12 characters); reminders pace on "telegram"."""
MESSAGES = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
"""Calls that send a new message: what Telegram's ~30 a second counts. Edits (a tap turning its
message into the next step) and callback answers are not new messages."""


class SharedPace(BaseRateLimiter[Any]):
    def __init__(self, reserve: Reserve, rate: float) -> None:
        self.lane = SharedLane(reserve, LANE, rate)
        # Group limits and 429s stay with PTB; the overall rate is the shared lane's job.
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
        chat = data.get("chat_id")
        if endpoint in MESSAGES and chat is not None:
            await self.lane.wait(str(chat))
        return await self._local.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
