"""The survey conversation as a small state machine (drawn in flow.mmd beside this file).

State is a plain dict saved through storage each turn: ``step`` (intro, kq, or a follow-up key),
``campaign`` and the ``answer`` gathered so far. Choice ids are ``step:value``, so a tap on an
old message is recognised as stale rather than taken as an answer to the current question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.events import Choice, Reply
from bot.orgconfig import OrgConfig
from survey.content import Messages, Question

INTRO = "intro"
KEY_QUESTION = "kq"
PREFER_NOT = "x"


@dataclass(frozen=True)
class Survey:
    """The question, the messages and the organisation's follow-ups, ready to render."""

    question: Question
    messages: Messages
    org: OrgConfig

    def say(self, name: str) -> str:
        return self.messages.render(
            name, org=self.org.organisation.name, threshold=self.org.reporting.threshold
        )

    @property
    def steps(self) -> tuple[str, ...]:
        return (INTRO, KEY_QUESTION, *self.org.followups)

    def next_step(self, step: str) -> str | None:
        steps = self.steps
        index = steps.index(step) + 1
        return steps[index] if index < len(steps) else None

    def choices(self, step: str) -> tuple[Choice, ...]:
        if step == INTRO:
            m = self.messages
            return (
                Choice("intro:start", m.start_label),
                Choice("intro:privacy", m.privacy_label),
                Choice("intro:decline", m.decline_label),
            )
        if step == KEY_QUESTION:
            return tuple(Choice(f"kq:{o.id}", o.label) for o in self.question.options)
        followup = self.org.followups[step]
        return (
            *(Choice(f"{step}:{i}", label) for i, label in enumerate(followup.options)),
            Choice(f"{step}:{PREFER_NOT}", self.messages.followup_prefer_not),
        )

    def prompt(self, step: str) -> Reply:
        """The message that asks the question of ``step``."""
        if step == INTRO:
            text = self.say("intro")
        elif step == KEY_QUESTION:
            lines = [self.question.text, "", self.say("question_intro")]
            for option in self.question.options:
                detail = self.question.detail(option)
                lines.append(
                    f"- {option.label}: {detail}" if detail != option.label else f"- {option.label}"
                )
            text = "\n".join(lines)
        else:
            text = f"{self.say('followup_intro')}\n\n{self.org.followups[step].question}"
        return Reply(text=text, choices=self.choices(step))

    def match_text(self, step: str, text: str) -> str | None:
        """The choice id a typed answer means (its number or its label), or None."""
        choices = self.choices(step)
        typed = text.strip().rstrip(".)").casefold()
        if typed.isdigit() and 1 <= int(typed) <= len(choices):
            return choices[int(typed) - 1].id
        return next((c.id for c in choices if c.label.casefold() == typed), None)

    def record(self, state: dict[str, Any], step: str, value: str) -> bool:
        """Stores the value of a tapped choice into ``state``; False if it is not valid."""
        if step == KEY_QUESTION:
            if self.question.option(value) is None:
                return False
            state["answer"]["kq"] = value
            return True
        options = self.org.followups[step].options
        if value == PREFER_NOT:
            state["answer"][step] = ""
            return True
        if value.isdigit() and int(value) < len(options):
            state["answer"][step] = options[int(value)]
            return True
        return False
