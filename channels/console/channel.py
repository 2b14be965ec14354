"""Runs a conversation in a terminal, or from a script on standard input (one answer a line)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.events import Channel, Choice, Incoming, Reply, UserRef, fold_after_tap

Handler = Callable[[Incoming], Awaitable[list[Reply]]]
QUIT = frozenset({"quit", "exit"})


def render(reply: Reply, first: int = 1) -> str:
    """A reply as terminal text: the message, then each choice as ``N) label``, numbered from
    ``first``."""
    lines = [reply.text]
    if reply.open_private:
        lines.append("(continue in a private chat)")
    numbered = enumerate(reply.choices, start=first)
    lines += [f"{number}) {choice.label}" for number, choice in numbered]
    return "\n".join(lines)


class ConsoleChannel:
    """One person at a terminal. Typing a choice's number is a tap on it.

    Args:
        handle: the engine's entry point.
        user_id: who is playing (``keyq chat --as NAME``).
        out: where replies go.
        campaign: a campaign to answer, as a deep link would name it.
    """

    def __init__(
        self, handle: Handler, *, user_id: str, out: TextIO, campaign: str | None = None
    ) -> None:
        self._handle = handle
        self._user = UserRef(channel=Channel.CONSOLE, user_id=user_id)
        self._out = out
        self._campaign = campaign
        self._choices: tuple[Choice, ...] = ()

    def incoming(self, line: str) -> Incoming:
        """What a typed line means: a tap when it is the number of a shown choice."""
        typed = line.strip()
        if typed.isdigit() and 1 <= int(typed) <= len(self._choices):
            return Incoming(
                user=self._user,
                conversation="console",
                event_id=str(uuid.uuid4()),
                choice=self._choices[int(typed) - 1].id,
                campaign=self._campaign,
            )
        return Incoming(
            user=self._user,
            conversation="console",
            event_id=str(uuid.uuid4()),
            text=typed,
            campaign=self._campaign,
        )

    async def send(self, line: str) -> None:
        """Handles one line and prints the replies. A terminal cannot edit what it printed:
        after a tap, the tapped prompt's replacement and the next step print as one."""
        event = self.incoming(line)
        replies = await self._handle(event)
        if event.choice is not None:
            replies = fold_after_tap(replies, 100_000)
        # One number for each choice shown in a turn: a tip's choices and the open step
        # offered again under it are numbered on from each other, so "1" is never both
        # "Another tip" and an answer to the key question.
        shown: list[Choice] = []
        for reply in replies:
            self._out.write(render(reply, first=len(shown) + 1) + "\n\n")
            shown += reply.choices
        if shown:
            self._choices = tuple(shown)
        self._out.flush()

    async def run(self, read_line: Callable[[], str], *, prompt: str = "") -> None:
        """Starts the conversation, then handles lines until end of input or ``quit``."""
        start = "start " + self._campaign if self._campaign else "start"
        await self.send(start)
        while True:
            if prompt:
                self._out.write(prompt)
                self._out.flush()
            line = await asyncio.to_thread(read_line)
            if not line or line.strip().casefold() in QUIT:
                return
            if line.strip():
                await self.send(line)
