"""Sending one reminder on a platform; the outcome tells the outbox what to do next."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, RetryAfter, TelegramError

logger = logging.getLogger(__name__)

START = "r:start"
"""The reminder's button: starts the survey however old the message is."""


@dataclass(frozen=True)
class Outcome:
    """sent, blocked (the person cannot be reached), failed, or retry (after ``wait`` s)."""

    kind: str
    wait: float = 0.0


SENT, BLOCKED, FAILED = Outcome("sent"), Outcome("blocked"), Outcome("failed")


class Sender(Protocol):
    async def send(self, address: dict[str, str], text: str) -> Outcome: ...


class TelegramSender:
    """Sends with a plain Bot: pacing and 429 waits are the outbox's job, so they are counted."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._ready = False

    async def send(self, address: dict[str, str], text: str) -> Outcome:
        if not self._ready:
            await self._bot.initialize()
            self._ready = True
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Answer now", callback_data=START)]])
        try:
            await self._bot.send_message(
                chat_id=int(address["address"]), text=text, reply_markup=markup
            )
        except RetryAfter as exc:
            wait = exc.retry_after
            return Outcome(
                "retry", float(wait if isinstance(wait, int | float) else wait.total_seconds())
            )
        except Forbidden:
            return BLOCKED
        except TelegramError as exc:
            logger.warning("telegram reminder failed (%s)", type(exc).__name__)
            return FAILED
        return SENT


class SlackSender:
    """Posts a DM with a button; a 429 comes back as a retry with Slack's Retry-After."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def send(self, address: dict[str, str], text: str) -> Outcome:
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "keyq-remind",
                        "value": "home:start",
                        "text": {"type": "plain_text", "text": "Answer now"},
                    }
                ],
            },
        ]
        try:
            await self._client.chat_postMessage(
                channel=address["address"], text=text, blocks=blocks
            )
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                return Outcome("retry", float(exc.response.headers.get("Retry-After", 1)))
            error = exc.response.get("error", "")
            if error in (
                "user_not_found",
                "account_inactive",
                "channel_not_found",
                "cannot_dm_bot",
                "user_disabled",
            ):
                return BLOCKED
            logger.warning("slack reminder failed (%s)", error or "?")
            return FAILED
        return SENT


def slack_directory(
    client: AsyncWebClient, channel: str | None = None
) -> Callable[[], Awaitable[list[dict[str, str]]]]:
    """Workspace members from users.list (or only a channel's members, from
    conversations.members and users.info), without bots, apps and deactivated accounts."""

    def person(member: dict[str, Any]) -> dict[str, str] | None:
        if (
            member.get("deleted")
            or member.get("is_bot")
            or member.get("is_app_user")
            or member.get("id") in (None, "USLACKBOT")
        ):
            return None
        return {
            "user": member["id"],
            "workspace": member.get("team_id", ""),
            "tz": member.get("tz") or "",
        }

    async def everyone() -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        cursor = None
        while True:
            page = await client.users_list(limit=200, cursor=cursor)
            found += [p for m in page.get("members") or [] if (p := person(m))]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    async def in_channel() -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        cursor = None
        while True:
            page = await client.conversations_members(
                channel=channel or "", limit=200, cursor=cursor
            )
            for user_id in page.get("members") or []:
                info = await client.users_info(user=user_id)
                if (p := person(info.get("user") or {})) is not None:
                    found.append(p)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    return in_channel if channel else everyone
