"""Sending at the platforms' pace: one pace per bot across processes, and per chat.

Telegram allows a bot about 30 new messages a second and about one a second in one chat; Slack
about one message a second in a channel and several hundred a minute in a workspace. Two parts
keep keyq inside both, however many ``keyq serve`` replicas run:

- ``SharedLane``: a slot on a pace kept in the database (``storage.Store.reserve``, one row per
  lane, taken under ``SELECT ... FOR UPDATE`` on PostgreSQL). Replies and reminders have lanes
  of their own that add up to the channel's limit, so a reminder wave never delays a reply.
- ``ChatSpacing``: one chat's messages at most one a second after a short burst (a turn that
  sends a reply and the step after it goes at once). It is kept in each process's memory, so
  chat ids never reach the database; a burst to one chat comes from one turn, which one
  process sends, so this holds across replicas in practice though not by construction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Reserve = Callable[[str, int, float], Awaitable[float]]


class ChatSpacing:
    """Per-chat spacing (a generic cell rate algorithm): ``burst`` messages at once, then one
    every ``interval`` seconds."""

    def __init__(
        self,
        interval: float = 1.0,
        burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._allowance = interval * (burst - 1)
        self._clock = clock
        self._due: dict[str, float] = {}

    def delay(self, chat: str) -> float:
        """Takes the chat's next slot; returns how long to wait before sending in it."""
        now = self._clock()
        if len(self._due) > 10_000:  # forget chats that are idle again
            self._due = {c: t for c, t in self._due.items() if t > now}
        due = max(self._due.get(chat, now), now)
        self._due[chat] = due + self._interval
        return max(due - self._allowance - now, 0.0)


class Gate:
    """Keeps this process's sends on a lane at least one interval apart, so slots that a busy
    event loop reached late go out spaced, not in a burst."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._last = 0.0

    async def wait(
        self, interval: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(self._last + interval, now)  # oversleeping does not add up
            if slot > now:
                await sleep(slot - now)
            self._last = slot


HEADROOM = 0.98
"""Send at 98% of a limit, so network jitter does not tip a second over it."""


class SharedLane:
    """Sends on one lane of a pace shared by every keyq process, and spaced per chat.

    Args:
        reserve: takes slots on the shared pace (``Store.reserve``).
        lane: the lane's name (12 characters at most).
        rate: sends a second on this lane, across all processes.
    """

    def __init__(self, reserve: Reserve, lane: str, rate: float) -> None:
        self._reserve = reserve
        self.lane = lane
        self._interval = 1.0 / (rate * HEADROOM)
        self.chats = ChatSpacing()
        self._gate = Gate()

    async def wait(self, chat: str | None) -> None:
        """Returns when a message to ``chat`` may go."""
        if chat is not None:
            delay = self.chats.delay(chat)
            if delay > 0:
                await asyncio.sleep(delay)
        for _ in range(5):
            start = await self._reserve(self.lane, 1, self._interval)
            due = max(start, time.time())
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # A busy event loop can wake us well after our slot, onto another process's next
            # one: a slot missed by more than half an interval is given up for a new one.
            if time.time() - due <= self._interval / 2:
                break
        await self._gate.wait(self._interval)


def local_reserve() -> Reserve:
    """A pace kept in this process only (for a SharedLane with no database at hand)."""
    slots: dict[str, float] = {}

    async def reserve(lane: str, count: int, interval: float) -> float:
        start = max(slots.get(lane, 0.0), time.time())
        slots[lane] = start + interval * count
        return start

    return reserve
