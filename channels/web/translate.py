"""Pure translation between HTML forms and the engine: no I/O, no framework."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.events import Channel, Choice, Incoming, Reply, UserRef

CHOICE_LIMIT = 80
EVENT_LIMIT = 64


def incoming(code: str, campaign: str | None, form: Mapping[str, str]) -> Incoming | None:
    """A submitted form as the engine's event; None if it carries no usable choice."""
    choice = form.get("choice", "")
    event = form.get("event", "")
    if not choice or len(choice) > CHOICE_LIMIT or not event or len(event) > EVENT_LIMIT:
        return None
    return Incoming(
        user=UserRef(channel=Channel.WEB, user_id=code),
        conversation="web",
        choice=choice,
        event_id=f"web:{event}",
        campaign=campaign,
    )


def visit(code: str, campaign: str | None) -> Incoming:
    """Opening the page: what the engine should show this code's holder now."""
    return Incoming(
        user=UserRef(channel=Channel.WEB, user_id=code), conversation="web", campaign=campaign
    )


@dataclass(frozen=True)
class Block:
    """A paragraph, or a list when its lines start with "- "."""

    kind: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    blocks: tuple[Block, ...]
    choices: tuple[Choice, ...] = ()
    hints: dict[str, str] = field(default_factory=dict)
    """Examples shown inside a button (from a list in the text that names every choice)."""


@dataclass(frozen=True)
class Page:
    """What one page shows: notices (short replies without buttons) then the open step."""

    notices: tuple[Section, ...] = ()
    step: Section | None = None
    final: bool = False


def blocks(text: str) -> tuple[Block, ...]:
    out: list[Block] = []
    for paragraph in text.split("\n\n"):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.startswith("- ") for line in lines[1:]) and lines[0].startswith("- "):
            out.append(Block("list", tuple(line[2:] for line in lines)))
        elif len(lines) > 1 and all(line.startswith("- ") for line in lines[1:]):
            out.append(Block("p", (lines[0],)))
            out.append(Block("list", tuple(line[2:] for line in lines[1:])))
        else:
            out.append(Block("p", tuple(lines)))
    return tuple(out)


def page(replies: Sequence[Reply], *, receipt: str) -> Page:
    """Replies as a page. A tapped message's replacement (the neutral receipt, or the intro made
    inert) means nothing on a page that is drawn anew, so it is left out."""
    shown = [r for r in replies if not r.replaces_prompt and r.text != receipt]
    with_choices = [r for r in shown if r.choices]
    step = with_choices[-1] if with_choices else None
    notices = tuple(Section(blocks(r.text)) for r in shown if r is not step)
    section = _with_hints(Section(blocks(step.text), step.choices)) if step else None
    return Page(notices=notices, step=section, final=step is None)


def _with_hints(section: Section) -> Section:
    """On a page the option list and the buttons would say everything twice: a list whose
    items start with the choices' labels moves into the buttons, so "I prefer not to say"
    is reached without scrolling past a screen."""
    labels = {c.label: c.id for c in section.choices}
    kept: list[Block] = []
    hints: dict[str, str] = {}
    for block in section.blocks:
        found = {}
        if block.kind == "list":
            for line in block.lines:
                label, _, hint = line.partition(": ")
                if label in labels:
                    found[labels[label]] = hint
        if block.kind == "list" and len(found) == len(block.lines):
            hints.update(found)
        else:
            kept.append(block)
    return Section(tuple(kept), section.choices, hints)


def to_stash(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """Replies to show after the redirect that follows a form (kept in the sealed cookie)."""
    return [
        {"text": r.text, "choices": [[c.id, c.label] for c in r.choices], "r": r.replaces_prompt}
        for r in replies
    ]


def from_stash(stash: Sequence[Mapping[str, Any]]) -> list[Reply]:
    return [
        Reply(
            text=str(item["text"]),
            choices=tuple(Choice(str(i), str(label)) for i, label in item["choices"]),
            replaces_prompt=bool(item.get("r")),
        )
        for item in stash
    ]
