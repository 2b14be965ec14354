"""The survey conversation as a small state machine (drawn in flow.mmd beside this file).

State is a plain dict saved through storage each turn: ``step`` (intro, kq, or a follow-up key),
``campaign``, and once the key question is answered ``pending``: the id of the stored (sealed)
answer that follow-ups are added to. The answer itself is never kept in the state. Choice ids
are ``step:value``, so a tap on an old message is recognised as stale rather than taken as an
answer to the current question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.events import Choice, Reply
from bot.orgconfig import OrgConfig
from survey.content import EARNER, Messages, Question

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
                Choice(f"intro:{PREFER_NOT}", m.prefer_not_label),
                Choice("intro:privacy", m.privacy_label),
                Choice("intro:decline", m.decline_label),
            )
        if step == KEY_QUESTION:
            options = tuple(Choice(f"kq:{o.id}", o.label) for o in self.question.options)
            return (*options, Choice(FITS, self.messages.fits_label))
        followup = self.org.followups[step]
        return (
            *(Choice(f"{step}:{i}", label) for i, label in enumerate(followup.options)),
            Choice(f"{step}:{PREFER_NOT}", self.messages.followup_prefer_not),
        )

    def prompt(self, step: str) -> Reply:
        """The message that asks the question of ``step``: short enough for one phone screen."""
        if step == INTRO:
            text = self.say("intro")
        elif step == KEY_QUESTION:
            lines = [self.question.text, ""]
            for option in self.question.options:
                examples = option.examples.format(
                    small_business_limit=self.question.small_business_limit
                )
                lines.append(f"- {option.label}: {examples}" if examples else f"- {option.label}")
            text = "\n".join(lines)
        else:
            text = f"{self.say('followup_intro')}\n\n{self.org.followups[step].question}"
        return Reply(text=text, choices=self.choices(step))

    def unmatched(self) -> Reply:
        """After an answer in the person's own words that matched no option: the key question
        again, one phone screen with its short examples, to pick the closest from."""
        prompt = self.prompt(KEY_QUESTION)
        return Reply(text=f"{self.say('unmatched_intro')}\n\n{prompt.text}", choices=prompt.choices)

    def examples(self) -> Reply:
        """The key question's options with all their standard examples, and the buttons."""
        lines = [self.say("examples_intro")]
        for option in self.question.options:
            detail = self.question.detail(option)
            lines.append(
                f"- {option.label}: {detail}" if detail != option.label else f"- {option.label}"
            )
        return Reply(text="\n".join(lines), choices=self.choices(KEY_QUESTION))

    def reaction(self, text: str) -> str | None:
        """A short reply to a remark made at an open step ("how long will this take?", "not
        interested", "is this a scam?"), or None when the text is no such remark."""
        folded = normal(text)
        for pattern, name in REACTIONS:
            if pattern.search(folded):
                return self.say(name)
        return None

    def reoffer(self, step: str) -> Reply:
        """The open step offered again in one short line, under an answer to something else."""
        return Reply(text=self.say("reoffer"), choices=self.choices(step))

    def confirm(self, choice_id: str) -> Reply:
        """ "Did you mean ...?" for a typed answer that names an example, not an option."""
        label = next(
            c.label for c in self.choices(choice_id.partition(":")[0]) if c.id == choice_id
        )
        return Reply(
            text=self.messages.render("did_you_mean", option=label),
            choices=(
                Choice(choice_id, self.messages.yes_label),
                Choice(f"{AGAIN}:{choice_id.partition(':')[0]}", self.messages.no_label),
            ),
        )

    def match_text(self, step: str, text: str) -> tuple[str, bool] | None:
        """The choice a typed answer means, and whether that is certain.

        Certain: its number (digits or a word), its label, or the start of one label only.
        Not certain (ask first): the text names an example or a word people use for an option.
        """
        choices = [c for c in self.choices(step) if c.id != FITS]
        typed = normal(text)
        if not typed:
            return None
        number = NUMBER_WORDS.get(typed, typed)
        if number.isdecimal() and number.isascii() and 1 <= int(number) <= len(choices):
            return choices[int(number) - 1].id, True
        labels = {c.id: normal(c.label) for c in choices}
        exact = [cid for cid, label in labels.items() if label == typed]
        if exact:
            return exact[0], True
        partial = [
            cid
            for cid, label in labels.items()
            if len(typed) >= 4 and (label.startswith(typed) or f" {typed} " in f" {label} ")
        ]
        if len(partial) == 1:
            return partial[0], True
        if step != KEY_QUESTION:
            return None
        spans = self._spans(typed)
        if not spans:
            return None
        best = max(end - start for start, end in spans.values())
        top = [cid for cid, (start, end) in spans.items() if end - start == best]
        if len(top) != 1:
            return None
        start, end = spans[top[0]]
        if any(e <= start or s >= end for s, e in spans.values()):
            return None  # two jobs ("mum a nurse, dad a builder"): whose counts is for the guide
        return top[0], False

    def _spans(self, typed: str) -> dict[str, tuple[int, int]]:
        """Where in normalised ``typed`` each key-question option's longest words are, by
        choice id: a word listed for it, one of its examples, or an owner's business."""
        padded = f" {typed} "
        # Plurals only for more than one earner ("my parents were cleaners", "both nurses"):
        # "drivers keep leaving" is a remark about staff, not an answer.
        several = SEVERAL_EARNERS.search(typed) is not None
        spans: dict[str, tuple[int, int]] = {}  # each option's longest words: where they are

        def hit(option_id: str, at: int, length: int) -> None:
            known = spans.get(f"kq:{option_id}")
            if at >= 0 and (known is None or length > known[1] - known[0]):
                spans[f"kq:{option_id}"] = (at, at + length)

        for option in self.question.options:
            for word in self.question.words(option):
                w = normal(word)
                if not w:
                    continue
                at = padded.find(f" {w} ")
                if at < 0 and several:
                    at, w = padded.find(f" {plural(w)} "), plural(w)
                hit(option.id, at, len(w))
        owner = self.question.owner(padded)  # "mum ran her own salon": not a hairdresser
        if owner is not None:
            hit(owner[0].id, owner[1], owner[2])
        return spans

    def names_no_job(self, text: str) -> bool:
        """Whether typed text names none of the key question's jobs ("my dad worked on the
        railways"), in any of the ways ``match_text`` reads them."""
        return not self._spans(normal(text))

    def value_of(self, step: str, value: str) -> str | None:
        """What a tapped choice stores for ``step``; None if it is not valid."""
        if step == KEY_QUESTION:
            return value if self.question.option(value) is not None else None
        options = self.org.followups[step].options
        if value == PREFER_NOT:
            return ""
        if value.isdecimal() and value.isascii() and int(value) < len(options):
            return options[int(value)]
        return None


SEVERAL_EARNERS = re.compile(EARNER + r"|\bboth\b|\bthey were\b|\bthey both\b")
"""Words that make the earners more than one person, in normalised text."""
REACTIONS = (
    (
        re.compile(
            r"^how long (?:will|does|is) (?:this|it)(?: take| going to take)?$"
            r"|\bhow many questions\b|\bhow much time (?:will|does) (?:this|it) take\b"
        ),
        "how_long",
    ),
    (
        re.compile(
            r"^(?:no thanks|no thank you|not interested|nah|no ta|not for me)$"
            r"|^i (?:dont|do not) want to (?:do|answer|fill|take part)"
        ),
        "not_interested",
    ),
    (
        # Only the bare question: "do I have to answer?" and "is this compulsory?" are the
        # guide's, whose fact says more; "do I have to?" alone has no word for it to go on.
        re.compile(r"^(?:do|must) i (?:have|need) to$"),
        "voluntary",
    ),
    (
        re.compile(
            r"\b(?:scam|phishing)\b"
            r"|\b(?:is|are) (?:this|it|you) (?:a )?(?:legit|legitimate|genuine|real|spam)\b"
        ),
        "genuine",
    ),
    (
        re.compile(
            r"\bwhats in it for me\b|\bwhat do i get\b|\bwhat does it do for me\b"
            r"|\bhow does (?:this|it) help me\b"
        ),
        "in_it_for_me",
    ),
)
"""Remarks people make at an open step, on the normalised text (``normal``), and the message
(survey/messages.toml, [reactions]) each gets before the step again."""
FITS = "fits:kq"
AGAIN = "again"
NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
NUMBER_WORDS.update({"first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5"})
NUMBER_WORDS.update({"sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9"})


def plural(words: str) -> str:
    """The plural of an occupation's last word ("cleaners", "lorry drivers", "secretaries",
    "postmen"): both parents may have done it ("my parents were cleaners")."""
    head, _, last = words.rpartition(" ")
    if last.endswith("man"):
        last = last[:-3] + "men"
    elif last.endswith("y") and last[-2:-1] not in ("", *"aeiou"):
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}".strip()


def normal(text: str) -> str:
    """Lower case, letters, digits and single spaces only ("I Prefer-not!" -> "i prefer not")."""
    cleaned = "".join(ch if ch.isalnum() or ch in "/'" else " " for ch in text.casefold())
    cleaned = cleaned.replace("'", "").replace("/", " ")
    return " ".join(cleaned.split())
