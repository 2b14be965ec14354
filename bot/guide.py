"""Guidance in the conversation: tips for a question, fitted to the asker and the data.

Choice ids are ``g:<what>:<value>``, stateless: "another tip" carries the ids still to show.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.events import Choice, Reply
from bot.reporting.figures import NOT_STATED
from bot.reporting.report import Report
from bot.reporting.shape import ShapeKind
from guidance.content import Fact, Tip
from guidance.ranker import EARNER_FACT, GROUP_FACT, Asker, Hit, Ranker, named_jobs, parent_job
from guidance.sectors import SECTOR_WORDS, UNLISTED_SECTORS, names
from storage.plan import Plan
from survey.content import CLASSIFIED, Benchmark, Group, benchmarks

NEXT = re.compile(
    r"\b(?:do|try|focus on) next\b|\bnext steps?\b|\bwhat now\b|"
    r"\bwhat should (?:we|i) do\b|\bwhere (?:do|should) (?:we|i) (?:start|begin)\b|"
    r"\bone thing (?:to|we|i) (?:do|could|can|should)\b|\bquick wins?\b|"
    r"\bwhere (?:do|should|can) (?:we|i) go (?:from here|next)\b|\bwhere next\b"
)
"""Questions that mean "what should we do next?", answered from the data where allowed."""
QUESTION = re.compile(
    r"\?|^(?:how|what|why|who|which|when|where|wheres|whens|can|could|should|would|will|is|are"
    r"|do|does|did|any|help)\b"
    r"|\b(?:what|whats|which|how|hows|why|whys|who|whos|ideas?|tips?|advice|meaning)\b"
)
"""Text that reads as a question or a request for help (matched on the casefolded text),
typed with its apostrophe or without ("whats the point of asking")."""
NEXT_QUERY = "what should we do next plan action"
"""What a "what next?" question is ranked as when the data has nothing to say."""
ENTRY_GAP_POINTS = -10.0
"""An entry level this far (or more) below the benchmark counts as under-representation."""
MORE = 5
NOTHING = "I don't have guidance on that. Pick a building block to browse:"
NOTHING_FOR_ADMINS = (
    "I don't have guidance on that. For your own figures, type report. Or pick a building "
    "block to browse:"
)
"""A question nothing answers; an admin asking "how are we doing?" is pointed to the report."""
OWN_FIGURE_FACTS = frozenset(
    {"f_response_rate", "f_benchmark", "f_cliff_edge", "f_prefer_not", "f_other"}
)
"""Facts about a figure the organisation has too: to the core HR team, the latest report's
own figure follows the fact (``own_figures``)."""
BLOCKS_QUESTION = re.compile(
    r"^\W*(?:the\s+)?(?:five\s+|5\s+)?building\s+blocks?\W*$"
    r"|\b(?:what|which)\s+(?:are|were)\s+(?:the\s+|your\s+|its\s+)?(?:five\s+|5\s+)?"
    r"(?:building\s+)?blocks\b"
    r"|\b(?:explain|list|summari[sz]e|outline|describe|overview\s+of|tell\s+me\s+about|show\s+me)"
    r"\s+(?:the\s+|all\s+(?:the\s+)?)?(?:five\s+|5\s+)?building\s+blocks\b"
)
"""A question about what the building blocks are ("what are the building blocks?", "explain
the five building blocks"), answered with all of them to browse, not ranked: no tip or fact
is about the set as a whole. "Which building block should we start with" is not one."""
BLOCKS_KEY = "blocks"
CLEAR_SCORE = 3.25
"""A first hit this strong matches the words themselves (a fact's phrase or several of its
words): "law firm benchmark" and "benchmark for accountancy" score 5.6-6.3 and "solicitors firms
norm" 3.3, while own words typed for a follow-up that only brush a fact ("not sure", "own
business", "from home") score 1.9-2.4 (the tuning half's short inputs, each scored by a ranker
without its batch, and bench/guidance_turns.py's own words). It was 4.0 before the lexical
score's weight was halved (``guidance.ranker.LEXICAL_WEIGHT``), which lowered every score: the
same nine of the tuning half's twelve short inputs with a fact first pass at both."""
TOPIC_SCORE = 2.75
"""At the key question, own words name a job or a workplace; a few words that name neither
and whose first hit is this strong, a tip or a fact about anything but the question's own
options and wording, ask for guidance. Chosen on the tuning half's short inputs of batches 1-31
that the ranker finds something for, each scored by a ranker without its batch: 24 of 26 pass
(20 of them answered right) against 21 (18) at ``CLEAR_SCORE``. None of the 55 own-words answers
typed at the key question in bench/guidance_turns.py is answered: "apprentice" scores 2.5 and
"own business" 2.3, "office job" (3.0) is about the question's wording, and a role ("team
leader", "middle management") is never a topic there (``ROLE`` in bot/engine.py). It was 3.0
before the lexical score's weight was halved: 25 of 26 passed then (20 right); at 2.5 now 25
would, but "apprentice" would be answered as a topic."""


def is_next(
    question: str, asker: Asker, *, with_data: bool, search: Callable[[str, Asker], list[Hit]]
) -> bool:
    """Whether a question goes to "what next?" (from the data where allowed) not the ranker.

    Only a question that asks what to do and nothing more: "what should we do next?", "where
    do we start, we've done nothing". One that names what it is about ("what should I do with
    the numbers", "lots chose prefer not to say, what now") is ranked as asked, unless what it
    names is itself the plan, or the question as asked finds nothing ("figures landed on my
    desk, where do I go from here") (``search`` is the ranker's, or a guide's that
    remembers)."""
    folded = question.casefold()
    if not NEXT.search(folded) or (asker.small_org and not with_data):
        return False
    about = search(NEXT.sub(" ", folded), asker)
    return not about or about[0].key == "plan" or not search(question, asker)


def ranked_as(question: str, asker: Asker, search: Callable[[str, Asker], list[Hit]]) -> str:
    """The text the guide ranks for a question when no data chooses the tip: a "what next?"
    question is ranked as the plan question (as ``Guide.next`` does), any other as asked. The
    guidance benches score questions this way."""
    return NEXT_QUERY if is_next(question, asker, with_data=False, search=search) else question


@dataclass(frozen=True)
class Signal:
    """What the organisation's (protected) report says, and the tip it calls for: ``reason``
    with its figures, for admins; ``plain`` without them, for anyone else the data guides
    (managers in KEYQ_MANAGERS): only the core HR team sees totals."""

    tip_id: str
    reason: str
    plain: str

    def told(self, *, figures: bool) -> str:
        return self.reason if figures else self.plain


def signals(report: Report | None, headcount: int | None = None) -> list[Signal]:
    """Signals from the latest published report, strongest first."""
    if report is None or not report.overall.answers:
        if headcount is not None and headcount < 10:  # too few staff to ever report on
            small = "With fewer than ten staff, totals could point to people."
            return [Signal("d5", small, small)]
        none = "You don't have enough answers to report on yet."
        return [Signal("d1", none, none)]
    found = []
    if report.below_target and report.response_rate is not None:
        found.append(
            Signal(
                "d3",
                f"Your response rate is {report.response_rate:.0%}, under "
                f"your {report.response_rate_target:.0%} target.",
                "Your response rate is under your target.",
            )
        )
    shape = report.shape
    if shape is not None and shape.kind is ShapeKind.CLIFF_EDGE and shape.drop_between:
        lower, upper = shape.drop_between
        cliff = (
            f"Your latest report shows a cliff edge: the working-class "
            f"share drops sharply between {lower} and {upper}."
        )
        found.append(Signal("p5", cliff, cliff))  # where, not how much
    level = next((b for b in report.breakdowns if b.dimension == "level"), None)
    entry = (
        next((r for r in level.rows if r.unit != NOT_STATED and r.classified), None)
        if (level)
        else None
    )
    if entry is not None:
        working = next(g for g in entry.groups if g.group is Group.WORKING_CLASS)
        gap = (
            working.sector_gap_points
            if working.sector_gap_points is not None
            else (working.national_gap_points)
        )
        if gap is not None and gap <= ENTRY_GAP_POINTS and working.share is not None:
            against = report.sector_benchmark or report.national_benchmark
            found.append(
                Signal(
                    "t1",
                    f"At {entry.unit}, {working.share:.0%} are from "
                    f"working-class backgrounds, {-gap:.0f} points below the "
                    f"{against} benchmark.",
                    f"At {entry.unit}, the working-class share is well below the "
                    f"{against} benchmark.",
                )
            )
    return found


class Guide:
    """Answers "what should we do next?" and free questions through the engine.

    Args:
        ranker: ranks tips for a question.
        plan: the organisation's action plan.
        latest_report: the latest protected report, or None if there is none.
        clock: today's date comes from here.
        check_in_every: how long after adopting (or last asking) an admin is asked again.
    """

    def __init__(
        self,
        *,
        ranker: Ranker,
        plan: Plan,
        latest_report: Callable[[], Awaitable[Report | None]],
        clock: Callable[[], dt.datetime],
        check_in_every: dt.timedelta,
        headcount: int | None = None,
        sector: str | None = None,
    ) -> None:
        self._ranker = ranker
        self._guidance = ranker.guidance
        self._plan = plan
        self._latest_report = latest_report
        self._clock = clock
        self._every = check_in_every
        self._headcount = headcount
        self._sector = sector
        self._last: dict[tuple[str, Asker], list[Hit]] = {}

    def _search(self, question: str, asker: Asker) -> list[Hit]:
        """The ranker's hits. The last two searches are kept: a turn judges a question
        (``first``) and then answers it (``ask``) with the same ones, the question itself and,
        for a "what next?", what it names besides (``is_next``)."""
        hits = self._last.get((question, asker))
        if hits is None:
            hits = self._ranker.search(question, asker)
            self._last = {**dict(list(self._last.items())[-1:]), (question, asker): hits}
        return hits

    def first(self, question: str, asker: Asker) -> str | None:
        """What the guide would answer with first (a block or a fact id, ``BLOCKS_KEY`` for
        the blocks themselves), None for nothing; "what next?" questions are the plan's."""
        if BLOCKS_QUESTION.search(question.casefold()):
            return BLOCKS_KEY
        if is_next(question, asker, with_data=False, search=self._search):
            return "plan"
        hits = self._search(question, asker)
        return hits[0].key if hits else None

    def clear_match(self, question: str, asker: Asker, *, score: float = CLEAR_SCORE) -> bool:
        """Whether the first hit matches the question's words strongly (``score``)."""
        hits = self._search(question, asker)
        return bool(hits) and hits[0].score >= score

    async def ask(
        self,
        question: str,
        asker: Asker,
        *,
        with_data: bool,
        figures: bool = False,
        offer_tips: bool = True,
    ) -> list[Reply]:
        """A free question: "what next?" questions go to ``next``, others to the ranker.
        ``with_data``: the data may choose the tip; ``figures``: its figures may be shown (the
        core HR team only); ``offer_tips``: a fact may offer a tip on it (not to someone half-way
        through answering)."""
        if BLOCKS_QUESTION.search(question.casefold()):
            return [self._blocks_reply()]
        if is_next(question, asker, with_data=with_data, search=self._search):
            return await self.next(asker, with_data=with_data, figures=figures)
        return await self.answer(question, asker, figures=figures, offer_tips=offer_tips)

    async def next(self, asker: Asker, *, with_data: bool, figures: bool = False) -> list[Reply]:
        """The most useful next step: from the data's strongest signal, else from the guide."""
        if with_data:
            found = signals(await self._latest_report(), self._headcount)
            if found:
                rest = [s.tip_id for s in found[1:]]
                tip = self._guidance.tip(found[0].tip_id)
                assert tip is not None
                return [self._tip_reply(tip, rest, reason=found[0].told(figures=figures))]
        return await self.answer(NEXT_QUERY, asker)

    async def answer(
        self, question: str, asker: Asker, *, figures: bool = False, offer_tips: bool = True
    ) -> list[Reply]:
        hits = self._search(question, asker)
        if not hits:
            return [
                Reply(
                    text=NOTHING_FOR_ADMINS if figures else NOTHING,
                    choices=self._menu(self._ranker.likely_blocks(question)),
                )
            ]
        tips = [h.tip for h in hits if h.tip is not None]
        fact = hits[0].fact
        if fact is not None:
            own = None
            if figures and fact.id in OWN_FIGURE_FACTS:
                own = own_figures(fact.id, await self._latest_report())
            rest = [t.id for t in tips[:MORE]] if offer_tips else []
            return [self._fact_reply(fact, question, rest, own=own)]
        return [self._tip_reply(tips[0], [t.id for t in tips[1 : MORE + 1]])]

    def _blocks_reply(self) -> Reply:
        text = (
            "The building blocks\nThe Commission's guide sorts what an employer can do into five"
            " building blocks, to take in any order; keyq adds a sixth, making a plan. Pick"
            " one to see its tips.\nSource: The building blocks guide."
        )
        return Reply(text=text, choices=self._menu())

    def _fact_reply(
        self, fact: Fact, question: str, rest: list[str], *, own: str | None = None
    ) -> Reply:
        """The fact, fitted to the question (a named sector's benchmark, a named job's group),
        with ``own``, the organisation's own figure, after it."""
        answer = fact.answer
        if "{benchmarks}" in answer:
            answer = answer.replace("{benchmarks}", benchmark_text(question, self._sector))
        named = fact.id in GROUP_FACT.values() or fact.id == EARNER_FACT
        if named and (jobs := job_groups(question)):
            answer = f"{jobs}\n{answer}"
        # A staff-side fact answers the person asked the question: no manager's tip after it.
        offer = rest and fact.audience != "staff"
        choices = (Choice(f"g:more:{'.'.join(rest)}", "A tip on this"),) if offer else ()
        if own:
            answer = f"{answer}\n{own}"
        return Reply(text=f"{fact.title}\n{answer}\nSource: {fact.source}.", choices=choices)

    async def choice(self, what: str, value: str, asker: Asker, *, may_plan: bool) -> list[Reply]:
        ids = [v for v in value.split(".") if v]
        if what == "more":
            tips = [t for t in map(self._guidance.tip, ids) if t is not None]
            if not tips:
                return [
                    Reply(
                        text="That's all I have on this. Pick a building block to browse:",
                        choices=self._menu(),
                    )
                ]
            return [self._tip_reply(tips[0], [t.id for t in tips[1:]])]
        if what == "why" and ids and (tip := self._guidance.tip(ids[0])):
            text = f"Why: {tip.why}\nSource: {tip.source}."
            return [Reply(text=text, choices=self._tip_choices(tip, ids[1:], why=False))]
        if what == "block" and value in self._guidance.blocks:
            tips = self._ranker.by_block(value, asker)
            return [self._tip_reply(tips[0], [t.id for t in tips[1:]])]
        if what == "adopt" and ids and (tip := self._guidance.tip(ids[0])):
            return [await self._adopt(tip, may_plan=may_plan)]
        if what in ("done", "later") and value.isdigit():
            if not may_plan:
                return [Reply(text="Only admins and managers can change the action plan.")]
            if what == "later":
                await self._plan.snooze(int(value), self._today())
                return [Reply(text="Fine, I'll ask again later.", replaces_prompt=True)]
            return [await self.done(int(value))]
        return [Reply(text="Sorry, I didn't recognise that button.")]

    async def plan_text(self) -> list[Reply]:
        actions = await self._plan.actions()
        if not actions:
            return [
                Reply(
                    text="Your action plan is empty. Ask me what to do next and adopt a "
                    "tip to start it."
                )
            ]
        lines, choices = ["Your action plan:"], []
        for action in actions:
            tip = self._guidance.tip(action.tip_id)
            title = tip.title if tip else action.tip_id
            state = (
                f"done {action.done_on:%d %b %Y}"
                if action.status == "done"
                else f"open since {action.adopted_on:%d %b %Y}"
            )
            lines.append(f"#{action.id} {title} ({state})")
            if action.status == "open":
                choices.append(Choice(f"g:done:{action.id}", f"#{action.id} done"))
        return [Reply(text="\n".join(lines), choices=tuple(choices[:8]))]

    async def done(self, action_id: int) -> Reply:
        action = await self._plan.complete(action_id, self._today())
        if action is None:
            return Reply(text=f"There is no open action #{action_id}. Type plan to see them.")
        return Reply(
            text=f"Marked #{action_id} as done. Well done: that closes part of the say/do gap."
        )

    async def check_in(self) -> list[Reply]:
        """For an admin: asks about the oldest open action once it is due."""
        action = await self._plan.due_check_in(self._today(), self._every)
        if action is None:
            return []
        tip = self._guidance.tip(action.tip_id)
        title = tip.title if tip else action.tip_id
        return [
            Reply(
                text=f'Checking in on your plan: "{title}" (#{action.id}), adopted '
                f"{action.adopted_on:%d %b %Y}. Is it done?",
                choices=(
                    Choice(f"g:done:{action.id}", "Done"),
                    Choice(f"g:later:{action.id}", "Not yet"),
                ),
            )
        ]

    async def _adopt(self, tip: Tip, *, may_plan: bool) -> Reply:
        if not may_plan:
            return Reply(
                text="Only admins and managers can add to the action plan; share this "
                "tip with them."
            )
        action, new = await self._plan.adopt(tip.id, self._today())
        if not new:
            return Reply(text=f'"{tip.title}" is already in your plan as #{action.id}.')
        days = self._every.days
        return Reply(
            text=f'Added "{tip.title}" to your action plan as #{action.id}. I\'ll ask '
            f"an admin how it's going in {days} days. Type plan to see the plan."
        )

    def _tip_reply(self, tip: Tip, rest: list[str], *, reason: str | None = None) -> Reply:
        block = self._guidance.blocks[tip.block].name
        lines = [f"{block}: {tip.title}", tip.text]
        if reason:
            lines.insert(0, f"{reason} So:")
        return Reply(text="\n".join(lines), choices=self._tip_choices(tip, rest))

    def _tip_choices(self, tip: Tip, rest: list[str], *, why: bool = True) -> tuple[Choice, ...]:
        rest_ids = ".".join(rest[:MORE])
        choices = [Choice(f"g:more:{rest_ids}", "Another tip")]
        if why:
            choices.append(Choice(f"g:why:{tip.id}.{rest_ids}", "Why this?"))
        choices.append(Choice(f"g:adopt:{tip.id}", "Adopt it"))
        return tuple(choices)

    def _menu(self, order: list[str] | None = None) -> tuple[Choice, ...]:
        """The building blocks as choices, in ``order`` if given (else the guide's own)."""
        blocks = self._guidance.blocks
        keys = [k for k in order or () if k in blocks] or list(blocks)
        keys += [k for k in blocks if k not in keys]
        return tuple(Choice(f"g:block:{key}", blocks[key].name[:30]) for key in keys)

    def _today(self) -> dt.date:
        return self._clock().date()


JOB_GROUP = {
    Group.PROFESSIONAL: "a professional background",
    Group.INTERMEDIATE: "an intermediate background",
    Group.WORKING_CLASS: "a working-class background",
    Group.OTHER: "reported apart from the three groups",
}


def job_groups(question: str) -> str:
    """Where the jobs a question names fall ("Nurse: the "Professional" answer, a professional
    background."), for the first two; empty when it names none, or names one without asking
    about its group ("more working-class managers")."""
    if parent_job(question) is None:
        return ""
    lines = [  # named_jobs finds the jobs of the groups with a fact: those JOB_GROUP words
        f'{word[:1].upper()}{word[1:]}: the "{option.label}" answer, {JOB_GROUP[option.group]}.'
        for word, option in named_jobs(question)[:2]
    ]
    if len(lines) > 1:
        lines.append("The answer is the main earner's job.")
    return " ".join(lines)


LISTED_SECTORS = (
    "Sector figures exist for finance, law, accounting, consultancy and the creative industries"
)


APART = {
    "f_prefer_not": (Group.PREFER_NOT_TO_SAY, '"I prefer not to say"'),
    "f_other": (Group.OTHER, '"Other"'),
}
"""The facts about an answer reported apart from the three groups, and that answer."""


def own_figures(fact_id: str, report: Report | None) -> str | None:
    """The organisation's own figure for a fact about one (``OWN_FIGURE_FACTS``), from the
    latest protected report; None if there is none, or if any figure it needs is hidden."""
    if report is None:
        return None
    if fact_id == "f_response_rate":
        if report.response_rate is None:
            if report.headcount is None and report.overall.answers:
                return (
                    f"Your latest report: {report.overall.answers} answers. Set your headcount "
                    "in keyq.toml to see your response rate."
                )
            return None
        return (
            f"Your latest report: {report.response_rate:.0%} answered, against a target of "
            f"{report.response_rate_target:.0%}."
        )
    if fact_id == "f_cliff_edge":
        return None if report.shape is None else f"Your latest report: {report.shape.explanation}"
    if fact_id in APART:
        group, label = APART[fact_id]
        count = next(g.count for g in report.overall.groups if g.group is group)
        total = report.overall.answers
        if count is None or not total:
            return None
        return f"Your latest report: {count} of {total} answers ({count / total:.0%}) were {label}."
    if fact_id != "f_benchmark":
        return None
    shares = {g.group: g.share for g in report.overall.groups if g.group in CLASSIFIED}
    if len(shares) != len(CLASSIFIED) or any(share is None for share in shares.values()):
        return None
    words = ", ".join(f"{shares[g]:.0%} {g.value.replace('_', ' ')}" for g in CLASSIFIED)
    return f"Your latest report: {words}."


def _shares(benchmark: Benchmark) -> str:
    return (
        f"{benchmark.professional:g}% professional, {benchmark.intermediate:g}% intermediate, "
        f"{benchmark.working_class:g}% working class"
    )


def benchmark_text(question: str, own_sector: str | None = None) -> str:
    """The national benchmark, and a sector's when the question names one (or the
    organisation has one), with the figures themselves and where they come from."""
    found = benchmarks()
    text = question.casefold()
    named = [key for key, words in SECTOR_WORDS.items() if names(text, words)]
    national = found.national
    lines = [f"{national.name}: {_shares(national)} ({national.source})."]
    for key in named[:2] or ([own_sector] if own_sector else []):
        sector = found.sectors.get(key)
        if sector is not None:
            lines.append(f"{sector.name}: {_shares(sector)} ({sector.source}).")
    if not named and names(text, UNLISTED_SECTORS):
        lines.append(
            "There is no published sector figure for that one here: compare with the UK "
            f"workforce. {LISTED_SECTORS}."
        )
    elif not named and not own_sector:
        lines.append(f"{LISTED_SECTORS}: name yours, or set it in keyq.toml.")
    return " ".join(lines)
