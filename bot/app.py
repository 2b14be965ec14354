"""The composition root: builds keys, storage, survey and engine from settings, nothing global."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot import report
from bot.engine import Engine
from bot.flow import Survey
from bot.orgconfig import OrgConfig, load
from bot.settings import Settings
from storage.crypto import KeyRing, KeyRingError, load_or_create
from storage.database import create_engine, upgrade_async, urls
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
    engine: Engine

    async def close(self) -> None:
        await self.store.close()

    async def report_text(self, campaign_id: str | None = None) -> str:
        return await report_text(self.store, self.survey, campaign_id)


async def find_campaign(store: Store, campaign_id: str | None = None) -> CampaignInfo:
    """The named campaign, or the default one."""
    for campaign in await store.campaigns():
        if campaign.id == campaign_id or (campaign_id is None and campaign.is_default):
            return campaign
    raise LookupError(f"no campaign {campaign_id!r}" if campaign_id else "no default campaign")


async def report_text(store: Store, survey: Survey, campaign_id: str | None = None) -> str:
    """The protected summary of a campaign (the default one unless named), as text."""
    campaign = await find_campaign(store, campaign_id)
    threshold = survey.org.reporting.threshold
    return report.render(await report.summarise(store, campaign, survey.question, threshold))


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
    except BaseException:
        await store.close()
        raise
    survey = Survey(
        question=question().with_small_business_limit(org.organisation.small_business_limit),
        messages=messages(),
        org=org,
    )

    async def chat_report() -> str:
        return await report_text(store, survey)

    engine = Engine(
        store=store,
        survey=survey,
        admins=frozenset(settings.admins),
        report_text=chat_report,
        flush_batch=settings.flush_batch,
    )
    return App(settings=settings, org=org, store=store, survey=survey, engine=engine)
