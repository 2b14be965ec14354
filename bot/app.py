"""The composition root: builds keys, storage, survey and engine from settings, nothing global."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine import Engine
from bot.events import Reply
from bot.flow import Survey
from bot.guide import Guide
from bot.orgconfig import OrgConfig, load
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

    async def close(self) -> None:
        await self.store.close()

    async def report(self, campaign_id: str | None = None, *, publish: bool = False) -> Report:
        """The campaign's report from its current snapshot (publishing one first if due)."""
        campaign = await find_campaign(self.store, campaign_id)
        interval = dt.timedelta(hours=self.settings.snapshot_interval_hours)
        snapshot = await snapshots.current(
            self.store, campaign, self.survey, clock=self.clock, interval=interval, force=publish
        )
        return assemble(snapshot, campaign, self.survey)

    async def latest_report(self) -> Report | None:
        """The default campaign's report as guidance sees it: only ever the protected one."""
        report = await self.report()
        return report if report.overall.answers else None

    async def chat_report(self, argument: str) -> list[Reply]:
        """What an admin sees on typing ``report`` (``report publish`` publishes first)."""
        words = argument.split()
        publish = "publish" in words
        wanted = [w for w in words if w in ("level", "function", "location")] or None
        report = await self.report(publish=publish)
        return [Reply(text=render.text(report, breakdowns=wanted), image=chart.png(report))]


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
        missing = await store.key_ids_in_use() - set(keys.answers.keys)
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
    guide = Guide(
        ranker=Ranker(guidance()),
        plan=Plan(store),
        latest_report=app.latest_report,
        clock=clock,
        check_in_every=dt.timedelta(days=org.guidance.check_in_days),
        headcount=org.organisation.headcount,
    )
    app.engine = Engine(
        store=store,
        survey=survey,
        admins=frozenset(settings.admins),
        admin_report=app.chat_report,
        flush_batch=settings.flush_batch,
        guide=guide,
        managers=frozenset(settings.managers),
        small_org=org.small,
    )
    return app
