"""The schema. Two rules shape it: nothing links a person to an answer, and no id is stored plain.

- ``participation`` (the ledger) says that a pseudonymous tag answered in a campaign: no time.
- ``pending_answers`` holds sealed answers until a shuffled batch of at least 10 is moved into
  ``answers``; ``answers`` has random keys, the month of that move, and ciphertext only.
- ``conversations`` holds a person's half-finished turn, sealed, keyed by a tag, with an expiry.
- ``processed_events`` remembers keyed digests of platform event ids so a replay changes nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base for keyq's tables."""


class Campaign(Base):
    """A round of asking: the year-round workforce campaign, a yearly refresh, applicants."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_month: Mapped[str] = mapped_column(String(7))
    closed_month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    applicants: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A campaign for job applicants (cards, or a link in a confirmation e-mail)."""


class Participation(Base):
    """The ledger: this campaign-scoped tag has answered. Nothing about what, nor when."""

    __tablename__ = "participation"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)


class PendingAnswer(Base):
    """A sealed answer waiting for its shuffled batch."""

    __tablename__ = "pending_answers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    complete: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False while its person may still add follow-ups; only complete answers are moved."""


class Answer(Base):
    """A sealed answer in the totals: random key, campaign, month of its batch, ciphertext."""

    __tablename__ = "answers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Conversation(Base):
    """Someone part-way through the questions: sealed state under a tag, gone within a day."""

    __tablename__ = "conversations"

    tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # naive UTC


class ProcessedEvent(Base):
    """A keyed digest of a platform event id already handled (kept about a week)."""

    __tablename__ = "processed_events"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    seen_on: Mapped[dt.date] = mapped_column(Date, index=True)


class Tally(Base):
    """A campaign's sealed counts by answer and follow-ups, kept in step with ``answers``.

    Updated in the same transaction as each batch is moved, so a report opens one row
    instead of every answer.
    """

    __tablename__ = "tallies"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Snapshot(Base):
    """A published report: the protected figures and, sealed, the counts behind them."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Reached(Base):
    """People keyq has put the question to in a campaign (campaign-scoped tags, no time)."""

    __tablename__ = "reached"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)


class Action(Base):
    """A tip the organisation adopted: its plan. Belongs to the organisation, not a person."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tip_id: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    adopted_on: Mapped[dt.date] = mapped_column(Date)
    done_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    asked_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class Contact(Base):
    """Someone keyq can reach later (reminders), under a keyed tag; never what they answered.

    The platform address (who and where to message) is sealed with the address keys.
    """

    __tablename__ = "contacts"

    tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(12), index=True)
    key_id: Mapped[str] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[dt.date] = mapped_column(Date)
    last_reminded: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(60), nullable=True)
    joiner_asked: Mapped[bool] = mapped_column(Boolean, default=False)


class Schedule(Base):
    """A reminder rule an admin set, e.g. "first monday of each quarter at 10:00"."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    rule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(60))
    campaign_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    anchor: Mapped[dt.datetime] = mapped_column(DateTime)  # UTC; interval rules count from it
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # UTC
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Deleted schedules stay as rows, so a number once shown is never given to another."""


class QuietPeriod(Base):
    """Every year from ``starts`` to ``ends`` (both "MM-DD", inclusive) no wave is started."""

    __tablename__ = "quiet_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))


class Wave(Base):
    """One run of a schedule: counts only, never who."""

    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(12))  # schedule | joiners
    campaign_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped_answered: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    recently_reminded: Mapped[int] = mapped_column(Integer, default=0)


class Outbox(Base):
    """A reminder waiting to be sent; its sealed address is deleted once it has gone."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    contact_tag: Mapped[bytes] = mapped_column(LargeBinary(32))
    channel: Mapped[str] = mapped_column(String(12))
    key_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # UTC
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class SendPace(Base):
    """The next free sending slot per channel, shared by every keyq process."""

    __tablename__ = "send_pace"

    channel: Mapped[str] = mapped_column(String(12), primary_key=True)
    next_slot: Mapped[dt.datetime] = mapped_column(DateTime)  # UTC


class CodeBatch(Base):
    """A batch of single-use answer codes for the web channel: counts only."""

    __tablename__ = "code_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    issued: Mapped[int] = mapped_column(Integer)
    issued_month: Mapped[str] = mapped_column(String(7))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Code(Base):
    """One single-use code, as a keyed hash only (the code itself is printed, never stored).

    Spent in the same transaction that stores its holder's answer; nothing ties it to the answer.
    """

    __tablename__ = "codes"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("code_batches.id"), index=True)
    spent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DashboardLink(Base):
    """A one-time sign-in link: HMAC of its token, whose (keyed tag of the ref), until when."""

    __tablename__ = "dashboard_links"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    who: Mapped[bytes] = mapped_column(LargeBinary(32))
    role: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC


class DashboardSession(Base):
    """A signed-in dashboard session (server side, so signing out ends it everywhere)."""

    __tablename__ = "dashboard_sessions"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    who: Mapped[bytes] = mapped_column(LargeBinary(32))
    role: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
