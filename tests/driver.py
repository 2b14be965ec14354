"""A transcript-style test driver: ``await person.say("hi")``, ``person.expect(...)``, ``tap``."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from bot.engine import Engine
from bot.events import Channel, Incoming, Reply, UserRef

_event_ids = itertools.count(1)


class Person:
    """Someone talking to the engine through no platform at all."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        channel: Channel = Channel.CONSOLE,
        private: bool = True,
        workspace: str = "",
    ) -> None:
        self.engine = engine
        self.user = UserRef(channel=channel, user_id=name, workspace=workspace)
        self.private = private
        self.last: list[Reply] = []
        self.transcript: list[Reply] = []
        self.last_event_id = ""

    async def send(
        self,
        *,
        text: str | None = None,
        choice: str | None = None,
        event_id: str | None = None,
        campaign: str | None = None,
        settle: bool = True,
    ) -> list[Reply]:
        self.last_event_id = event_id or f"evt-{next(_event_ids)}"
        replies = await self.engine.handle(
            Incoming(
                user=self.user,
                conversation=f"chat-{self.user.user_id}",
                text=text,
                choice=choice,
                event_id=self.last_event_id,
                private=self.private,
                campaign=campaign,
            )
        )
        if settle:  # a full batch moves into the totals beside the turn; tests read them next
            await self.engine.settle()
        self.last = replies
        self.transcript.extend(replies)
        return replies

    async def say(self, text: str, *, settle: bool = True, **kwargs: str) -> list[Reply]:
        return await self.send(text=text, settle=settle, **kwargs)

    def choice_id(self, label: str) -> str:
        """The id of the shown choice whose label contains ``label`` (case-insensitive)."""
        shown = [c for r in self.last for c in r.choices]
        matches = [c for c in shown if label.casefold() in c.label.casefold()]
        assert matches, f"no choice like {label!r} among {[c.label for c in shown]}"
        return matches[0].id

    async def tap(self, label: str, *, settle: bool = True) -> list[Reply]:
        return await self.send(choice=self.choice_id(label), settle=settle)

    def expect(self, *fragments: str) -> None:
        text = self.text()
        for fragment in fragments:
            assert fragment.casefold() in text.casefold(), f"{fragment!r} not in:\n{text}"

    def expect_not(self, *fragments: str) -> None:
        text = self.text()
        for fragment in fragments:
            assert fragment.casefold() not in text.casefold(), f"{fragment!r} in:\n{text}"

    def text(self, replies: Iterable[Reply] | None = None) -> str:
        return "\n".join(r.text for r in (self.last if replies is None else replies))

    async def answer(self, option: str, *followups: str) -> None:
        """The whole survey: start, the key question, then each follow-up, by label."""
        await self.say("start")
        await self.tap("answer now")
        await self.tap(option)
        for label in followups:
            await self.tap(label)


async def at_the_key_question(engine: Engine, name: str, *, greeting: str = "hi") -> Person:
    """Someone new who has said ``greeting`` and tapped "Answer now": the key question is open."""
    person = Person(engine, name)
    await person.say(greeting)
    await person.tap("answer now")
    return person


class Ticks:
    """How many times a 10 ms sleep on the event loop came back: none while the loop is held."""

    count = 0


@asynccontextmanager
async def loop_ticks() -> AsyncIterator[Ticks]:
    """Counts the event loop's 10 ms ticks while the block runs."""
    ticks = Ticks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks.count += 1

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()
