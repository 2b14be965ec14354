"""Slack payloads to engine events: pure functions over the JSON Slack sends, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.events import Channel, Incoming, UserRef

ACTION_PREFIX = "keyq-"


@dataclass(frozen=True, kw_only=True)
class Inbound:
    """An engine event plus where to answer on Slack."""

    incoming: Incoming
    channel_id: str
    message_ts: str | None = None
    """The tapped message, to be replaced by a neutral receipt."""


@dataclass(frozen=True, kw_only=True)
class HomeOpened:
    user: UserRef


@dataclass(frozen=True, kw_only=True)
class Joined:
    """Someone joined the workspace: a new joiner to ask once, later."""

    user: UserRef
    timezone: str | None


def user_ref(team: str | None, user: str) -> UserRef:
    return UserRef(channel=Channel.SLACK, user_id=user, workspace=team or "")


def from_event(body: dict[str, Any]) -> Inbound | HomeOpened | Joined | None:
    """An Events API delivery: a DM, a mention, the App Home opened, or a new member."""
    event = body.get("event") or {}
    kind, user = event.get("type"), event.get("user")
    if kind == "team_join" and isinstance(user, dict):
        if user.get("is_bot") or user.get("deleted") or not user.get("id"):
            return None
        return Joined(
            user=user_ref(body.get("team_id") or user.get("team_id"), user["id"]),
            timezone=user.get("tz"),
        )
    team = body.get("team_id") or event.get("team")
    if not isinstance(user, str) or not user:
        return None
    if kind == "app_home_opened":
        return HomeOpened(user=user_ref(team, user)) if event.get("tab") in (None, "home") else None
    if event.get("bot_id") or event.get("subtype"):
        return None  # bots (keyq included), edits and joins are not people talking
    text, channel = event.get("text"), event.get("channel")
    if not isinstance(text, str) or not isinstance(channel, str):
        return None
    direct = kind == "message" and event.get("channel_type") == "im"
    if not direct and kind != "app_mention":
        return None
    if kind == "app_mention":
        text = " ".join(w for w in text.split() if not w.startswith("<@"))
    return Inbound(
        incoming=Incoming(
            user=user_ref(team, user),
            conversation=channel,
            text=text,
            event_id=f"event-{body.get('event_id', '')}" if body.get("event_id") else None,
            private=direct,
            address=user if direct else None,
        ),
        channel_id=channel,
    )


def from_action(body: dict[str, Any]) -> Inbound | None:
    """A button tapped in a message or on the App Home."""
    actions = body.get("actions") or []
    user = (body.get("user") or {}).get("id")
    if not actions or not isinstance(user, str):
        return None
    action = actions[0]
    value = action.get("value")
    if not isinstance(value, str):
        return None
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    container = body.get("container") or {}
    in_message = container.get("type") == "message"
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or user
    private = not in_message or str(channel).startswith("D")
    incoming = (
        Incoming(
            user=user_ref(team, user),
            conversation=channel,
            text="start",
            event_id=None,
            address=user,
        )
        if value == "home:start"
        else Incoming(
            user=user_ref(team, user),
            conversation=channel,
            choice=value,
            event_id=f"action-{action.get('action_ts', '')}-{user}",
            private=private,
            address=user if private else None,
        )
    )
    return Inbound(
        incoming=incoming,
        channel_id=user if value == "home:start" else channel,
        message_ts=container.get("message_ts") if in_message else None,
    )


def from_command(body: dict[str, Any]) -> Inbound | None:
    """``/keyq [help|privacy|next|report|start]``: answered privately to the person."""
    user, channel = body.get("user_id"), body.get("channel_id")
    if not isinstance(user, str) or not isinstance(channel, str):
        return None
    text = str(body.get("text") or "").strip() or "help"
    return Inbound(
        incoming=Incoming(
            user=user_ref(body.get("team_id"), user),
            conversation=channel,
            text=text,
            event_id=f"command-{body.get('trigger_id', '')}",
            private=True,
        ),
        channel_id=channel,
    )
