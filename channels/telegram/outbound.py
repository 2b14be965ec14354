"""Engine replies to Telegram Bot API calls: pure functions, no I/O.

A call is the Bot API method's own name with JSON-ready arguments (a keyboard is a plain
``inline_keyboard`` dict), sent as it is: building PTB's objects for a keyboard and parsing the
Message each call returns, which keyq never reads, cost 0.31-0.38 ms of CPU a call
(docs/performance-history.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.events import Reply, fold_after_tap
from channels.telegram.inbound import Inbound

TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64


@dataclass(frozen=True)
class Call:
    """One Bot API call: the method's name in the Bot API (``sendMessage``) and its arguments.
    ``sendPhoto`` carries the PNG's bytes, for ``telegram.Bot.send_photo`` to upload."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def keyboard(reply: Reply, bot_username: str) -> dict[str, Any] | None:
    """The reply's buttons as Telegram's InlineKeyboardMarkup, one button a row."""
    if reply.open_private:
        url = f"https://t.me/{bot_username}?start=start"
        return {"inline_keyboard": [[{"text": "Continue privately", "url": url}]]}
    rows = [
        [{"text": c.label, "callback_data": c.id}]
        for c in reply.choices
        if len(c.id.encode()) <= CALLBACK_LIMIT
    ]
    return {"inline_keyboard": rows} if rows else None


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cuts a long text at line breaks into messages Telegram accepts."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text]


def calls(replies: Sequence[Reply], inbound: Inbound, bot_username: str) -> list[Call]:
    """The calls that show these replies; a tapped message is edited, never left showing."""
    out: list[Call] = []
    if inbound.callback_id is not None:
        out.append(Call("answerCallbackQuery", {"callback_query_id": inbound.callback_id}))
        replies = fold_after_tap(replies, TEXT_LIMIT)
    for reply in replies:
        markup = keyboard(reply, bot_username)
        if reply.image is not None:
            out.append(Call("sendPhoto", {"chat_id": inbound.chat_id, "photo": reply.image}))
        if reply.replaces_prompt and inbound.callback_id is not None:
            where: dict[str, Any] = (
                {"inline_message_id": inbound.inline_message_id}
                if inbound.inline_message_id
                else {"chat_id": inbound.chat_id, "message_id": inbound.message_id}
            )
            out.append(
                Call(
                    "editMessageText",
                    {"text": reply.text[:TEXT_LIMIT], "reply_markup": markup, **where},
                )
            )
            continue
        pieces = split(reply.text)
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            out.append(
                Call(
                    "sendMessage",
                    {
                        "chat_id": inbound.chat_id,
                        "text": piece,
                        "reply_markup": markup if last else None,
                    },
                )
            )
    tapped = inbound.message_id is not None or inbound.inline_message_id is not None
    if tapped and inbound.callback_id is not None and not any(r.replaces_prompt for r in replies):
        # A tap the engine did not turn into a receipt: still take the keyboard away.
        out.insert(1, Call("editMessageReplyMarkup", _source(inbound)))
    return out


def _source(inbound: Inbound) -> dict[str, Any]:
    if inbound.inline_message_id:
        return {"inline_message_id": inbound.inline_message_id, "reply_markup": None}
    return {"chat_id": inbound.chat_id, "message_id": inbound.message_id, "reply_markup": None}
