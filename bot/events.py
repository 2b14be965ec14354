"""The engine's whole contract with a channel: one incoming event in, a list of replies out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    """Where a person talks to keyq."""

    CONSOLE = "console"
    WEB = "web"
    TELEGRAM = "telegram"
    SLACK = "slack"


@dataclass(frozen=True, kw_only=True)
class UserRef:
    """Who is talking, as the platform names them. Never stored: only keyed tags of it are."""

    channel: Channel
    user_id: str
    workspace: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("an event must name its user")

    @property
    def admin_ref(self) -> str:
        """The form used in KEYQ_ADMINS, e.g. ``slack:U0123``."""
        return f"{self.channel.value}:{self.user_id}"

    def __repr__(self) -> str:  # keep ids out of logs and tracebacks
        return f"UserRef(channel={self.channel.value}, user_id=<hidden>)"


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """One thing a person did: typed ``text`` or tapped the choice ``choice``.

    Attributes:
        user: who did it.
        conversation: the channel's opaque address for replies (a chat or DM id).
        text: what they typed, if they typed.
        choice: the id of the choice they tapped, if they tapped.
        event_id: the platform's id for this delivery; a replay of it changes nothing.
        private: False in a group or public channel, where keyq never asks the question.
        campaign: a campaign named by the way they arrived (a deep link, a QR code).
        address: where the channel could message this person later (a Telegram chat id, a
            Slack user id); kept sealed for reminders, never in the clear.
    """

    user: UserRef
    conversation: str
    text: str | None = None
    choice: str | None = None
    event_id: str | None = None
    private: bool = True
    campaign: str | None = None
    address: str | None = None

    def __repr__(self) -> str:
        return (
            f"Incoming(channel={self.user.channel.value}, "
            f"kind={'choice' if self.choice is not None else 'text'})"
        )


@dataclass(frozen=True)
class Choice:
    """A button: ``id`` comes back in ``Incoming.choice`` when it is tapped."""

    id: str
    label: str


@dataclass(frozen=True, kw_only=True)
class Reply:
    """Something to show the person.

    Attributes:
        text: the message.
        choices: buttons; a channel without buttons shows them as numbered lines.
        replaces_prompt: put this text in place of the message whose button was tapped
            (so the chat history keeps no trace of the choice), instead of sending it anew.
        open_private: offer a button or link that opens a private conversation with keyq.
        image: a PNG to show with the text (an admin's report chart).
        sectioned: the text is paragraphs (blank-line separated) meant to be read apart; Slack
            shows each as its own Block Kit section.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    replaces_prompt: bool = False
    open_private: bool = False
    image: bytes | None = None
    sectioned: bool = False


RECEIPT_LIMIT = 60
"""A replaced prompt's text this short is a receipt ("Thanks, noted."), kept when merged."""


def fold_after_tap(replies: Sequence[Reply], text_limit: int) -> list[Reply]:
    """After a tap, the tapped message becomes the next step: the receipt and what follows
    are one edit instead of an edit and a new message (fewer bubbles, same words). A replaced
    text longer than a receipt (the intro, made inert) gives way to the step that follows."""
    at = next((i for i, r in enumerate(replies) if r.replaces_prompt), None)
    if at is None or at == len(replies) - 1:
        return list(replies)
    replaced, following = replies[at], list(replies[at + 1 :])
    if any(r.image or r.open_private or r.replaces_prompt for r in following) or any(
        r.choices for r in following[:-1]
    ):
        return list(replies)
    texts = [r.text for r in following]
    if len(replaced.text) <= RECEIPT_LIMIT:
        texts.insert(0, replaced.text)
    merged = "\n\n".join(texts)
    if len(merged) > text_limit:
        return list(replies)
    return [
        *replies[:at],
        Reply(text=merged, choices=following[-1].choices, replaces_prompt=True),
    ]
