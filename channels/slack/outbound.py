"""Engine replies to Block Kit: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.events import Reply
from channels.slack.inbound import ACTION_PREFIX

SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack's mrkdwn needs &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(reply: Reply, *, app_id: str | None = None) -> list[dict[str, Any]]:
    """A reply as Block Kit: its text in sections, its choices as buttons."""
    out: list[dict[str, Any]] = []
    paragraphs = reply.text.split("\n\n") if reply.sectioned else [reply.text]
    for paragraph in paragraphs:
        text = escape(paragraph)
        while text:
            cut = text.rfind("\n", 0, SECTION_LIMIT) if len(text) > SECTION_LIMIT else len(text)
            cut = cut if cut > 0 else SECTION_LIMIT
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:cut]}})
            text = text[cut:].lstrip("\n")
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{n}",
            "text": {"type": "plain_text", "text": choice.label[:75]},
            "value": choice.id,
        }
        for n, choice in enumerate(reply.choices)
    ]
    if reply.open_private and app_id:
        buttons.append(
            {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}dm",
                "text": {"type": "plain_text", "text": "Continue in a DM"},
                "url": f"https://slack.com/app_redirect?app={app_id}",
            }
        )
    for start in range(0, len(buttons), 25):
        out.append({"type": "actions", "elements": buttons[start : start + 25]})
    return out


def combined(replies: Sequence[Reply]) -> tuple[str, list[dict[str, Any]]]:
    """Several replies as one message (for a slash command's private answer)."""
    text = "\n\n".join(r.text for r in replies)
    return text, [b for r in replies for b in blocks(r)]


def home_view(*, intro: str, admin_summary: str | None) -> dict[str, Any]:
    """The App Home tab: the promise, a button to answer, and for admins a short summary."""
    view_blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(intro)}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"{ACTION_PREFIX}home",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Answer the question"},
                    "value": "home:start",
                }
            ],
        },
    ]
    if admin_summary:
        view_blocks += [
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": escape(admin_summary)[:SECTION_LIMIT]},
            },
        ]
    return {"type": "home", "blocks": view_blocks}
