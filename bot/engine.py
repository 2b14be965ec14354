"""The engine: ``handle(incoming) -> replies``, one transaction per turn, no channel SDK."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.events import Channel, Incoming, Reply, UserRef
from bot.flow import AGAIN, FITS, INTRO, KEY_QUESTION, PREFER_NOT, Survey, normal
from bot.guide import QUESTION, TOPIC_SCORE, Guide
from guidance.content import Audience
from guidance.ranker import EARNER_FACT, GROUP_FACT, Asker
from storage.store import Conflict, Saved, Store, Unit
from survey.content import NAMES_EARNER, Group

logger = logging.getLogger(__name__)

AdminReport = Callable[[str], Awaitable[list[Reply]]]
Later = Callable[[], Awaitable[list[Reply]]]
"""Replies worked out after the turn's transaction commits (reports read and write a lot)."""
COMMANDS = frozenset(
    {"start", "help", "privacy", "report", "stop", "remind", "forget", "dashboard"}
)
CONFLICT_ATTEMPTS = 6
MAX_TEXT = 4096
"""The longest message Telegram carries; anything longer is cut before keyq reads it."""
MAX_QUESTION = 500
"""Free text longer than this is cut before ranking (the platforms cap a message anyway)."""
EARNER_FIRST = re.compile(r"(?:he|she|they)\b(?! (?:say|said|says|asked|ask)\b)")
"""Text that starts with the earner ("he fixed cars"), not with what someone said."""
ASKING = re.compile(
    r"\b(?:whose|does|do (?:i|we|you)|shall|should|can|could|would|is (?:it|that|this|he|she)"
    r"|are (?:they|we))\b"
)
"""Asking words inside a sentence ("parents divorced, whose job counts", "my parents lived
abroad, does that count"): a question about the answer, for the guide."""
GUIDE_COMMANDS = frozenset({"next", "tip", "tips", "advice", "guidance", "plan", "actions", "done"})
GROUP_FACTS = frozenset(GROUP_FACT.values())
"""Facts a job's name finds: typed where an answer is expected, the job is the answer."""
OWN_OPTION_FACTS = GROUP_FACTS | {EARNER_FACT}
"""Facts about the key question's own options and wording, which own words typed as an answer
brush ("not sure", "office job"): at the key question, those are taken as an answer."""
ROLE = re.compile(
    r"\b(?:leaders?|manag\w*|supervis\w*|directors?|heads?|boss|foreman|officers?|workers?"
    r"|assistants?|staff|exec\w*)\b"
)
"""A role or a level ("team leader", "middle management"): at the key question, where it may
be the earner's job in the person's own words, it is not a topic to answer, though the
guidance has tips about team leaders and managers."""
SENTENCE_WORDS = frozenset({"help"})
"""Commands that take no argument: typed with more words (and no slash) that the guide has an
answer for, the whole text is a question ("help my team develop"); otherwise ("help me") the
command."""
ADMIN_WORDS = frozenset({"report", "remind", "dashboard"})
"""Commands only admins (the dashboard: admins and listed managers) may use. For anyone else a
sentence that starts with one and asks something is a question: "report shows a cliff edge at
our grades, explain?" from a manager is answered, not refused."""


@dataclass
class _Turn:
    """What one turn has to work with, and what it decided."""

    unit: Unit
    incoming: Incoming
    tag: bytes
    saved: Saved | None
    replies: list[Reply | Later] = field(default_factory=list)
    answered_campaign: str | None = None
    replay: bool = False

    @property
    def state(self) -> dict[str, Any] | None:
        return self.saved.state if self.saved else None


class Engine:
    """Runs the survey conversation for any channel.

    Args:
        store: where state, the ledger and answers live.
        survey: question, messages and the organisation's follow-ups.
        admins: refs such as ``slack:U0123`` allowed to see reports.
        admin_report: builds what an admin sees on typing ``report`` (given what followed it).
        flush_batch: answers join the totals in shuffled batches of this size.
        guide: answers "what should we do next?" and free questions; None turns guidance off.
        managers: refs of managers, who get data-fitted guidance and may change the plan.
        small_org: whether the organisation gets the small-organisation tips first.
    """

    def __init__(
        self,
        *,
        store: Store,
        survey: Survey,
        admins: frozenset[str],
        admin_report: AdminReport,
        admin_remind: AdminReport | None = None,
        dashboard: AdminReport | None = None,
        flush_batch: int = 10,
        guide: Guide | None = None,
        managers: frozenset[str] = frozenset(),
        small_org: bool = False,
    ) -> None:
        self._store = store
        self._survey = survey
        self._admins = admins
        self._admin_report = admin_report
        self._admin_remind = admin_remind
        self._dashboard = dashboard
        self._flush_batch = flush_batch
        self._guide = guide
        self._managers = managers
        self._small_org = small_org
        self._flushing: set[asyncio.Task[None]] = set()
        self._flush_again: set[str] = set()
        # Per campaign, at least how many complete answers wait: the last count plus the
        # answers this process stored since (other processes' are not seen, so it is a floor).
        self._waiting_at_least: dict[str, int] = {}

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Handles one event; never raises.

        A replayed event id changes nothing. A replayed tap (a platform redelivering after a
        crash or a time-out, when the first reply may never have arrived) gets the neutral
        receipt; a replayed message gets nothing, so a platform's retry never says it twice.
        """
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                turn = await self._run(incoming)
            except Conflict:
                # A double tap or a burst raced us: run again against the newer state.
                await asyncio.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311
                continue
            except Exception as exc:
                self._log_failure(exc)
                return [Reply(text=self._survey.say("error"))]
            if turn is None:
                return []
            if turn.replay:
                receipt = Reply(text=self._survey.say("receipt"))
                return [receipt] if incoming.choice is not None else []
            if turn.answered_campaign:
                self._flush_later(turn.answered_campaign)
            if self._guide and self.is_admin(incoming) and incoming.choice is None:
                turn.replies.append(self._guide.check_in)
            return await self._resolve(turn.replies)
        return [Reply(text=self._survey.say("error"))]

    async def _resolve(self, replies: list[Reply | Later]) -> list[Reply]:
        resolved: list[Reply] = []
        for item in replies:
            if isinstance(item, Reply):
                resolved.append(item)
                continue
            try:
                resolved.extend(await item())
            except Exception as exc:
                self._log_failure(exc)
                resolved.append(Reply(text=self._survey.say("error")))
        return resolved

    @property
    def admins(self) -> frozenset[str]:
        return self._admins

    def person_tag(self, user: UserRef) -> bytes:
        """The keyed tag a person's contact record lives under (not used for answers)."""
        return self._store.keys.tag("person", user.channel.value, user.workspace, user.user_id)

    async def register_contact(
        self, user: UserRef, address: str, timezone: str | None = None
    ) -> None:
        """A new joiner the platform told us about (Slack team_join): reachable later."""
        try:
            async with self._store.unit() as unit:
                tag = self.person_tag(user)
                await unit.touch_contact(
                    tag,
                    user.channel.value,
                    {"user": user.user_id, "workspace": user.workspace, "address": address},
                )
                if timezone:
                    await unit.set_contact(tag, timezone=timezone)
        except Exception as exc:
            self._log_failure(exc)

    async def set_reachable(self, user: UserRef, reachable: bool) -> None:
        """Records that a person blocked (or unblocked) keyq, so reminders skip them."""
        try:
            async with self._store.unit() as unit:
                await unit.set_contact(self.person_tag(user), reachable=reachable)
        except Exception as exc:
            self._log_failure(exc)

    def is_admin(self, incoming: Incoming) -> bool:
        return incoming.user.admin_ref in self._admins

    def _may_plan(self, incoming: Incoming) -> bool:
        return self.is_admin(incoming) or incoming.user.admin_ref in self._managers

    def _starts_a_question(self, incoming: Incoming, command: str, text: str) -> bool:
        """Whether a command word with more words after it starts a question instead: one of
        ``SENTENCE_WORDS`` the guide has an answer for, or one of the ``ADMIN_WORDS`` this
        person may not use in a sentence that asks something ("remind me, which buckets do
        answers go in?", not "remind list") or that a fact clearly answers, asked or not
        ("remind me of the exact question staff get", "dashboard leaves the Leeds team empty
        though they replied"); "report for my team please" is still only for the core HR
        team."""
        if command in SENTENCE_WORDS:
            return bool(self._judge(incoming, text))
        if command not in ADMIN_WORDS:
            return False
        allowed = self._may_open_dashboard if command == "dashboard" else self.is_admin
        if allowed(incoming):
            return False
        if QUESTION.search(text.casefold()) is not None:
            return bool(self._judge(incoming, text))
        if len(text.split()) < 4 or self._guide is None:
            return False
        return self._fact_clearly(incoming, text, self._guide.first(text, self._asker(incoming)))

    def _fact_clearly(self, incoming: Incoming, text: str, first: str | None) -> bool:
        """Whether ``first``, the guide's first answer to ``text``, is a fact that matches it
        clearly."""
        guide = self._guide
        return (
            guide is not None
            and bool(first and first.startswith("f_"))
            and guide.clear_match(text, self._asker(incoming))
        )

    def _may_open_dashboard(self, incoming: Incoming) -> bool:
        return self._dashboard is not None and incoming.private and self._may_plan(incoming)

    def _asker(self, incoming: Incoming) -> Asker:
        role = Audience.HR if self.is_admin(incoming) else Audience.LINE_MANAGERS
        return Asker(role=role, small_org=self._small_org)

    def _on_guide_command(self, turn: _Turn, command: str, argument: str) -> None:
        guide, incoming = self._guide, turn.incoming
        assert guide is not None
        asker = self._asker(incoming)
        if command in ("plan", "actions"):
            turn.replies.append(guide.plan_text)
        elif command == "done":
            number = argument.lstrip("#")
            if not number.isdigit():
                turn.replies.append(Reply(text="Say which action, for example: done 2."))
            elif self._may_plan(incoming):
                turn.replies.append(lambda: _one(guide.done(int(number))))
            else:
                turn.replies.append(Reply(text="Only admins and managers can change the plan."))
        elif argument:  # "next steps", "tips on interviews": the whole text is the question
            with_data, question = self._may_plan(incoming), f"{command} {argument}"[:MAX_QUESTION]
            figures = self.is_admin(incoming)
            turn.replies.append(
                lambda: guide.ask(question, asker, with_data=with_data, figures=figures)
            )
        else:
            with_data, figures = self._may_plan(incoming), self.is_admin(incoming)
            turn.replies.append(lambda: guide.next(asker, with_data=with_data, figures=figures))
        self._carry_on(turn)

    def _carry_on(self, turn: _Turn) -> None:
        """With a step open, offer it again under what was just said, in one short line with its
        buttons; with none open, nothing."""
        if turn.state is not None:
            turn.replies.append(self._survey.reoffer(turn.state["step"]))

    def _judge(self, incoming: Incoming, text: str, *, step: str = INTRO) -> bool | None:
        """Whether free text that is not a survey answer is for the guide.

        A question of four words or more is answered (the guide says when it has nothing on it,
        and offers its blocks); so is anything from managers and admins that ends in "?" or runs
        to four words; and anything the guide finds relevant, however short ("law firm
        benchmark", "apprenticeships"). Small talk ("hi", "ok") is not: it gets the step again.
        While an answer is expected (``step``: the key question or a follow-up), a few words
        that do not ask anything are most likely an answer in the person's own words ("team
        leader", "warehouse"): only a fact about the method that matches the words clearly
        answers those ("cliff edge meaning", not "from home"); at the key question, where own
        words name a job or a workplace, a few words that name none of its jobs are answered
        when a tip or a fact not about its options matches them (``TOPIC_SCORE``:
        "apprenticeships", "retail norms"; not "apprentice", "own business" or a ``ROLE``,
        "team leader"); for the rest the answer is None (the guide has something, but the text
        was not asked).
        """
        if self._guide is None:
            return False
        words, asks = len(text.split()), QUESTION.search(text.casefold()) is not None
        if words >= 4 and asks:  # it asks something: say what we have
            return True
        if self._may_plan(incoming) and (text.endswith("?") or words >= 4):
            return True
        first = self._guide.first(text, self._asker(incoming))
        if first is None:
            return False
        if step != INTRO and words < 4 and not asks:
            method = first not in GROUP_FACTS and self._fact_clearly(incoming, text, first)
            topic = (
                step == KEY_QUESTION
                and first not in OWN_OPTION_FACTS
                and self._survey.names_no_job(text)
                and ROLE.search(text.casefold()) is None
                and self._guide.clear_match(text, self._asker(incoming), score=TOPIC_SCORE)
            )
            return True if method or topic else None
        return True

    async def _run(self, incoming: Incoming) -> _Turn | None:
        keys = self._store.keys
        user = incoming.user
        tag = self._conversation_tag(user)
        async with self._store.unit() as unit:
            digest = (
                keys.tag("event", user.channel.value, user.workspace, incoming.event_id)
                if incoming.event_id is not None
                else None
            )
            contact = None
            if incoming.private and incoming.address is not None and incoming.choice is None:
                address = {
                    "user": user.user_id,
                    "workspace": user.workspace,
                    "address": incoming.address,
                }
                contact = (self.person_tag(user), user.channel.value, address)
            claimed, saved = await unit.claim_and_load(digest, tag, contact=contact)
            if not claimed:
                logger.info("ignored a repeated delivery")
                return _Turn(unit=unit, incoming=incoming, tag=tag, saved=None, replay=True)
            turn = _Turn(unit=unit, incoming=incoming, tag=tag, saved=saved)
            if incoming.choice is not None:
                await self._on_choice(turn, incoming.choice, tapped=True)
            else:
                await self._on_text(turn, (incoming.text or "")[:MAX_TEXT].strip())
            return turn

    # Text ---------------------------------------------------------------------------------

    async def _on_text(self, turn: _Turn, text: str) -> None:
        command, _, argument = text.lstrip("/").partition(" ")
        command = command.split("@", 1)[0].casefold()
        if (
            argument.strip()
            and not text.startswith("/")
            and self._starts_a_question(turn.incoming, command, text)
        ):
            command = ""
        if command in COMMANDS:
            await self._on_command(turn, command, argument.strip())
            return
        if command in GUIDE_COMMANDS and self._guide is not None:
            self._on_guide_command(turn, command, argument.strip())
            return
        state = turn.state
        if state is not None:
            step = state["step"]
            if step == KEY_QUESTION and normal(text) in ("examples", "which one fits me"):
                turn.replies.append(self._survey.examples())
                return
            matched = self._survey.match_text(step, text)
            if matched is not None and matched[1]:
                await self._on_choice(turn, matched[0], tapped=False)
                return
            if matched is not None and _answer_like(text):  # never store a guess: ask first
                turn.replies.append(self._survey.confirm(matched[0]))
                return
            reaction = self._survey.reaction(text)
            if reaction is not None:  # "how long will this take?", "not interested"
                turn.replies.append(Reply(text=reaction))
                turn.replies.append(self._survey.reoffer(step))
                return
            if step == KEY_QUESTION and _about_the_earner(text) and self._survey.names_no_job(text):
                # "my dad worked on the railways": an answer in the person's own words that
                # names no job the options list. The options and their examples help them
                # pick; a fact about the groups (or "Other", for "other people's kids") did not.
                turn.replies.append(self._survey.unmatched())
                return
            # A question or remark that happens to name a job ("how do I convince my CEO?",
            # "nobody from the warehouse becomes a manager") is for the guide.
            judged = self._judge(turn.incoming, text, step=step)
            if judged:
                # Half-way through answering, a fact comes without the offer of a manager's tip
                # (unless they are one): the person asking is answering the survey.
                self._answer_question(turn, text, offer_tips=step == INTRO)
                turn.replies.append(self._survey.reoffer(step))
                return
            if matched is not None:
                turn.replies.append(self._survey.confirm(matched[0]))
                return
            reask = "reask" if judged is False else "reask_or_ask"  # say how to ask instead
            turn.replies.append(
                Reply(text=self._survey.say(reask), choices=self._survey.choices(step))
            )
            return
        if text.startswith("/"):
            turn.replies.append(Reply(text=self._survey.say("unknown")))
            return
        if self._judge(turn.incoming, text):
            self._answer_question(turn, text)
            return
        await self._begin(turn, campaign_hint=None)

    def _answer_question(self, turn: _Turn, text: str, *, offer_tips: bool = True) -> None:
        guide, asker = self._guide, self._asker(turn.incoming)
        with_data, figures = self._may_plan(turn.incoming), self.is_admin(turn.incoming)
        assert guide is not None
        question, offer = text[:MAX_QUESTION], offer_tips or with_data  # managers: always
        turn.replies.append(
            lambda: guide.ask(
                question, asker, with_data=with_data, figures=figures, offer_tips=offer
            )
        )

    async def _on_command(self, turn: _Turn, command: str, argument: str) -> None:
        survey = self._survey
        if command == "forget" and argument.casefold() == "me":
            await turn.unit.forget_contact(self.person_tag(turn.incoming.user))
            turn.replies.append(Reply(text=survey.say("forgotten")))
            self._carry_on(turn)
            return
        if command in ("stop", "start") and argument.casefold() == "reminders":
            opted_out = command == "stop"
            known = await turn.unit.set_contact(
                self.person_tag(turn.incoming.user), opted_out=opted_out
            )
            name = "reminders_stopped" if opted_out else "reminders_started"
            turn.replies.append(Reply(text=survey.say(name if known else "reminders_unknown")))
            return
        if command == "stop":
            turn.replies.append(Reply(text=survey.say("stop_hint")))
            return
        if command == "start":
            await self._begin(turn, campaign_hint=argument or turn.incoming.campaign, restart=True)
            return
        if command == "dashboard":
            dashboard, ref = self._dashboard, turn.incoming.user.admin_ref
            if dashboard is not None and self._may_open_dashboard(turn.incoming):
                turn.replies.append(lambda: dashboard(ref))
            else:
                turn.replies.append(Reply(text=survey.say("not_admin")))
            self._carry_on(turn)
            return
        if command in ("report", "remind"):
            handler = self._admin_report if command == "report" else self._admin_remind
            if self.is_admin(turn.incoming) and handler is not None:
                turn.replies.append(lambda: handler(argument))
            else:
                turn.replies.append(Reply(text=survey.say("not_admin")))
        elif command == "help":
            text = survey.say("help")
            if self.is_admin(turn.incoming):
                text += "\n\n" + survey.say("admin_help")
            turn.replies.append(Reply(text=text))
        else:
            turn.replies.append(Reply(text=survey.say("privacy")))
        self._carry_on(turn)

    # Choices ------------------------------------------------------------------------------

    async def _on_choice(self, turn: _Turn, choice: str, *, tapped: bool) -> None:
        survey = self._survey
        if choice == FITS:
            if turn.state is not None and turn.state["step"] == KEY_QUESTION:
                turn.replies.append(survey.examples())
            else:
                await self._stale(turn)
            return
        step, _, value = choice.partition(":")
        if step == "r":  # a reminder's "Answer now", however old the message: straight to it
            state = turn.state
            if state is not None and state["step"] == INTRO and turn.saved is not None:
                state["step"] = KEY_QUESTION
                await turn.unit.save_conversation(turn.tag, state, turn.saved.version)
            await self._begin(
                turn, campaign_hint=None, restart=state is None, first_step=KEY_QUESTION
            )
            return
        if step == AGAIN:  # "No, show me the list" after "Did you mean ...?"
            if turn.state is not None and turn.state["step"] == value:
                turn.replies.append(Reply(text=survey.say("reask"), replaces_prompt=True))
                turn.replies.append(survey.prompt(value))
            else:
                await self._stale(turn)
            return
        if step == "g" and self._guide is not None:
            what, _, rest = value.partition(":")
            guide, incoming = self._guide, turn.incoming
            asker, may_plan = self._asker(incoming), self._may_plan(incoming)
            turn.replies.append(lambda: guide.choice(what, rest, asker, may_plan=may_plan))
            self._carry_on(turn)
            return
        if step not in survey.steps or not value:
            turn.replies.append(Reply(text=survey.say("unknown_button")))
            self._carry_on(turn)
            return
        state = turn.state
        if state is None or state["step"] != step:
            await self._stale(turn)
            return
        if step == INTRO:
            await self._on_intro(turn, value)
            return
        stored = survey.value_of(step, value)
        if stored is None:
            turn.replies.append(Reply(text=survey.say("unknown_button")))
            turn.replies.append(survey.prompt(step))
            return
        await self._record(turn, step, stored, tapped=tapped)

    async def _record(self, turn: _Turn, step: str, stored: str, *, tapped: bool) -> None:
        """Stores one answer at once: the key answer as a pending row (only its id stays in
        the conversation), each follow-up added to that row. Leaving half-way loses nothing."""
        survey, unit = self._survey, turn.unit
        assert turn.saved is not None
        state = turn.saved.state
        campaign = state["campaign"]
        following = survey.next_step(step)
        ending = (turn.tag, turn.saved.version) if following is None else None
        if step == KEY_QUESTION:
            pending = await self._store_answer(turn, campaign, {"kq": stored}, ending)
            if pending is None:
                if ending is None:
                    await unit.end_conversation(turn.tag, turn.saved.version)
                turn.replies.append(Reply(text=survey.say("already_answered")))
                return
            state.pop("answer", None)
            state["pending"] = pending
        elif state.get("pending"):
            await unit.add_to_answer(
                campaign, state["pending"], {step: stored}, complete=following is None
            )
        if tapped:
            turn.replies.append(Reply(text=survey.say("receipt"), replaces_prompt=True))
        if following is None:
            if step != KEY_QUESTION:
                await unit.end_conversation(turn.tag, turn.saved.version)
            turn.answered_campaign = campaign
            turn.replies.append(Reply(text=survey.say("thanks")))
            return
        state["step"] = following
        await unit.save_conversation(turn.tag, state, turn.saved.version)
        turn.replies.append(survey.prompt(following))

    async def _on_intro(self, turn: _Turn, value: str) -> None:
        survey = self._survey
        assert turn.saved is not None
        state = turn.saved.state
        if value == "start":
            state["step"] = KEY_QUESTION
            await turn.unit.save_conversation(turn.tag, state, turn.saved.version)
            # The intro stays readable, its buttons gone (on every channel), then the question.
            turn.replies.append(Reply(text=survey.say("intro"), replaces_prompt=True))
            turn.replies.append(survey.prompt(KEY_QUESTION))
        elif value == PREFER_NOT:  # a refusal is a reply: counted, and no more reminders
            refusal = next(o for o in survey.question.options if o.group is Group.PREFER_NOT_TO_SAY)
            await self._record_refusal(turn, refusal.id)
        elif value == "privacy":
            turn.replies.append(Reply(text=survey.say("privacy"), choices=survey.choices(INTRO)))
        elif value == "decline":
            await turn.unit.end_conversation(turn.tag, turn.saved.version)
            turn.replies.append(Reply(text=survey.say("declined"), replaces_prompt=True))
        else:
            turn.replies.append(Reply(text=survey.say("unknown_button")))
            turn.replies.append(survey.prompt(INTRO))

    async def _record_refusal(self, turn: _Turn, option_id: str) -> None:
        """ "I prefer not to say" from the first screen: the whole answer, no follow-ups."""
        assert turn.saved is not None
        campaign = turn.saved.state["campaign"]
        ending = (turn.tag, turn.saved.version)
        pending = await self._store_answer(turn, campaign, {"kq": option_id}, ending)
        turn.replies.append(Reply(text=self._survey.say("receipt"), replaces_prompt=True))
        if pending is None:
            turn.replies.append(Reply(text=self._survey.say("already_answered")))
            return
        turn.answered_campaign = campaign
        turn.replies.append(Reply(text=self._survey.say("thanks")))

    async def _stale(self, turn: _Turn) -> None:
        survey = self._survey
        state = turn.state
        if state is not None:
            turn.replies.append(Reply(text=survey.say("stale_button")))
            turn.replies.append(survey.prompt(state["step"]))
            return
        campaign = await turn.unit.default_campaign()
        if campaign and await turn.unit.has_answered(
            campaign.id, self._ledger_tag(turn, campaign.id)
        ):
            turn.replies.append(Reply(text=survey.say("already_answered")))
        else:
            turn.replies.append(Reply(text=survey.say("stale_no_conversation")))

    # Beginning and end --------------------------------------------------------------------

    async def _begin(
        self,
        turn: _Turn,
        *,
        campaign_hint: str | None,
        restart: bool = False,
        first_step: str = INTRO,
    ) -> None:
        survey = self._survey
        if not turn.incoming.private:
            turn.replies.append(Reply(text=survey.say("private_only"), open_private=True))
            return
        if turn.state is not None and (not restart or turn.state.get("pending")):
            # Half-way through (the key answer stored, follow-ups open): carry on there.
            turn.replies.append(survey.prompt(turn.state["step"]))
            return
        unit = turn.unit
        hint = campaign_hint or turn.incoming.campaign
        campaign = await unit.campaign(hint) if hint else await unit.default_campaign()
        if campaign is None or not campaign.is_open:
            turn.replies.append(
                Reply(text=survey.say("campaign_closed" if hint else "no_campaign"))
            )
            return
        state = {"step": first_step, "campaign": campaign.id}
        version = turn.saved.version if turn.saved else None
        ledger = self._ledger_tag(turn, campaign.id)
        if not await unit.begin_conversation(campaign.id, ledger, turn.tag, state, version):
            await unit.end_conversation(turn.tag, version)  # answered already
            turn.replies.append(Reply(text=survey.say("already_answered")))
            return
        turn.replies.append(survey.prompt(first_step))

    async def _store_answer(
        self,
        turn: _Turn,
        campaign: str,
        answer: dict[str, str],
        ending: tuple[bytes, int] | None,
    ) -> str | None:
        """The ledger entry and the pending answer, and for a web code its spending, all in
        this turn's one transaction; with ``ending`` (the last step: the answer is complete)
        the conversation's end too."""
        pending = await turn.unit.record_answer(
            campaign,
            self._ledger_tag(turn, campaign),
            answer,
            complete=ending is not None,
            ending=ending,
        )
        user = turn.incoming.user
        if pending is not None and user.channel is Channel.WEB:
            await turn.unit.spend_code(self._store.keys.tag("code", user.user_id))
        return pending

    async def show(self, incoming: Incoming) -> list[Reply]:
        """What a page should show now: the open step, or the start of the conversation (a
        channel that draws pages, not messages, asks this on every visit)."""
        try:
            async with self._store.unit() as unit:
                tag = self._conversation_tag(incoming.user)
                turn = _Turn(
                    unit=unit, incoming=incoming, tag=tag, saved=await unit.load_conversation(tag)
                )
                await self._begin(turn, campaign_hint=incoming.campaign)
        except Exception as exc:
            self._log_failure(exc)
            return [Reply(text=self._survey.say("error"))]
        return await self._resolve(turn.replies)

    def _conversation_tag(self, user: UserRef) -> bytes:
        """The keyed tag a person's half-finished conversation is saved under."""
        return self._store.keys.tag(
            "conversation", user.channel.value, user.workspace, user.user_id
        )

    def _ledger_tag(self, turn: _Turn, campaign: str) -> bytes:
        user = turn.incoming.user
        return self._store.keys.tag(
            "participation", campaign, user.channel.value, user.workspace, user.user_id
        )

    def _flush_later(self, campaign: str) -> None:
        """After a turn that stored an answer: once a full batch waits, moves it into the
        totals, beside the turn rather than before its replies (the person whose answer
        completed the batch waits for nothing). The waiting answers are counted after the turn
        has committed: counted inside it, two turns committing together could each see the
        other's answer missing and neither move a full batch. One move at a time per campaign
        here; an answer stored while one runs makes it count again when it ends. Until it is
        moved, a batch is safe in pending; if a move fails or the process stops, the next one
        (or housekeeping's, every few minutes) takes it.

        The count is a query, so it is not made after every answer: only once this process's
        floor (the last count plus the answers it stored since) reaches a batch, and after the
        first answer since it started or since a batch moved: about twice a batch. With one
        process a batch moves at the same answer as it would if every answer counted; with
        several, a batch may be larger than ``flush_batch`` (never smaller)."""
        floor = self._waiting_at_least.get(campaign)
        if floor is not None:
            self._waiting_at_least[campaign] = floor + 1
            if floor + 1 < self._flush_batch:
                return
        if any(t.get_name() == campaign for t in self._flushing):
            self._flush_again.add(campaign)
            return
        task = asyncio.create_task(self._flush_while_full(campaign), name=campaign)
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush_while_full(self, campaign: str) -> None:
        while True:
            self._flush_again.discard(campaign)
            try:
                waiting = await self._store.waiting(campaign)
            except Exception as exc:  # the answers are safe in pending; the next count sees them
                self._log_failure(exc)
                waiting = None
            if waiting is not None and waiting >= self._flush_batch:
                await self._flush(campaign)
                self._waiting_at_least.pop(campaign, None)  # count after the next answer
            elif waiting is not None:
                self._waiting_at_least[campaign] = waiting
            if campaign not in self._flush_again:
                return

    async def settle(self) -> None:
        """Waits for the batch moves already started (before shutting down, and in tests before
        reading totals)."""
        while self._flushing:
            await asyncio.gather(*self._flushing)

    async def _flush(self, campaign: str) -> None:
        # The moved rows' dead versions are vacuumed by housekeeping every few minutes
        # (bot/housekeeping.py), never here: a VACUUM per batch queued behind any long
        # transaction elsewhere and held pool connections that turns were waiting for.
        try:
            await self._store.flush(campaign, batch=self._flush_batch)
        except Exception as exc:  # the answer is safe in pending; the next flush takes it
            self._log_failure(exc)

    @staticmethod
    def _log_failure(exc: BaseException) -> None:
        """Logs where it failed and the error's type only: messages may carry personal data."""
        frames = traceback.extract_tb(exc.__traceback__)
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
        logger.error("turn failed with %s at %s", type(exc).__name__, where)


def _answer_like(text: str) -> bool:
    """Whether text that names a job reads as an answer to the key question: a few words
    ("a plumber") or the earner named ("my dad was a carpenter"), and not asked as a question,
    at its start or in the middle ("grandad had a market stall, is he a small business owner")."""
    folded = text.casefold()
    if _asks(folded):
        return False
    return len(text.split()) <= 3 or NAMES_EARNER.search(folded) is not None


def _about_the_earner(text: str) -> bool:
    """Whether text says what the main earner did, not asked as a question: the earner named
    ("mum worked at the council") or it starts with them ("he fixed cars for a living")."""
    folded = text.casefold()
    if _asks(folded):
        return False
    return NAMES_EARNER.search(folded) is not None or EARNER_FIRST.match(folded) is not None


def _asks(folded: str) -> bool:
    """Whether casefolded text asks something, at its start or in the middle ("parents
    divorced, whose job counts"): then it is not an answer to the key question."""
    return QUESTION.search(folded) is not None or ASKING.search(folded) is not None


async def _one(reply: Awaitable[Reply]) -> list[Reply]:
    return [await reply]
