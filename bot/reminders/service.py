"""Reminders: schedules admins keep, waves to people who have not answered, a paced outbox.

Who gets a reminder: everyone the channel can reach, minus those who answered in the open
campaign (the participation ledger), who said "stop reminders", who cannot be reached, or who
were reminded in the last ``quiet_days``; only on weekdays inside working hours in their own
time zone. Admins see counts per wave, never names or lists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pace import HEADROOM, Gate
from bot.reminders.rules import (
    RuleError,
    canonical,
    in_quiet,
    next_after,
    preview,
    quiet_period,
    trigger,
    zone,
)
from bot.reminders.senders import Sender
from storage.store import Store, _address_context, _aware, _naive_utc
from storage.tables import (
    Campaign,
    Contact,
    Outbox,
    Participation,
    QuietPeriod,
    Schedule,
    Wave,
)

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
"""An outbox row claimed longer ago than this was cut off by a crash: never sent twice."""
WORK_START, WORK_END = dt.time(9, 0), dt.time(17, 0)
IN_FLIGHT = 64
"""Sends waiting on the platform at once; the pace, not this, sets the rate."""


@dataclass(frozen=True, kw_only=True)
class ScheduleInfo:
    id: int
    name: str
    rule: str
    timezone: str
    paused: bool
    next_runs: list[dt.datetime]


@dataclass(frozen=True, kw_only=True)
class QuietInfo:
    """A yearly quiet period: no wave starts from ``starts`` to ``ends`` ("MM-DD")."""

    id: int
    starts: str
    ends: str

    @property
    def text(self) -> str:
        """ "20 Dec to 3 Jan"."""

        def day(mm_dd: str) -> str:
            return dt.date(2024, int(mm_dd[:2]), int(mm_dd[3:])).strftime("%d %b").lstrip("0")

        return f"{day(self.starts)} to {day(self.ends)}"


class DuplicateSchedule(LookupError):
    """The same rule is scheduled already."""


@dataclass(frozen=True, kw_only=True)
class WaveCounts:
    """What an admin sees of a wave: counts only."""

    id: int
    kind: str
    created_at: dt.datetime
    reached: int
    skipped_answered: int
    opted_out: int
    unreachable: int
    recently_reminded: int
    failed: int
    waiting: int


@dataclass(frozen=True)
class Limits:
    """Sends per second per channel (Telegram ~30/s; Slack's workspace cap, 525/min)."""

    per_second: Mapping[str, float]


Directory = Callable[[], Awaitable[list[dict[str, str]]]]
"""Lists people a channel can reach that keyq may not have met: {"user", "workspace", "tz"}."""


class Reminders:
    """Everything about reminders, over the store; the clock and senders are passed in."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Callable[[], dt.datetime],
        text: str,
        senders: Mapping[str, Sender],
        limits: Limits,
        default_timezone: str,
        quiet_days: int = 14,
        joiner_days: int = 14,
        grace: dt.timedelta = dt.timedelta(hours=6),
        directories: Mapping[str, Directory] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._text = text
        self._senders = senders
        self._limits = limits
        self._tz = default_timezone
        self._quiet = dt.timedelta(days=quiet_days)
        self._joiner = dt.timedelta(days=joiner_days)
        self._grace = grace
        self._directories = directories or {}
        self._sleep = sleep
        self._gates: dict[str, Gate] = {}
        self.retries = 0

    @property
    def channels(self) -> list[str]:
        """The channels reminders can be sent on (those configured)."""
        return list(self._senders)

    # Schedules ---------------------------------------------------------------------------

    async def add(
        self, name: str, rule: str, timezone: str | None = None, campaign: str | None = None
    ) -> ScheduleInfo:
        """Adds a schedule; refuses a rule it cannot read, an unknown campaign, or a duplicate."""
        tz = timezone or self._tz
        now = self._clock()
        rule = canonical(rule)
        first = next_after(trigger(rule, tz, anchor=now), now)
        async with self._store.session() as session:
            if campaign is not None and await session.get(Campaign, campaign) is None:
                raise LookupError(f"no campaign {campaign!r}")
            same = await session.scalar(
                select(Schedule.id).where(
                    Schedule.deleted.is_(False),
                    Schedule.rule == rule,
                    Schedule.timezone == tz,
                    Schedule.campaign_id.is_(None)
                    if campaign is None
                    else Schedule.campaign_id == campaign,
                )
            )
            if same is not None:
                raise DuplicateSchedule(f"reminder #{same} already says {rule!r}")
            schedule = Schedule(
                name=name[:80],
                rule=rule,
                timezone=tz,
                campaign_id=campaign,
                anchor=_naive_utc(now),
                paused=False,
                deleted=False,
                next_run_at=_naive_utc(first) if first else None,
            )
            session.add(schedule)
            await session.flush()
            return await self._info(session, schedule)

    async def schedules(self) -> list[ScheduleInfo]:
        async with self._store.session() as session:
            stmt = select(Schedule).where(Schedule.deleted.is_(False)).order_by(Schedule.id)
            return [await self._info(session, s) for s in await session.scalars(stmt)]

    async def _live(self, session: AsyncSession, schedule_id: int) -> Schedule:
        schedule = await session.get(Schedule, schedule_id)
        if schedule is None or schedule.deleted:
            raise LookupError(f"no reminder #{schedule_id}")
        return schedule

    async def set_paused(self, schedule_id: int, paused: bool) -> ScheduleInfo:
        async with self._store.session() as session:
            schedule = await self._live(session, schedule_id)
            self._pause(schedule, paused)
            return await self._info(session, schedule)

    async def set_all_paused(self, paused: bool) -> list[ScheduleInfo]:
        """``remind pause all`` / ``remind resume all``."""
        async with self._store.session() as session:
            stmt = select(Schedule).where(Schedule.deleted.is_(False)).order_by(Schedule.id)
            found = list(await session.scalars(stmt))
            for schedule in found:
                self._pause(schedule, paused)
            return [await self._info(session, s) for s in found]

    def _pause(self, schedule: Schedule, paused: bool) -> None:
        if not paused and schedule.paused:  # resuming does not send what fell due meanwhile
            following = next_after(self._trigger(schedule), self._clock())
            schedule.next_run_at = _naive_utc(following) if following else None
        schedule.paused = paused

    async def delete(self, schedule_id: int) -> None:
        """Deletes a schedule; its number is never given to another."""
        async with self._store.session() as session:
            schedule = await self._live(session, schedule_id)
            schedule.deleted = True
            schedule.next_run_at = None

    # Quiet periods -----------------------------------------------------------------------

    async def add_quiet(self, text: str) -> QuietInfo:
        """A yearly quiet period, e.g. "from 20 december to 3 january"."""
        starts, ends = quiet_period(text)
        async with self._store.session() as session:
            period = QuietPeriod(starts=starts, ends=ends)
            session.add(period)
            await session.flush()
            return QuietInfo(id=period.id, starts=starts, ends=ends)

    async def quiet_periods(self) -> list[QuietInfo]:
        async with self._store.session() as session:
            rows = await session.scalars(select(QuietPeriod).order_by(QuietPeriod.id))
            return [QuietInfo(id=p.id, starts=p.starts, ends=p.ends) for p in rows]

    async def delete_quiet(self, period_id: int) -> None:
        async with self._store.session() as session:
            period = await session.get(QuietPeriod, period_id)
            if period is None:
                raise LookupError(f"no quiet period #{period_id}")
            await session.delete(period)

    async def _quiet_days_of(self, session: AsyncSession) -> list[tuple[str, str]]:
        return [(p.starts, p.ends) for p in await session.scalars(select(QuietPeriod))]

    def _trigger(self, schedule: Schedule) -> Any:
        return trigger(schedule.rule, schedule.timezone, anchor=_aware(schedule.anchor))

    async def _info(self, session: AsyncSession, schedule: Schedule) -> ScheduleInfo:
        now = self._clock()
        quiet = await self._quiet_days_of(session)
        try:
            runs = [] if schedule.paused else preview(self._trigger(schedule), now, 12)
        except RuleError:
            runs = []
        if schedule.next_run_at and not schedule.paused:
            due = _aware(schedule.next_run_at).astimezone(zone(schedule.timezone))
            runs = [due, *[r for r in runs if r > due]]
        runs = [r for r in runs if not in_quiet(r.date(), quiet)][:4]
        return ScheduleInfo(
            id=schedule.id,
            name=schedule.name,
            rule=schedule.rule,
            timezone=schedule.timezone,
            paused=schedule.paused,
            next_runs=runs,
        )

    # Waves ---------------------------------------------------------------------------------

    async def run_due(self, at: dt.datetime | None = None) -> list[WaveCounts]:
        """Starts a wave for each schedule due by ``at`` (within the grace period), asks new
        joiners, then sends what the outbox holds that is due. Safe to run from many processes."""
        at = at or self._clock()
        waves = []
        for schedule_id, campaign in await self._claim_due(at):
            wave = await self._wave("schedule", campaign, at, schedule_id=schedule_id)
            assert wave is not None
            waves.append(wave)
        joiners = await self._wave("joiners", None, at)
        if joiners is not None:
            waves.append(joiners)
        await self.send_outbox(at)
        return [await self.counts(w.id) for w in waves]

    async def _claim_due(self, at: dt.datetime) -> list[tuple[int, str | None]]:
        """Schedules due by ``at``, each advanced past ``at`` in the same transaction."""
        claimed = []
        async with self._store.session() as session:
            stmt = (
                select(Schedule)
                .where(
                    Schedule.paused.is_(False),
                    Schedule.deleted.is_(False),
                    Schedule.next_run_at <= _naive_utc(at),
                )
                .with_for_update(skip_locked=True)
            )
            quiet = await self._quiet_days_of(session)
            for schedule in await session.scalars(stmt):
                due = _aware(schedule.next_run_at) if schedule.next_run_at else at
                following = next_after(self._trigger(schedule), at)
                schedule.next_run_at = _naive_utc(following) if following else None
                schedule.last_run_at = _naive_utc(at)
                if in_quiet(due.astimezone(zone(schedule.timezone)).date(), quiet):
                    logger.info("schedule %d fell in a quiet period: skipped", schedule.id)
                elif at - due <= self._grace:
                    claimed.append((schedule.id, schedule.campaign_id))
                else:
                    logger.info(
                        "schedule %d missed its time by more than the grace period", schedule.id
                    )
        return claimed

    async def _wave(
        self, kind: str, campaign_id: str | None, at: dt.datetime, *, schedule_id: int | None = None
    ) -> WaveCounts | None:
        if kind == "schedule":  # new joiners arrive by event, not by listing everyone
            for channel, directory in self._directories.items():
                await self._meet(channel, await directory())
        campaign = await self._campaign(campaign_id)
        keys = self._store.keys
        today = at.date()
        counts = {
            "queued": 0,
            "skipped_answered": 0,
            "opted_out": 0,
            "unreachable": 0,
            "recently_reminded": 0,
        }
        async with self._store.session() as session:
            wave = Wave(
                kind=kind,
                schedule_id=schedule_id,
                campaign_id=campaign or "",
                created_at=_naive_utc(at),
                **dict.fromkeys(counts, 0),
            )
            session.add(wave)
            await session.flush()
            answered = (
                set(
                    await session.scalars(
                        select(Participation.tag).where(Participation.campaign_id == campaign)
                    )
                )
                if campaign
                else set()
            )
            query = select(Contact).where(Contact.channel.in_(list(self._senders)))
            if kind == "joiners":
                query = query.where(
                    Contact.joiner_asked.is_(False), Contact.first_seen <= today - self._joiner
                )
            for contact in await session.scalars(query):
                plain = keys.addresses.open(
                    contact.key_id, contact.sealed, _address_context(contact.tag)
                )
                address = json.loads(plain)
                part = keys.tag(
                    "participation",
                    campaign or "",
                    contact.channel,
                    address.get("workspace", ""),
                    address["user"],
                )
                if kind == "joiners":
                    contact.joiner_asked = True
                reason = self._skip(contact, part in answered, today)
                if reason:
                    counts[reason] += 1
                    continue
                counts["queued"] += 1
                contact.last_reminded = today
                key_id, sealed = keys.addresses.seal(plain, f"outbox|{contact.tag.hex()}")
                session.add(
                    Outbox(
                        wave_id=wave.id,
                        contact_tag=contact.tag,
                        channel=contact.channel,
                        key_id=key_id,
                        sealed=sealed,
                        status="pending",
                        not_before=_naive_utc(self._window(at, contact.timezone)),
                    )
                )
            for name, value in counts.items():
                setattr(wave, name, value)
            wave_id = wave.id
            if kind == "joiners" and not counts["queued"]:
                await session.delete(wave)  # no new joiner to ask: no wave to report
                return None
        logger.info("reminder wave %d: %d queued", wave_id, counts["queued"])
        return await self.counts(wave_id)

    def _skip(self, contact: Contact, answered: bool, today: dt.date) -> str | None:
        if answered:
            return "skipped_answered"
        if contact.opted_out:
            return "opted_out"
        if not contact.reachable:
            return "unreachable"
        if contact.last_reminded and today - contact.last_reminded < self._quiet:
            return "recently_reminded"
        return None

    async def _campaign(self, campaign_id: str | None) -> str | None:
        async with self._store.session() as session:
            if campaign_id:
                return campaign_id
            return await session.scalar(
                select(Campaign.id).where(Campaign.is_default.is_(True), Campaign.is_open.is_(True))
            )

    async def _meet(self, channel: str, people: list[dict[str, str]]) -> None:
        """Adds people from a directory (Slack members) as contacts, keeping what is known."""
        keys = self._store.keys
        async with self._store.unit() as unit:
            for person in people:
                tag = keys.tag("person", channel, person.get("workspace", ""), person["user"])
                address = {
                    "user": person["user"],
                    "workspace": person.get("workspace", ""),
                    "address": person["user"],
                }
                # Members found by listing are not new joiners: this wave is their reminder.
                await unit.touch_contact(tag, channel, address, reachable=None, joiner=False)
                if person.get("tz"):
                    await unit.set_contact(tag, timezone=person["tz"])

    def _window(self, at: dt.datetime, timezone: str | None) -> dt.datetime:
        """The first moment at or after ``at`` that is a weekday in working hours there."""
        try:
            tz: ZoneInfo = zone(timezone or self._tz)
        except RuleError:
            tz = zone(self._tz)
        local = at.astimezone(tz)
        for _ in range(8):
            if local.weekday() < 5 and WORK_START <= local.time() < WORK_END:
                return local.astimezone(dt.UTC)
            if local.weekday() < 5 and local.time() < WORK_START:
                local = local.replace(hour=9, minute=0, second=0, microsecond=0)
                continue
            following = local.date() + dt.timedelta(days=1)
            local = dt.datetime.combine(following, WORK_START, tzinfo=tz)
        return local.astimezone(dt.UTC)

    # Sending -----------------------------------------------------------------------------

    async def send_outbox(self, at: dt.datetime | None = None, *, batch: int = 1000) -> int:
        """Sends every due reminder, pacing each channel to its limit across processes."""
        at = at or self._clock()
        await self._expire_leases()
        sent = 0
        while True:
            rows = await self._claim(at, batch)
            if not rows:
                return sent
            by_channel: dict[str, list[Outbox]] = {}
            for row in rows:
                by_channel.setdefault(row.channel, []).append(row)
            for channel, chunk in by_channel.items():
                sent += await self._send_chunk(channel, chunk)

    async def _claim(self, at: dt.datetime, batch: int) -> list[Outbox]:
        async with self._store.session() as session:
            rows = list(
                await session.scalars(
                    select(Outbox)
                    .where(
                        Outbox.status == "pending",
                        Outbox.not_before <= _naive_utc(at),
                        Outbox.channel.in_(list(self._senders)),
                    )
                    .order_by(Outbox.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            now = _naive_utc(dt.datetime.now(dt.UTC))
            for row in rows:
                row.status, row.claimed_at = "sending", now
            return rows

    async def _expire_leases(self) -> None:
        cutoff = _naive_utc(dt.datetime.now(dt.UTC) - LEASE)
        async with self._store.session() as session:
            await session.execute(
                update(Outbox)
                .where(Outbox.status == "sending", Outbox.claimed_at < cutoff)
                .values(status="unknown", sealed=None, key_id=None)
            )

    async def _send_chunk(self, channel: str, rows: list[Outbox]) -> int:
        """Sends a claimed chunk, each message at its reserved slot (several in flight at once,
        never faster than the pace), then records the outcomes in one transaction."""
        sender = self._senders[channel]
        interval = 1.0 / (self._limits.per_second.get(channel, 1.0) * HEADROOM)
        start = await self._store.reserve(channel, len(rows), interval)
        keys = self._store.keys
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        gate = self._gates.setdefault(channel, Gate())

        async def one(n: int, row: Outbox) -> tuple[Outbox, str]:
            delay = start + n * interval - time.time()
            if delay > 0:
                await self._sleep(delay)
            await gate.wait(interval, self._sleep)  # a late slot never turns into a burst
            assert row.key_id is not None and row.sealed is not None
            address = json.loads(
                keys.addresses.open(row.key_id, row.sealed, f"outbox|{row.contact_tag.hex()}")
            )
            async with in_flight:
                outcome = await sender.send(address, self._text)
                while outcome.kind == "retry":  # 429: the channel's pace moves back, we wait
                    self.retries += 1
                    await self._store.push_back(channel, outcome.wait)
                    await self._sleep(outcome.wait)
                    outcome = await sender.send(address, self._text)
            return row, outcome.kind

        results = await asyncio.gather(*(one(n, row) for n, row in enumerate(rows)))
        await self._settle(results)
        return sum(1 for _, kind in results if kind == "sent")

    async def _settle(self, results: list[tuple[Outbox, str]]) -> None:
        """Marks sent rows (their addresses deleted); a blocked person becomes unreachable."""
        async with self._store.session() as session:
            for kind in {kind for _, kind in results}:
                ids = [row.id for row, k in results if k == kind]
                await session.execute(
                    update(Outbox)
                    .where(Outbox.id.in_(ids))
                    .values(status=kind, sealed=None, key_id=None)
                )
            blocked = [row.contact_tag for row, kind in results if kind == "blocked"]
            if blocked:
                await session.execute(
                    update(Contact).where(Contact.tag.in_(blocked)).values(reachable=False)
                )

    # What admins see -----------------------------------------------------------------------

    async def counts(self, wave_id: int) -> WaveCounts:
        async with self._store.session() as session:
            wave = await session.get(Wave, wave_id)
            assert wave is not None
            statuses = dict(
                (
                    await session.execute(
                        select(Outbox.status, func.count())
                        .where(Outbox.wave_id == wave_id)
                        .group_by(Outbox.status)
                    )
                ).all()
            )
        return WaveCounts(
            id=wave.id,
            kind=wave.kind,
            created_at=_aware(wave.created_at),
            reached=statuses.get("sent", 0),
            skipped_answered=wave.skipped_answered,
            opted_out=wave.opted_out,
            unreachable=wave.unreachable + statuses.get("blocked", 0),
            recently_reminded=wave.recently_reminded,
            failed=statuses.get("failed", 0) + statuses.get("unknown", 0),
            waiting=statuses.get("pending", 0) + statuses.get("sending", 0),
        )

    async def waves(self, limit: int = 10) -> list[WaveCounts]:
        async with self._store.session() as session:
            ids = list(await session.scalars(select(Wave.id).order_by(Wave.id.desc()).limit(limit)))
        return [await self.counts(i) for i in ids]
