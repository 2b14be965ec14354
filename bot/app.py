"""The composition root: builds keys, storage, survey and engine from settings, nothing global."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.engine import Engine
from bot.events import Reply
from bot.flow import Survey
from bot.guide import Guide
from bot.orgconfig import OrgConfig, load
from bot.reminders.rules import RuleError
from bot.reminders.senders import Sender, SlackSender, TelegramSender, slack_directory
from bot.reminders.service import Limits, QuietInfo, Reminders, ScheduleInfo, WaveCounts
from bot.reporting import chart, render, snapshots
from bot.reporting.report import Report, assemble
from bot.settings import Settings
from guidance.content import guidance
from guidance.ranker import Ranker
from storage.crypto import KeyRing, KeyRingError, load_or_create
from storage.database import create_engine, upgrade_async, urls
from storage.plan import Plan
from storage.store import CampaignInfo, Store
from survey.content import messages, question

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class App:
    """Everything a keyq process runs on, built once and passed in."""

    settings: Settings
    org: OrgConfig
    store: Store
    survey: Survey
    clock: Clock = utcnow
    engine: Engine = field(init=False)
    reminders: Reminders = field(init=False)
    _publishing: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False)

    async def close(self) -> None:
        await self.engine.settle()
        await self.reports_settled()
        await self.store.close()

    async def report(
        self, campaign_id: str | None = None, *, publish: bool = False, wait: bool = False
    ) -> Report:
        """The campaign's report from its latest snapshot.

        A new snapshot is published first when asked (``publish``) or when there is none yet;
        with ``wait``, also when one is due. Otherwise a due one is published in the
        background and this report shows the latest meanwhile: once the history is long, the
        audit of a new snapshot takes seconds (bench/report_history.py), longer than a chat
        turn or a page may wait (and on Slack, longer than its 3 s for an acknowledgement).
        """
        campaign = await find_campaign(self.store, campaign_id)
        interval = dt.timedelta(hours=self.settings.snapshot_interval_hours)
        if not (publish or wait):
            shown, due = await snapshots.latest(
                self.store, campaign, self.survey, clock=self.clock, interval=interval
            )
            if shown is not None:
                if due:
                    self._publish_later(campaign, interval)
                return assemble(shown, campaign, self.survey)
        snapshot = await snapshots.current(
            self.store, campaign, self.survey, clock=self.clock, interval=interval, force=publish
        )
        return assemble(snapshot, campaign, self.survey)

    def publishing(self, campaign_id: str | None = None) -> bool:
        """Whether a snapshot is being published in the background (for the campaign)."""
        return any(campaign_id in (None, c) for c in self._publishing)

    def _publish_later(self, campaign: CampaignInfo, interval: dt.timedelta) -> None:
        """Publishes the campaign's due snapshot in the background, once at a time (another
        process publishing meanwhile is handled by the store: bot/reporting/snapshots.py)."""
        if campaign.id in self._publishing:
            return

        async def publish() -> None:
            try:
                await snapshots.current(
                    self.store, campaign, self.survey, clock=self.clock, interval=interval
                )
            except Exception as exc:  # the next report asks again
                # The error's type only: messages may carry figures or personal data.
                logger.error("publishing a report snapshot failed (%s)", type(exc).__name__)

        task = asyncio.create_task(publish())
        self._publishing[campaign.id] = task
        task.add_done_callback(lambda _: self._publishing.pop(campaign.id, None))

    async def reports_settled(self) -> None:
        """Waits for snapshots being published in the background (before shutting down, and
        in tests)."""
        while self._publishing:
            await asyncio.gather(*self._publishing.values())

    async def chat_remind(self, argument: str) -> list[Reply]:
        """An admin's reminder commands: add RULE, list, pause N|all, resume N|all, delete N,
        quiet from DATE to DATE, quiet delete N, waves. A bare rule is taken as add."""
        text = " ".join(argument.split())[:200]
        verb, _, rest = text.partition(" ")
        verb = verb.casefold()
        reminders = self.reminders
        try:
            if verb == "add" and rest.casefold().startswith(("no reminder", "quiet")):
                verb, rest = "quiet", rest
            if verb == "quiet" or text.casefold().startswith("no reminder"):
                period = rest if verb == "quiet" else text
                words = period.split()
                if len(words) == 2 and words[0].casefold() == "delete":
                    await reminders.delete_quiet(parse_number(words[1]))
                    return [Reply(text=f"Quiet period {words[1].lstrip('#')} removed.")]
                if not period or period.casefold() == "list":
                    return [Reply(text=schedule_text([], await reminders.quiet_periods()))]
                quiet = await reminders.add_quiet(period)
                return [Reply(text=f"Quiet period {quiet.id} added: {quiet.text}, every year.")]
            if verb in ("pause", "resume") and rest.casefold() == "all":
                done = await reminders.set_all_paused(verb == "pause")
                return [Reply(text=f"{len(done)} reminder(s) {verb}d.")]
            if verb in ("pause", "resume", "delete") and rest:
                number = parse_number(rest)
                if verb == "delete":
                    await reminders.delete(number)
                    return [Reply(text=f"Reminder {number} deleted.")]
                info = await reminders.set_paused(number, verb == "pause")
                return [Reply(text=f"Reminder {info.id} {verb}d.")]
            if verb == "waves":
                return [Reply(text=wave_text(await reminders.waves()))]
            if verb in ("", "list"):
                return [
                    Reply(
                        text=schedule_text(
                            await reminders.schedules(), await reminders.quiet_periods()
                        )
                    )
                ]
            rule = rest if verb == "add" else text
            if rule:
                info = await reminders.add(rule[:80], rule)
                return [
                    Reply(
                        text=f"Reminder {info.id} added: {info.rule} "
                        f"({info.timezone}). Next: {_dates(info.next_runs)}."
                    )
                ]
        except (RuleError, LookupError, ValueError) as exc:
            return [Reply(text=f"Sorry: {exc}.")]
        return [Reply(text=REMIND_USAGE)]

    async def dashboard_link(self, ref: str) -> str | None:
        """A one-time dashboard sign-in URL (10 minutes) for an admin or manager; else None."""
        from storage.dashboard import Access

        settings = self.settings
        role = "admin" if ref in settings.admins else "manager" if ref in settings.managers else ""
        if not role:
            return None
        token = await Access(self.store).link(ref, role)
        return f"{settings.public_url}/dashboard/login/{token}"

    async def chat_dashboard(self, ref: str) -> list[Reply]:
        url = await self.dashboard_link(ref)
        if url is None:
            return [Reply(text=self.survey.say("not_admin"))]
        return [
            Reply(
                text="Your dashboard link (it works once, for 10 minutes; don't forward "
                f"it):\n{url}"
            )
        ]

    async def latest_report(self) -> Report | None:
        """The default campaign's report as guidance sees it: only ever the protected one."""
        try:
            report = await self.report()
        except LookupError:  # no current campaign
            return None
        return report if report.overall.answers else None

    async def chat_report(self, argument: str) -> list[Reply]:
        """What an admin sees on typing ``report`` (``report publish`` publishes first)."""
        words = argument.split()
        publish = "publish" in words
        wanted = [w for w in words if w in ("level", "function", "location")] or None
        try:
            report = await self.report(publish=publish)
        except LookupError:
            return [Reply(text="There is no current campaign. Start one: keyq campaign start ID")]
        text = render.text(report, breakdowns=wanted)
        if self.publishing(report.campaign):
            text += f"\n\n{snapshots.NEWER_COMING}: ask again in a minute."
        return [
            Reply(
                text=text,
                image=chart.png(report),
                sectioned=True,
            )
        ]


async def find_campaign(store: Store, campaign_id: str | None = None) -> CampaignInfo:
    """The named campaign, or the default one."""
    for campaign in await store.campaigns():
        if campaign.id == campaign_id or (campaign_id is None and campaign.is_default):
            return campaign
    raise LookupError(f"no campaign {campaign_id!r}" if campaign_id else "no default campaign")


def load_keys(settings: Settings) -> KeyRing:
    """The key ring from KEYQ_KEYS, or from its file (created on first run, mode 0600)."""
    if settings.keys is not None:
        return KeyRing.from_json(settings.keys.get_secret_value())
    return load_or_create(settings.resolved_keys_file(), create=True)


async def build(settings: Settings, *, clock: Clock = utcnow, migrate: bool = True) -> App:
    """Builds a ready keyq: schema upgraded, default campaign present, keys checked."""
    org = load(settings.config)
    urls(settings.database_url)  # refuses an unusable URL before anything is created
    keys = load_keys(settings)
    if migrate:
        await upgrade_async(settings.database_url)
    store = Store(
        create_engine(settings.database_url),
        keys,
        clock,
        conversation_ttl=dt.timedelta(hours=settings.conversation_ttl_hours),
    )
    try:
        missing = (await store.key_ids_in_use("answers") - set(keys.answers.keys)) | (
            await store.key_ids_in_use("addresses") - set(keys.addresses.keys)
        )
        if missing:
            raise KeyRingError(
                f"the database holds data sealed with key(s) {', '.join(sorted(missing))} that "
                "this key ring lacks: point KEYQ_KEYS_FILE at the right key file"
            )
        await store.ensure_default_campaign(settings.default_campaign, "Workforce (year-round)")
        await store.ensure_tallies()
    except BaseException:
        await store.close()
        raise
    survey = Survey(
        question=question().with_small_business_limit(org.organisation.small_business_limit),
        messages=messages(),
        org=org,
    )
    app = App(settings=settings, org=org, store=store, survey=survey, clock=clock)
    app.reminders = build_reminders(settings, store, survey, clock)
    guide = Guide(
        ranker=Ranker(guidance()),
        plan=Plan(store),
        latest_report=app.latest_report,
        clock=clock,
        check_in_every=dt.timedelta(days=org.guidance.check_in_days),
        headcount=org.organisation.headcount,
        sector=org.organisation.sector,
    )
    app.engine = Engine(
        store=store,
        survey=survey,
        admins=frozenset(settings.admins),
        admin_report=app.chat_report,
        admin_remind=app.chat_remind,
        dashboard=app.chat_dashboard,
        flush_batch=settings.flush_batch,
        guide=guide,
        managers=frozenset(settings.managers),
        small_org=org.small,
    )
    return app


def build_reminders(settings: Settings, store: Store, survey: Survey, clock: Clock) -> Reminders:
    """Reminders over every channel whose settings are present."""
    senders: dict[str, Sender] = {}
    directories = {}
    if settings.telegram_token is not None:
        bot = Bot(
            settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_api_url,
            request=HTTPXRequest(connection_pool_size=64),
        )
        senders["telegram"] = TelegramSender(bot)
    if settings.slack_bot_token is not None:
        client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        )
        senders["slack"] = SlackSender(client)
        directories["slack"] = slack_directory(client, settings.slack_reminder_channel)
    return Reminders(
        store=store,
        clock=clock,
        text=survey.say("reminder"),
        senders=senders,
        limits=Limits(
            {
                # Replies have their own lane; reminders take what is left, so a wave never
                # delays a reply.
                "telegram": max(settings.telegram_rate - settings.telegram_reply_rate, 1),
                "slack": max(settings.slack_rate_per_minute / 60 - settings.slack_reply_rate, 0.5),
            }
        ),
        default_timezone=settings.timezone,
        quiet_days=settings.reminder_quiet_days,
        joiner_days=settings.joiner_days,
        grace=dt.timedelta(hours=settings.reminder_grace_hours),
        directories=directories,
    )


def _dates(moments: list[dt.datetime]) -> str:
    return ", ".join(f"{m:%a %d %b %Y %H:%M %Z}" for m in moments) or "none"


REMIND_USAGE = (
    "Say: remind add first monday of each quarter at 10 | remind list | remind pause 2 | "
    "remind resume 2 | remind delete 2 | remind pause all | "
    "remind quiet from 20 december to 3 january | remind waves"
)


def parse_number(text: str) -> int:
    """A schedule or period number as typed ("2", "#2"); anything else is refused."""
    digits = text.strip().lstrip("#")
    if not (digits.isascii() and digits.isdecimal()) or len(digits) > 9:
        raise ValueError(f"{text[:12]!r} is not a reminder number")
    return int(digits)


def schedule_text(schedules: list[ScheduleInfo], quiet: list[QuietInfo] | None = None) -> str:
    lines = [
        f"#{s.id} {s.rule} ({s.timezone}){' [paused]' if s.paused else ''}: next "
        f"{_dates(s.next_runs[:3])}"
        for s in schedules
    ]
    if not schedules:
        lines.append(
            "No reminders are scheduled. Try: remind add first monday of each quarter at 10"
        )
    lines += [f"Quiet {q.id}: no reminders {q.text}, every year" for q in quiet or []]
    return "\n".join(lines)


def wave_text(waves: list[WaveCounts]) -> str:
    if not waves:
        return "No reminder waves yet."
    return "\n".join(
        f"Wave {w.id} ({w.kind}, {w.created_at:%d %b %Y %H:%M}): reached {w.reached}, already "
        f"answered {w.skipped_answered}, opted out {w.opted_out}, unreachable {w.unreachable}, "
        f"reminded recently {w.recently_reminded}, failed {w.failed}, waiting {w.waiting}"
        for w in waves
    )
