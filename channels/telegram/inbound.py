"""Telegram updates to engine events: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import ChatMember, Update

from bot.events import Channel, Incoming, UserRef


@dataclass(frozen=True, kw_only=True)
class Inbound:
    """An engine event plus what is needed to answer it on Telegram."""

    incoming: Incoming
    chat_id: int
    callback_id: str | None = None
    message_id: int | None = None
    inline_message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Membership:
    """The person blocked (``reachable`` False) or unblocked the bot."""

    user: UserRef
    reachable: bool


def translate(update: Update) -> Inbound | Membership | None:
    """What an update means to keyq; None for updates keyq does not handle."""
    if update.my_chat_member is not None:
        change = update.my_chat_member
        if change.chat.type != "private":
            return None
        status = change.new_chat_member.status
        return Membership(
            user=_user(change.from_user.id),
            reachable=status not in (ChatMember.BANNED, ChatMember.LEFT),
        )
    event_id = f"update-{update.update_id}"
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        private = message is None or message.chat.type == "private"
        return Inbound(
            incoming=Incoming(
                user=_user(query.from_user.id),
                conversation=str(chat_id),
                choice=query.data or "",
                event_id=event_id,
                private=private,
                address=str(query.from_user.id) if private else None,
            ),
            chat_id=chat_id,
            callback_id=query.id,
            message_id=message.message_id if message is not None else None,
            inline_message_id=query.inline_message_id,
        )
    message = update.message
    if message is None or message.from_user is None or message.text is None:
        return None
    private = message.chat.type == "private"
    return Inbound(
        incoming=Incoming(
            user=_user(message.from_user.id),
            conversation=str(message.chat.id),
            text=message.text,
            event_id=event_id,
            private=private,
            address=str(message.chat.id) if private else None,
        ),
        chat_id=message.chat.id,
    )


def _user(user_id: int) -> UserRef:
    return UserRef(channel=Channel.TELEGRAM, user_id=str(user_id))
