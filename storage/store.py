"""The store: everything the engine and the admin commands read and write, sealed at rest.

The store never sees a platform id: callers pass keyed tags. It seals and opens ciphertext with
the key ring so nothing readable about an answer reaches the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

from storage.crypto import KeyRing
from storage.database import POOL_TIMEOUT, SQLITE_BUSY_MS, create_turn_engine
from storage.tables import (
    Answer,
    Campaign,
    Code,
    Contact,
    Conversation,
    Outbox,
    Participation,
    PendingAnswer,
    ProcessedEvent,
    Reached,
    SendPace,
    Snapshot,
    Tally,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
TallyKey = tuple[str, str, str, str]
"""(key question option id, level, function, location); "" where not stated."""
ANSWER_SCHEMA = 1
FOLLOWUP_FIELDS = ("level", "function", "location")
EVENT_MEMORY = dt.timedelta(days=7)


class TooFew(Exception):
    """Fewer complete answers wait than a batch: nothing is moved (``Unit.move_batch``)."""


class Conflict(Exception):
    """Someone else changed this conversation first; the turn should be run again."""


@dataclass(frozen=True, kw_only=True)
class CampaignInfo:
    """A campaign as the engine and admins see it."""

    id: str
    title: str
    is_default: bool
    is_open: bool
    opened_month: str
    closed_month: str | None
    applicants: bool = False


@dataclass(frozen=True, kw_only=True)
class Saved:
    """A conversation's state as loaded, with the version to save it back against."""

    state: dict[str, Any]
    version: int


def _answer_context(campaign: str) -> str:
    return f"answer|{campaign}"


def _conversation_context(tag: bytes) -> str:
    return f"conversation|{tag.hex()}"


def _address_context(tag: bytes) -> str:
    return f"address|{tag.hex()}"


def _tally_context(campaign: str) -> str:
    return f"tally|{campaign}"


def _snapshot_context(campaign: str) -> str:
    return f"snapshot|{campaign}"


def tally_key(answer: dict[str, str]) -> TallyKey:
    """Where an answer counts in a tally."""
    level, function, location = (answer.get(f, "") for f in FOLLOWUP_FIELDS)
    return answer.get("kq", ""), level, function, location


@dataclass(frozen=True, kw_only=True)
class StoredSnapshot:
    """A published report as stored: when, and its sealed content opened."""

    id: int
    published_at: dt.datetime
    content: dict[str, Any]


def month_of(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m")


class _Direct:
    """A turn's connection used through the database driver itself (``OnLoop``, ``OnDriver``)."""

    durable = False
    """Whether a statement other than a conversation's steps ran (``_STEPS``): then the turn's
    commit is made to last before the turn returns (``Store.unit``)."""

    def _note(self, statement: Any) -> None:
        if id(statement) not in _STEPS:
            self.durable = True

    async def execute(self, statement: Any, parameters: dict[str, Any] | None = None) -> Rows:
        raise NotImplementedError

    async def scalar(self, statement: Any, parameters: dict[str, Any] | None = None) -> Any:
        rows = (await self.execute(statement, parameters)).records
        return rows[0][0] if rows else None

    async def executemany(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        """One statement for each of ``rows`` (all with the same keys), sent together."""
        raise NotImplementedError


class OnLoop(_Direct):
    """A SQLite connection used through sqlite3 itself for a turn's statements, each run on the
    event loop at once, with no hop to a thread.

    As on PostgreSQL (``OnDriver``), SQLAlchemy builds and compiles the statements (their
    compiled form is kept) and the driver runs them; SQLAlchemy's column types still convert
    what goes in and comes out (dates, times, booleans). What is skipped is its execution
    layer around each statement, about 50 microseconds of CPU against SQLite's 10
    (bench/engine_turn.py).
    """

    def __init__(self, raw: sqlite3.Connection, dialect: Dialect):
        self.raw = raw
        self.dialect = dialect

    async def execute(self, statement: Any, parameters: dict[str, Any] | None = None) -> Rows:
        self._note(statement)
        found = _compiled(statement, parameters, self.dialect)
        cursor = self.raw.execute(found.sql, self._args(found, parameters))
        if cursor.description is None:
            return Rows([], rowcount=cursor.rowcount)
        if found.shape is None:
            found.shape = _Shape.of(statement, cursor.description, self.dialect)
        return Rows([found.shape.record(row) for row in cursor.fetchall()])

    async def executemany(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        self._note(statement)
        found = _compiled(statement, rows[0], self.dialect)
        self.raw.executemany(found.sql, [self._args(found, row) for row in rows])

    def _args(self, found: Compiled, parameters: dict[str, Any] | None) -> list[Any]:
        """The values in placeholder order, converted as SQLAlchemy's column types would."""
        if found.binders is None:
            found.binders = [
                found.compiled.binds[name]
                .type.dialect_impl(self.dialect)
                .bind_processor(self.dialect)
                for name in found.names
            ]
        values = found.compiled.construct_params(parameters)
        return [
            values[name] if convert is None else convert(values[name])
            for name, convert in zip(found.names, found.binders, strict=True)
        ]


def _on_loop(conn: Connection) -> OnLoop:
    """sqlite3's own connection under one from the turn engine's pool."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return OnLoop(raw, conn.dialect)


class _Shape:
    """The columns a SQLite statement returns: their names, and how each value is read back
    (SQLAlchemy's result conversion for its type, if it has one)."""

    def __init__(self, names: dict[str, int], readers: list[Callable[[Any], Any] | None]):
        self.names = names
        self.readers = readers

    @classmethod
    def of(cls, statement: Any, description: Any, dialect: Dialect) -> _Shape:
        columns = list(getattr(statement, "exported_columns", ()))
        if len(columns) != len(description):  # text(): values as SQLite gives them
            columns = []
        readers = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ] or [None] * len(description)
        return cls({d[0]: i for i, d in enumerate(description)}, readers)

    def record(self, row: tuple[Any, ...]) -> _Row:
        values = tuple(
            value if read is None or value is None else read(value)
            for value, read in zip(row, self.readers, strict=True)
        )
        return _Row(self.names, values)


class _Row:
    """A SQLite row read by position or by column name, as asyncpg's records are."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: tuple[Any, ...]):
        self._names = names
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._names[key]]


class OnDriver(_Direct):
    """A PostgreSQL connection used through asyncpg itself for a turn's statements.

    SQLAlchemy still builds and compiles every statement (the compiled form of the statements
    a turn always makes is kept), and asyncpg runs it as a prepared statement; what is skipped
    is SQLAlchemy's execution layer around each one (a greenlet switch, an execution context
    and a result object), which cost more CPU than keyq's own work in a turn
    (bench/engine_turn.py).
    """

    def __init__(self, raw: asyncpg.Connection, dialect: Dialect):
        self.raw = raw
        self.dialect = dialect

    async def execute(self, statement: Any, parameters: dict[str, Any] | None = None) -> Rows:
        self._note(statement)
        found = _compiled(statement, parameters, self.dialect)
        args = self._args(found, parameters)
        if found.returns_rows is None:  # first use: PostgreSQL says whether rows come back
            prepared = await self.raw.prepare(found.sql)
            found.returns_rows = bool(prepared.get_attributes())
        if found.returns_rows:
            return Rows(await self.raw.fetch(found.sql, *args))
        status = await self.raw.execute(found.sql, *args)  # "UPDATE 1", "INSERT 0 1"
        return Rows([], rowcount=int(status.rsplit(" ", 1)[-1]))

    async def executemany(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        self._note(statement)
        found = _compiled(statement, rows[0], self.dialect)
        await self.raw.executemany(found.sql, [self._args(found, row) for row in rows])

    @staticmethod
    def _args(found: Compiled, parameters: dict[str, Any] | None) -> list[Any]:
        """The values in placeholder order (asyncpg converts them by the column types)."""
        values = found.compiled.construct_params(parameters)
        return [values[name] for name in found.names]


class Rows:
    """The driver's rows with the parts of SQLAlchemy's result a ``Unit`` reads."""

    def __init__(self, records: list[Any], *, rowcount: int = -1):
        self.records = records
        self.rowcount = rowcount if rowcount >= 0 else len(records)

    def first(self) -> Record | None:
        return Record(self.records[0]) if self.records else None


class Record:
    """One row, its columns read as attributes (``row.sealed``), as SQLAlchemy's rows are."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record | _Row):
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Compiled:
    """A statement as the driver runs it: SQL in its dialect's placeholders ($n, or ? on
    SQLite), the parameter names in order, the compiled statement (for values bound in the
    statement itself), whether rows come back (PostgreSQL: None until it has said), and on
    SQLite how values are converted on the way in and out (set on first use)."""

    sql: str
    names: list[str]
    compiled: Any
    returns_rows: bool | None = None
    binders: list[Callable[[Any], Any] | None] | None = None
    shape: _Shape | None = None


_COMPILED: OrderedDict[tuple[Any, ...], Compiled] = OrderedDict()
"""Compiled statements, most recently used last (a turn's few; others come and go)."""


def _compiled(statement: Any, parameters: dict[str, Any] | None, dialect: Dialect) -> Compiled:
    key = (statement, tuple(parameters or ()), dialect.name)
    found = _COMPILED.get(key)
    if found is not None:
        _COMPILED.move_to_end(key)
        return found
    compiled = statement.compile(dialect=dialect, column_keys=list(parameters or ()))
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        raise ValueError("a turn's statement cannot expand a list parameter")
    found = _COMPILED[key] = Compiled(sql, list(compiled.positiontup or ()), compiled)
    if len(_COMPILED) > 256:
        _COMPILED.popitem(last=False)
    return found


Conn = AsyncConnection | OnLoop | OnDriver
"""A turn's connection: SQLAlchemy's async one, (SQLite) one run on the event loop, or
(PostgreSQL) asyncpg's own."""


class Unit:
    """One transaction of one turn: every change in it lands together or not at all."""

    def __init__(self, conn: Conn, keys: KeyRing, clock: Clock, ttl: dt.timedelta):
        self._conn = conn
        self._keys = keys
        self._clock = clock
        self._ttl = ttl
        self._default: CampaignInfo | bool | None = False
        """The default campaign as the event's claim read it (PostgreSQL; False: not read)."""

    async def _insert_new(self, table: Any, **values: Any) -> bool:
        """Inserts a row unless its key exists; True if it was inserted (one statement, no race)."""
        stmt = _statement(self._conn, ("insert-new", table), _build_insert_new)
        return (await self._conn.execute(stmt, values)).first() is not None

    async def claim_event(self, digest: bytes) -> bool:
        """Records a platform event; False if it was already handled (a replay)."""
        return await self._insert_new(ProcessedEvent, digest=digest, seen_on=self._clock().date())

    async def campaign(self, campaign_id: str) -> CampaignInfo | None:
        row = (await self._conn.execute(_CAMPAIGN, {"campaign": campaign_id})).first()
        return _campaign(row) if row else None

    async def default_campaign(self) -> CampaignInfo | None:
        """The open default campaign, if any (on PostgreSQL read with the event's claim)."""
        if not isinstance(self._default, bool):
            return self._default
        row = (await self._conn.execute(_DEFAULT_CAMPAIGN)).first()
        return _campaign(row) if row else None

    async def claim_and_load(
        self,
        digest: bytes | None,
        tag: bytes,
        *,
        contact: tuple[bytes, str, dict[str, str]] | None = None,
    ) -> tuple[bool, Saved | None]:
        """Claims a platform event (``digest``; None for one without an id) and loads the
        person's conversation: (False, None) for an event handled before (a replay). With
        ``contact`` (a contact tag, channel and address) a new event is also ``touch_contact``.

        On PostgreSQL this is one statement, so one round trip instead of two or three on
        every turn: the claim (and the contact's upsert, only if the claim is new) are
        data-modifying CTEs beside the conversation's row (round trips, not statements, are
        most of a turn's cost there: bench/engine_turn.py). The open default campaign comes
        back in the same row, for a turn that starts a conversation (``default_campaign``)."""
        if digest is not None and self._conn.dialect.name == "postgresql":
            key = ("claim-and-load", contact is not None)
            stmt = _statement(self._conn, key, _build_claim_and_load)
            values = {"digest": digest, "seen_on": self._clock().date(), "tag": tag}
            if contact is not None:
                contacted = self._contact_values(*contact, reachable=True, joiner=True)
                values.update({f"c_{name}": value for name, value in contacted.items()})
            row = (await self._conn.execute(stmt, values)).first()
            if row is None or not row.claimed:
                return False, None
            self._default = _campaign(row, "d_") if row.d_id is not None else None
            return True, await self._opened(tag, row if row.version is not None else None)
        if digest is not None and not await self.claim_event(digest):
            return False, None
        if contact is not None:
            await self.touch_contact(*contact)
        return True, await self.load_conversation(tag)

    async def load_conversation(self, tag: bytes) -> Saved | None:
        """The person's unfinished conversation, or None (an expired one is deleted)."""
        row = (await self._conn.execute(_LOAD_CONVERSATION, {"tag": tag})).first()
        return await self._opened(tag, row)

    async def _opened(self, tag: bytes, row: Any) -> Saved | None:
        """A conversation's row opened, or None (an expired one is deleted)."""
        if row is None:
            return None
        plain = self._keys.answers.open(row.key_id, row.sealed, _conversation_context(tag))
        state = json.loads(plain)
        if _aware(row.expires_at) <= self._clock():
            await _complete_pending(self._conn, state)
            await self._conn.execute(_END_CONVERSATION, {"tag": tag})
            return None
        return Saved(state=state, version=row.version)

    async def save_conversation(
        self, tag: bytes, state: dict[str, Any], version: int | None
    ) -> None:
        """Saves state; ``version`` is what was loaded (None: new). Raises Conflict if stale."""
        key_id, sealed, expires = self._sealed_state(tag, state)
        if version is None:
            saved = await self._insert_new(
                Conversation, tag=tag, version=1, key_id=key_id, sealed=sealed, expires_at=expires
            )
        else:
            values = {
                "p_tag": tag,
                "p_version": version,
                "p_next": version + 1,
                "p_key_id": key_id,
                "p_sealed": sealed,
                "p_expires": expires,
            }
            saved = bool((await self._conn.execute(_SAVE_CONVERSATION, values)).rowcount)
        if not saved:
            raise Conflict

    def _sealed_state(self, tag: bytes, state: dict[str, Any]) -> tuple[str, bytes, dt.datetime]:
        """A conversation's state as stored: its key id, sealed, and when it expires."""
        key_id, sealed = self._keys.answers.seal(
            json.dumps(state).encode(), _conversation_context(tag)
        )
        return key_id, sealed, _naive_utc(self._clock() + self._ttl)

    async def end_conversation(self, tag: bytes, version: int | None) -> None:
        """Deletes the conversation; raises Conflict if someone moved it on meanwhile."""
        if version is None:
            return
        values = {"tag": tag, "version": version}
        if not (await self._conn.execute(_END_CONVERSATION_AT, values)).rowcount:
            raise Conflict

    async def touch_contact(
        self,
        tag: bytes,
        channel: str,
        address: dict[str, str],
        *,
        reachable: bool | None = True,
        joiner: bool = True,
    ) -> None:
        """Remembers (sealed) how to reach this person; by default makes them reachable.

        A contact first met this way is a new joiner (asked once, later) unless ``joiner``
        is False.
        """
        values = self._contact_values(tag, channel, address, reachable=reachable, joiner=joiner)
        # One statement either way: a new contact is inserted, a known one refreshed (and
        # made reachable or not, unless ``reachable`` is None).
        stmt = _statement(self._conn, ("touch-contact", reachable is None), _build_touch_contact)
        await self._conn.execute(stmt, values)

    def _contact_values(
        self,
        tag: bytes,
        channel: str,
        address: dict[str, str],
        *,
        reachable: bool | None,
        joiner: bool,
    ) -> dict[str, Any]:
        """A contact's row as ``touch_contact`` writes it, the address sealed."""
        key_id, sealed = self._keys.addresses.seal(
            json.dumps(address, sort_keys=True).encode(), _address_context(tag)
        )
        return {
            "tag": tag,
            "channel": channel,
            "key_id": key_id,
            "sealed": sealed,
            "reachable": True if reachable is None else reachable,
            "opted_out": False,
            "first_seen": self._clock().date(),
            "joiner_asked": not joiner,
        }

    async def set_contact(self, tag: bytes, **values: bool | str) -> bool:
        """Sets ``reachable`` or ``opted_out`` for a known contact; False if unknown."""
        result = await self._conn.execute(
            update(Contact).where(Contact.tag == tag).values(**values)
        )
        return bool(result.rowcount)

    async def spend_code(self, digest: bytes) -> bool:
        """Marks a web answer code spent, in the transaction that stores its answer."""
        result = await self._conn.execute(_SPEND_CODE, {"p_digest": digest})
        return bool(result.rowcount)

    async def forget_contact(self, tag: bytes) -> None:
        """Deletes what keyq keeps to reach this person (address, reminder record)."""
        await self._conn.execute(delete(Outbox).where(Outbox.contact_tag == tag))
        await self._conn.execute(delete(Contact).where(Contact.tag == tag))

    async def mark_reached(self, campaign_id: str, tag: bytes) -> None:
        """Notes that the question was put to this campaign-scoped tag (for response rates)."""
        await self._insert_new(Reached, campaign_id=campaign_id, tag=tag)

    async def begin_conversation(
        self,
        campaign_id: str,
        ledger_tag: bytes,
        tag: bytes,
        state: dict[str, Any],
        version: int | None,
    ) -> bool:
        """The question is being put: unless this ledger tag has answered already (then
        nothing changes and this is False), ``mark_reached`` and ``save_conversation``
        together. A new conversation on PostgreSQL is one statement (the check and the reach
        CTEs beside it)."""
        if version is not None or self._conn.dialect.name != "postgresql":
            if await self.has_answered(campaign_id, ledger_tag):
                return False
            await self.mark_reached(campaign_id, ledger_tag)
            await self.save_conversation(tag, state, version)
            return True
        key_id, sealed, expires = self._sealed_state(tag, state)
        values = {
            "campaign_id": campaign_id,
            "ledger": ledger_tag,
            "tag": tag,
            "key_id": key_id,
            "sealed": sealed,
            "expires_at": expires,
        }
        stmt = _statement(self._conn, ("reach-and-begin",), _build_reach_and_begin)
        row = (await self._conn.execute(stmt, values)).first()
        assert row is not None  # one row always: the two counts
        if row.answered:
            return False
        if not row.begun:
            raise Conflict
        return True

    async def has_answered(self, campaign_id: str, tag: bytes) -> bool:
        values = {"campaign": campaign_id, "tag": tag}
        return (await self._conn.execute(_HAS_ANSWERED, values)).first() is not None

    async def record_answer(
        self,
        campaign_id: str,
        tag: bytes,
        answer: dict[str, str],
        *,
        complete: bool = True,
        ending: tuple[bytes, int] | None = None,
    ) -> str | None:
        """Marks the tag as answered and queues the sealed answer, in one transaction.

        Returns the pending answer's id (None if the tag had answered already). An answer that
        is not ``complete`` may still gain follow-ups (``add_to_answer``) and is not moved into
        the totals until it is complete; the caller keeps only its id, never the answer.
        ``ending`` (a conversation's tag and version) is ``end_conversation`` too, whether or
        not the answer is new: on PostgreSQL all in one statement.
        """
        postgres = self._conn.dialect.name == "postgresql"
        if not postgres:
            if ending is not None:
                await self.end_conversation(*ending)
            if not await self._insert_new(Participation, campaign_id=campaign_id, tag=tag):
                return None
        key_id, sealed = self._keys.answers.seal(
            json.dumps(answer, sort_keys=True).encode(), _answer_context(campaign_id)
        )
        pending_id = str(uuid.uuid4())
        values = {
            "id": pending_id,
            "campaign_id": campaign_id,
            "key_id": key_id,
            "sealed": sealed,
            "complete": complete,
        }
        if postgres:  # one statement: the pending row only if the ledger row is new
            key = ("join-and-queue", ending is not None)
            stmt = _statement(self._conn, key, _build_join_and_queue)
            if ending is not None:
                values.update(ending_tag=ending[0], ending_version=ending[1])
            row = (await self._conn.execute(stmt, {**values, "tag": tag})).first()
            assert row is not None  # one row always
            if ending is not None and not row.ended:
                raise Conflict
            return pending_id if row.queued is not None else None
        await self._conn.execute(_INSERT_PENDING, values)
        return pending_id

    async def add_to_answer(
        self, campaign_id: str, pending_id: str, extra: dict[str, str], *, complete: bool
    ) -> bool:
        """Adds follow-up fields to a pending answer (and marks it complete if so)."""
        context = _answer_context(campaign_id)
        values = {"pending": pending_id, "campaign": campaign_id}
        row = (await self._conn.execute(_OPEN_PENDING, values)).first()
        if row is None:
            return False
        answer = json.loads(self._keys.answers.open(row.key_id, row.sealed, context))
        answer.update(extra)
        key_id, sealed = self._keys.answers.seal(
            json.dumps(answer, sort_keys=True).encode(), context
        )
        changed = {"pending": pending_id, "p_key_id": key_id, "p_sealed": sealed}
        await self._conn.execute(_UPDATE_PENDING, {**changed, "p_complete": complete})
        return True

    async def move_batch(self, campaign_id: str, *, batch: int, force: bool) -> int:
        """Moves a campaign's complete pending answers into ``answers``, shuffled, and counts
        them into its tally; how many moved (0 if another process holds the move). Fewer than
        ``batch`` raise ``TooFew`` (the caller's transaction then puts them back), unless
        ``force``. See ``Store.flush``."""
        conn = self._conn
        if conn.dialect.name == "postgresql":
            # Another process or turn moving this campaign's batch takes what is waiting;
            # queueing behind it would only hold a pooled connection for nothing. A forced
            # move (closing a campaign) waits its turn instead.
            lock = _LOCK_WAIT if force else _LOCK_TRY
            if await conn.scalar(lock, {"c": f"keyq-flush:{campaign_id}"}) is False:
                return 0
        rows = _records(await conn.execute(_TAKE_PENDING, {"campaign": campaign_id}))
        if not rows:
            return 0
        if len(rows) < batch and not force:
            raise TooFew
        secrets.SystemRandom().shuffle(rows)
        context = _answer_context(campaign_id)
        month = month_of(self._clock())
        moved = []
        tally = await read_tally(conn, self._keys, campaign_id)
        for row in rows:
            plain = self._keys.answers.open(row.key_id, row.sealed, context)
            cell = tally_key(json.loads(plain))
            tally[cell] = tally.get(cell, 0) + 1
            key_id, sealed = self._keys.answers.seal(plain, context)
            moved.append(
                {
                    "id": str(uuid.uuid4()),
                    "campaign_id": campaign_id,
                    "month": month,
                    "schema_version": ANSWER_SCHEMA,
                    "key_id": key_id,
                    "sealed": sealed,
                }
            )
        await _execute_many(conn, _INSERT_ANSWER, moved)  # in the shuffled order
        await write_tally(conn, self._keys, campaign_id, tally)
        return len(rows)


class Store:
    """Opens units of work and runs the whole-table jobs (flush, purge, re-encrypt, read)."""

    def __init__(
        self,
        engine: AsyncEngine,
        keys: KeyRing,
        clock: Clock,
        *,
        conversation_ttl: dt.timedelta = dt.timedelta(hours=24),
    ):
        self.engine = engine
        self.keys = keys
        self.clock = clock
        self._ttl = conversation_ttl
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite allows one writer: serialise this process's transactions instead of failing.
        self._write_lock = asyncio.Lock()
        self._turns: Engine | None = create_turn_engine(engine)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        if self._sqlite:
            async with self._write_lock, self.engine.begin() as conn:
                yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    @property
    def turn_engine(self) -> Engine:
        """The synchronous face of the engine that turns' statements run on (for counting)."""
        return self._turns or self.engine.sync_engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session in its own transaction, committed if the block ends normally."""
        async with self._tx() as conn, AsyncSession(bind=conn, expire_on_commit=False) as s:
            yield s
            await s.flush()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """A transaction for one turn; committed if the block ends normally.

        On PostgreSQL the statements go to asyncpg directly (``OnDriver``), in one
        transaction on a connection from SQLAlchemy's pool. A turn that only moved a
        conversation along (``_STEPS``: claimed an event, loaded, began, saved or ended a
        conversation, noted a reach) commits without waiting for the disk
        (``synchronous_commit`` off for that transaction alone, in the COMMIT's own round
        trip): a crash in the moment after could undo such a step, never an answer, a
        contact's change or anything else, whose turns commit as before. PostgreSQL writes
        its log in order, so a later turn that waits for the disk makes the steps before it
        durable too. On a SQLite file they run on the
        event loop (``OnLoop``): BEGIN IMMEDIATE takes the write lock before the first
        statement, and while another process holds it the turn sleeps and tries again, for up
        to POOL_TIMEOUT seconds, as a turn on PostgreSQL waits for a pooled connection. Its
        COMMIT writes the log without syncing it (``synchronous=NORMAL``: SQLite will not
        change that inside a transaction, and only its end says whether a turn was a step);
        a turn that was more than steps then syncs the log itself, after letting the next
        turn in, and returns only once it is on disk: one sync an answer instead of three.
        """
        if not self._sqlite:
            async with self._driver() as driver:
                await driver.raw.execute("BEGIN")
                try:
                    yield Unit(driver, self.keys, self.clock, self._ttl)
                except BaseException:
                    if not driver.raw.is_closed() and driver.raw.is_in_transaction():
                        await driver.raw.execute("ROLLBACK")
                    raise
                await driver.raw.execute("COMMIT" if driver.durable else _STEP_COMMIT)
            return
        if self._turns is None:
            async with self._tx() as conn:
                yield Unit(conn, self.keys, self.clock, self._ttl)
            return
        async with self._write_lock:
            with self._turns.connect() as conn:
                on_loop = _on_loop(conn)
                raw = on_loop.raw
                await _when_free(raw, "BEGIN IMMEDIATE")
                changes = raw.total_changes
                try:
                    yield Unit(on_loop, self.keys, self.clock, self._ttl)
                    await _when_free(raw, "COMMIT")
                except BaseException:
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    raise
                wrote = raw.total_changes != changes
        if on_loop.durable and wrote:
            sync_log(self._turns.url.database)  # on the loop: a hop to a thread cost more CPU

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[OnDriver]:
        """PostgreSQL: asyncpg's own connection, checked out of SQLAlchemy's pool (its timeout,
        recycling and events apply) without an ``AsyncConnection`` around it, which cost more
        CPU than the checkout itself. One that failed, or was left in a transaction, is
        invalidated: never pooled again."""
        pooled = await self.engine.raw_connection()
        raw = pooled.driver_connection
        assert raw is not None
        try:
            yield OnDriver(raw, self.engine.dialect)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            # SQLAlchemy's pool did not see it fail. Closing a connection waits on the
            # network, so a cancellation must not cut it short.
            await asyncio.shield(greenlet_spawn(pooled.invalidate))
            raise
        finally:
            # Interrupted mid-statement (a cancelled request): never pool it half-done.
            if pooled.is_valid and not raw.is_closed() and raw.is_in_transaction():
                await asyncio.shield(greenlet_spawn(pooled.invalidate))
            # Back to the pool: nothing here waits (the turn ended its own transaction, so
            # the pool's reset sends nothing), so no cancellation can land in the middle.
            await greenlet_spawn(pooled.close)

    async def ping(self) -> None:
        """Raises if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if self._turns is not None:
            self._turns.dispose()

    # Campaigns ---------------------------------------------------------------------------

    async def ensure_default_campaign(self, campaign_id: str, title: str) -> None:
        """Creates the year-round campaign if no campaign is the default yet."""
        async with self._tx() as conn:
            if (
                await conn.execute(select(Campaign.id).where(Campaign.is_default.is_(True)))
            ).first():
                return
            exists = (
                await conn.execute(select(Campaign.id).where(Campaign.id == campaign_id))
            ).first()
            if exists:
                await conn.execute(
                    update(Campaign).where(Campaign.id == campaign_id).values(is_default=True)
                )
            else:
                await self._insert_campaign(conn, campaign_id, title, make_default=True)

    async def campaigns(self) -> list[CampaignInfo]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(Campaign).order_by(Campaign.opened_month, Campaign.id))
            return [_campaign(row) for row in rows]

    async def start_campaign(
        self, campaign_id: str, title: str, *, make_default: bool, applicants: bool = False
    ) -> None:
        """Opens a new campaign; as the default, new conversations use it from now on."""
        if (
            not campaign_id.replace("-", "").isalnum()
            or campaign_id != campaign_id.lower()
            or len(campaign_id) > 40
        ):
            raise ValueError("a campaign id is lower-case letters, digits and dashes (40 at most)")
        async with self._tx() as conn:
            if (await conn.execute(select(Campaign.id).where(Campaign.id == campaign_id))).first():
                raise ValueError(f"campaign {campaign_id!r} exists already")
            if make_default:
                await conn.execute(update(Campaign).values(is_default=False))
            await self._insert_campaign(
                conn, campaign_id, title, make_default=make_default, applicants=applicants
            )

    async def _insert_campaign(
        self,
        conn: AsyncConnection,
        campaign_id: str,
        title: str,
        *,
        make_default: bool,
        applicants: bool = False,
    ) -> None:
        await conn.execute(
            insert(Campaign).values(
                id=campaign_id,
                title=title,
                is_default=make_default,
                is_open=True,
                applicants=applicants,
                opened_month=month_of(self.clock()),
            )
        )

    async def close_campaign(self, campaign_id: str) -> None:
        """Closes a campaign and moves any remainder of pending answers into its totals."""
        async with self._tx() as conn:
            result = await conn.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(is_open=False, is_default=False, closed_month=month_of(self.clock()))
            )
            if not result.rowcount:
                raise ValueError(f"no campaign {campaign_id!r}")
        await self.flush(campaign_id, batch=1, force=True)

    # Answers -----------------------------------------------------------------------------

    async def flush(self, campaign_id: str, *, batch: int, force: bool = False) -> int:
        """Moves pending answers into ``answers`` in shuffled order once ``batch`` are waiting.

        Callers count first without a lock (``Store.waiting``, ``flush_ready``). The move takes
        the waiting answers out of pending in one statement, so no answer can be moved twice,
        and puts them back if there are fewer than ``batch`` (unless ``force``); on PostgreSQL
        it only tries for the campaign's lock unless forced (whoever holds it moves what is
        waiting). It runs as a turn's statements do (the driver itself, one transaction), which
        took a batch of 10 from about 2.6 to 1.3 ms of CPU on PostgreSQL and from 3.95 to 1.0
        ms on SQLite (SQLAlchemy's execution layer around each statement, and on SQLite
        aiosqlite's thread, were most of it).

        Returns how many moved. Every moved answer is re-sealed with a fresh nonce and dated by
        month, so nothing in ``answers`` matches a pending row, its position or its time.
        """
        try:
            async with self.unit() as unit:
                moved = await unit.move_batch(campaign_id, batch=batch, force=force)
        except TooFew:
            return 0
        if moved:
            logger.info("moved a shuffled batch of %d answers into the totals", moved)
        return moved

    async def vacuum(self) -> None:
        """Clears what is left of moved pending answers and ended conversations, so nothing
        of them lingers (privacy.md). Run by housekeeping, never on a person's turn.

        PostgreSQL: vacuums their dead row versions; SKIP_LOCKED and a lock timeout mean a long
        transaction elsewhere delays it instead of queueing every turn behind it. SQLite
        overwrites deleted rows in place (secure_delete), but its write-ahead log still holds
        the pages as they were: the log is copied into the database and emptied.
        """
        if self._sqlite:
            async with self.engine.connect() as conn:
                # Writers wait while a checkpoint waits: with a long read open elsewhere it
                # would hold every turn until its busy timeout. It tries once instead, takes
                # what the reader allows, and the next run finishes the job.
                await conn.exec_driver_sql("PRAGMA busy_timeout=0")
                try:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            return
        async with self.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("SET lock_timeout = '2s'")
            await auto.exec_driver_sql("VACUUM (SKIP_LOCKED) pending_answers, conversations")

    async def answers(self, campaign_id: str) -> list[dict[str, str]]:
        """Every stored (flushed) answer of a campaign, opened. For reports only."""
        context = _answer_context(campaign_id)
        opened: list[dict[str, str]] = []
        async with self.engine.connect() as conn:
            stream = await conn.stream(
                select(Answer.key_id, Answer.sealed).where(Answer.campaign_id == campaign_id)
            )
            async for key_id, sealed in stream:
                opened.append(json.loads(self.keys.answers.open(key_id, sealed, context)))
        return opened

    async def tally(self, campaign_id: str) -> dict[TallyKey, int]:
        """The campaign's stored answers counted by cell (sealed at rest, opened here)."""
        async with self.engine.connect() as conn:
            return await read_tally(conn, self.keys, campaign_id)

    async def rebuild_tally(self, campaign_id: str) -> dict[TallyKey, int]:
        """Recounts the tally from every stored answer (after an upgrade, or to check it)."""
        tally: dict[TallyKey, int] = {}
        for answer in await self.answers(campaign_id):
            cell = tally_key(answer)
            tally[cell] = tally.get(cell, 0) + 1
        async with self._tx() as conn:
            await write_tally(conn, self.keys, campaign_id, tally)
        return tally

    async def ensure_tallies(self) -> None:
        """Builds the tally of any campaign that has answers but none yet (older databases)."""
        async with self.engine.connect() as conn:
            missing = list(
                await conn.scalars(
                    select(Answer.campaign_id)
                    .distinct()
                    .where(Answer.campaign_id.not_in(select(Tally.campaign_id)))
                )
            )
        for campaign_id in missing:
            await self.rebuild_tally(campaign_id)

    async def snapshots(self, campaign_id: str) -> list[StoredSnapshot]:
        """Every published report of a campaign, oldest first."""
        context = _snapshot_context(campaign_id)
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(Snapshot).where(Snapshot.campaign_id == campaign_id).order_by(Snapshot.id)
            )
            return [
                StoredSnapshot(
                    id=r.id,
                    published_at=_aware(r.published_at),
                    content=json.loads(self.keys.answers.open(r.key_id, r.sealed, context)),
                )
                for r in rows
            ]

    async def add_snapshot(
        self, campaign_id: str, content: dict[str, Any], *, after: int | None
    ) -> StoredSnapshot | None:
        """Stores a newly published report, sealed, if the campaign's latest snapshot is still
        ``after`` (None: none yet), the one it was protected against; else stores nothing and
        returns None. Two reports published at once would each be audited without the other,
        and the pair could give away what neither does alone."""
        now = self.clock()
        key_id, sealed = self.keys.answers.seal(
            json.dumps(content).encode(), _snapshot_context(campaign_id)
        )
        async with self._tx() as conn:  # SQLite: one writer at a time in this process
            if conn.dialect.name == "postgresql":
                await conn.execute(_LOCK_WAIT, {"c": f"keyq-snapshot:{campaign_id}"})
            latest = await conn.scalar(
                select(func.max(Snapshot.id)).where(Snapshot.campaign_id == campaign_id)
            )
            if latest != after:
                return None
            result = await conn.execute(
                insert(Snapshot)
                .values(
                    campaign_id=campaign_id,
                    published_at=_naive_utc(now),
                    key_id=key_id,
                    sealed=sealed,
                )
                .returning(Snapshot.id)
            )
            snapshot_id = int(result.scalar_one())
        return StoredSnapshot(id=snapshot_id, published_at=now, content=content)

    async def people(self, campaign_id: str) -> tuple[int, int]:
        """(people the question was put to, people who answered) in a campaign."""
        return await self._count_rows(campaign_id, Reached, Participation)

    async def counts(self, campaign_id: str) -> tuple[int, int]:
        """(people who answered, answers still waiting for their batch)."""
        return await self._count_rows(campaign_id, Participation, PendingAnswer)

    async def _count_rows(self, campaign_id: str, *tables: Any) -> tuple[int, int]:
        async with self.engine.connect() as conn:
            first, second = [
                int(
                    await conn.scalar(
                        select(func.count()).select_from(t).where(t.campaign_id == campaign_id)
                    )
                    or 0
                )
                for t in tables
            ]
        return first, second

    # Housekeeping ------------------------------------------------------------------------

    async def purge(self) -> int:
        """Forgets expired conversations and event digests older than a week.

        An answer whose person left before the optional follow-ups is completed as it stands,
        so it joins the totals with its next batch. Returns how many conversations went.
        """
        now = self.clock()
        async with self._tx() as conn:
            expired = list(
                await conn.execute(
                    select(Conversation).where(Conversation.expires_at <= _naive_utc(now))
                )
            )
            for row in expired:
                state = json.loads(
                    self.keys.answers.open(row.key_id, row.sealed, _conversation_context(row.tag))
                )
                await _complete_pending(conn, state)
            if expired:
                await conn.execute(
                    delete(Conversation).where(Conversation.tag.in_([r.tag for r in expired]))
                )
            await conn.execute(
                delete(ProcessedEvent).where(ProcessedEvent.seen_on < (now - EVENT_MEMORY).date())
            )
        return len(expired)

    async def waiting(self, campaign_id: str) -> int:
        """How many complete answers wait for their batch (no lock: a hint for flushing, read
        after the answers' turns have committed, beside them). Read the way a turn's statements
        are (asyncpg itself; SQLite on the loop, where in WAL mode a reader waits for no one):
        it follows every stored answer."""
        values = {"campaign": campaign_id}
        if self._turns is not None:
            with self._turns.connect() as plain:
                return int(await _on_loop(plain).scalar(_WAITING, values) or 0)
        if self._sqlite:
            async with self.engine.connect() as conn:
                return int(await conn.scalar(_WAITING, values) or 0)
        async with self._driver() as driver:
            return int(await driver.scalar(_WAITING, values) or 0)

    async def flush_ready(self, *, batch: int) -> int:
        """Moves a batch into the totals for every campaign that has one waiting."""
        async with self.engine.connect() as conn:
            campaigns = list(
                await conn.scalars(
                    select(PendingAnswer.campaign_id)
                    .where(PendingAnswer.complete.is_(True))
                    .group_by(PendingAnswer.campaign_id)
                    .having(func.count() >= batch)
                )
            )
        return sum([await self.flush(c, batch=batch) for c in campaigns])

    async def reserve(self, lane: str, count: int, interval: float) -> float:
        """Reserves ``count`` sending slots ``interval`` seconds apart on a pace shared by every
        keyq process (one row per lane); returns when the first may go (a Unix time)."""
        now = dt.datetime.now(dt.UTC)
        async with self.session() as session:
            # The lane's row exists once, however many processes start at the same moment.
            conn = await session.connection()
            await conn.execute(
                _insert(conn, SendPace)
                .values(channel=lane, next_slot=_naive_utc(now))
                .on_conflict_do_nothing()
            )
            pace = await session.get(SendPace, lane, with_for_update=True)
            assert pace is not None
            start = max(_aware(pace.next_slot), now)
            pace.next_slot = _naive_utc(start + dt.timedelta(seconds=interval * count))
            return start.timestamp()

    async def push_back(self, lane: str, wait: float) -> None:
        """After a 429: nobody on this lane sends again for ``wait`` seconds."""
        async with self.session() as session:
            pace = await session.get(SendPace, lane, with_for_update=True)
            if pace is not None:
                later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
                pace.next_slot = max(pace.next_slot, _naive_utc(later))

    async def key_ids_in_use(self, ring_name: str = "answers") -> set[str]:
        """Key ids of a ring (``answers`` or ``addresses``) that seal something stored."""
        used: set[str] = set()
        async with self.engine.connect() as conn:
            for name, table, _, _ in _SEALED:
                if name == ring_name:
                    used.update(
                        await conn.scalars(
                            select(table.key_id).where(table.key_id.is_not(None)).distinct()
                        )
                    )
        return used

    async def reseal(self, chunk: int = 1000) -> int:
        """Re-encrypts everything sealed under an older key with its ring's primary key."""
        total = 0
        for name, table, key_column, context_of in _SEALED:
            ring = self.keys.answers if name == "answers" else self.keys.addresses
            while True:
                async with self._tx() as conn:
                    stale = (
                        select(table)
                        .where(table.key_id.is_not(None), table.key_id != ring.primary)
                        .limit(chunk)
                    )
                    rows = list(await conn.execute(stale))
                    for row in rows:
                        context = context_of(row)
                        key_id, sealed = ring.seal(
                            ring.open(row.key_id, row.sealed, context), context
                        )
                        await conn.execute(
                            update(table)
                            .where(key_column == getattr(row, key_column.key))
                            .values(key_id=key_id, sealed=sealed)
                        )
                total += len(rows)
                if len(rows) < chunk:
                    break
        return total


_SEALED: tuple[tuple[str, Any, Any, Callable[[Any], str]], ...] = (
    ("answers", Answer, Answer.id, lambda row: _answer_context(row.campaign_id)),
    ("answers", PendingAnswer, PendingAnswer.id, lambda row: _answer_context(row.campaign_id)),
    ("answers", Conversation, Conversation.tag, lambda row: _conversation_context(row.tag)),
    ("answers", Tally, Tally.campaign_id, lambda row: _tally_context(row.campaign_id)),
    ("answers", Snapshot, Snapshot.id, lambda row: _snapshot_context(row.campaign_id)),
    ("addresses", Contact, Contact.tag, lambda row: _address_context(row.tag)),
    ("addresses", Outbox, Outbox.id, lambda row: f"outbox|{row.contact_tag.hex()}"),
)
"""Every sealed table: its key ring, key column, and the context its seal is bound to."""


def sync_log(database: str | None) -> None:
    """SQLite: syncs the write-ahead log to disk (the database file itself if there is no log),
    as ``synchronous=FULL`` would have at the commit: what was committed survives a power cut.
    """
    if not database:
        return
    for path in (f"{database}-wal", database):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return


async def _when_free(raw: sqlite3.Connection, sql: str) -> None:
    """Runs BEGIN IMMEDIATE or COMMIT, sleeping between tries while another process holds
    SQLite's lock (its connections never wait inside SQLite: that would stall the loop).

    The COMMIT writes the log without syncing it (``Store.unit`` syncs it after a turn that
    must last, with the lock let go): a sync, about 0.3 ms here, stalls the loop, and every
    turn paid one. Awaiting the whole COMMIT in a worker thread instead left the turn's lock
    held while the loop served other requests, and at concurrency 8 the turns queued behind
    each other (bench/telegram_webhook.py: half the rate).
    """
    deadline = time.monotonic() + POOL_TIMEOUT
    while True:
        try:
            raw.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            )
            if not busy or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.005)


async def _complete_pending(conn: Conn, state: dict[str, Any]) -> None:
    """A conversation that ends before its optional follow-ups: its answer stands as it is and
    may join the next batch."""
    if state.get("pending"):
        await conn.execute(_COMPLETE_PENDING, {"pending": state["pending"]})


def _insert(conn: Conn, table: Any) -> Any:
    """An INSERT that can say what to do on a conflict, in the connection's own dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# A turn's statements, built once with bound parameters: building a statement and its cache
# key again on every turn was about a fifth of the engine's CPU (bench/telegram_webhook.py).
_LOAD_CONVERSATION = select(Conversation).where(Conversation.tag == bindparam("tag"))
_SAVE_CONVERSATION = (
    update(Conversation)
    .where(Conversation.tag == bindparam("p_tag"), Conversation.version == bindparam("p_version"))
    .values(
        version=bindparam("p_next"),
        key_id=bindparam("p_key_id"),
        sealed=bindparam("p_sealed"),
        expires_at=bindparam("p_expires"),
    )
)
_INSERT_PENDING = insert(PendingAnswer)
_CAMPAIGN = select(Campaign).where(Campaign.id == bindparam("campaign"))
_DEFAULT_CAMPAIGN = select(Campaign).where(
    Campaign.is_default.is_(True), Campaign.is_open.is_(True)
)
_END_CONVERSATION = delete(Conversation).where(Conversation.tag == bindparam("tag"))
_END_CONVERSATION_AT = delete(Conversation).where(
    Conversation.tag == bindparam("tag"), Conversation.version == bindparam("version")
)
_HAS_ANSWERED = select(Participation.tag).where(
    Participation.campaign_id == bindparam("campaign"), Participation.tag == bindparam("tag")
)
_SPEND_CODE = (
    update(Code)
    .where(Code.digest == bindparam("p_digest"), Code.spent.is_(False))
    .values(spent=True)
)
_OPEN_PENDING = select(PendingAnswer).where(
    PendingAnswer.id == bindparam("pending"),
    PendingAnswer.campaign_id == bindparam("campaign"),
    PendingAnswer.complete.is_(False),
)
_UPDATE_PENDING = (
    update(PendingAnswer)
    .where(PendingAnswer.id == bindparam("pending"))
    .values(
        key_id=bindparam("p_key_id"), sealed=bindparam("p_sealed"), complete=bindparam("p_complete")
    )
)
_COMPLETE_PENDING = (
    update(PendingAnswer).where(PendingAnswer.id == bindparam("pending")).values(complete=True)
)
_WAITING = (
    select(func.count())
    .select_from(PendingAnswer)
    .where(PendingAnswer.campaign_id == bindparam("campaign"), PendingAnswer.complete.is_(True))
)
# A batch's move (``Unit.move_batch``): the pending answers are taken (deleted, returned) in one
# statement, so two processes can never both move the same one.
# PostgreSQL locks on a name, held to the end of the transaction: a campaign's batch flush
# ("keyq-flush:<campaign>") and its snapshot publishing ("keyq-snapshot:<campaign>").
_LOCK_TRY = text("SELECT pg_try_advisory_xact_lock(hashtext(:c))")
_LOCK_WAIT = text("SELECT pg_advisory_xact_lock(hashtext(:c))")
_TAKE_PENDING = (
    delete(PendingAnswer)
    .where(PendingAnswer.campaign_id == bindparam("campaign"), PendingAnswer.complete.is_(True))
    .returning(PendingAnswer.key_id, PendingAnswer.sealed)
)
_INSERT_ANSWER = insert(Answer)
_READ_TALLY = select(Tally.key_id, Tally.sealed).where(Tally.campaign_id == bindparam("campaign"))
_DELETE_TALLY = delete(Tally).where(Tally.campaign_id == bindparam("campaign"))
_INSERT_TALLY = insert(Tally)
_BUILT: dict[tuple[Any, ...], Any] = {}


_STEP_KEYS = {
    ("insert-new", ProcessedEvent),
    ("insert-new", Conversation),
    ("insert-new", Reached),
    ("claim-and-load", False),
    ("claim-and-load", True),
    ("reach-and-begin",),
}
"""The statements built on first use (``_statement``'s keys) that only move a conversation
along: they join ``_STEPS`` when built."""
_STEP_COMMIT = "SET LOCAL synchronous_commit TO off; COMMIT"
"""PostgreSQL: a commit that does not wait for its log to reach the disk (one round trip)."""
_STEPS: set[int] = {
    id(statement)
    for statement in (
        _LOAD_CONVERSATION,
        _SAVE_CONVERSATION,
        _END_CONVERSATION_AT,
        _HAS_ANSWERED,
        _CAMPAIGN,
        _DEFAULT_CAMPAIGN,
    )
}
"""The statements (by identity: each is built once) that only move a conversation along. A
PostgreSQL turn that ran nothing else commits without waiting for the disk (``Store.unit``);
any other statement, including every one built on the spot, makes its turn durable."""


def _records(result: Any) -> list[Any]:
    """Every row of a result, its columns read as attributes, whichever connection ran it."""
    if isinstance(result, Rows):
        return [Record(record) for record in result.records]
    return list(result)


async def _execute_many(conn: Conn, statement: Any, rows: list[dict[str, Any]]) -> None:
    if isinstance(conn, _Direct):
        await conn.executemany(statement, rows)
    else:
        await conn.execute(statement, rows)


async def read_tally(conn: Conn, keys: KeyRing, campaign_id: str) -> dict[TallyKey, int]:
    """A campaign's tally, opened ({} before its first batch)."""
    rows = _records(await conn.execute(_READ_TALLY, {"campaign": campaign_id}))
    if not rows:
        return {}
    plain = keys.answers.open(rows[0].key_id, rows[0].sealed, _tally_context(campaign_id))
    return {(k[0], k[1], k[2], k[3]): int(n) for *k, n in json.loads(plain)}


async def write_tally(
    conn: Conn, keys: KeyRing, campaign_id: str, tally: dict[TallyKey, int]
) -> None:
    """Replaces a campaign's tally, sealed afresh."""
    plain = json.dumps(sorted([*k, n] for k, n in tally.items())).encode()
    key_id, sealed = keys.answers.seal(plain, _tally_context(campaign_id))
    await conn.execute(_DELETE_TALLY, {"campaign": campaign_id})
    await conn.execute(
        _INSERT_TALLY, {"campaign_id": campaign_id, "key_id": key_id, "sealed": sealed}
    )


def _statement(conn: Conn, key: tuple[Any, ...], build: Callable[..., Any]) -> Any:
    """A dialect-specific statement, built the first time it is needed."""
    full = (conn.dialect.name, *key)
    stmt = _BUILT.get(full)
    if stmt is None:
        stmt = _BUILT[full] = build(conn, *key[1:])
        if key in _STEP_KEYS:
            _STEPS.add(id(stmt))
    return stmt


def _build_insert_new(conn: Conn, table: Any) -> Any:
    key = next(iter(table.__table__.primary_key.columns))
    return _insert(conn, table).on_conflict_do_nothing().returning(key)


def _new_row_cte(name: str, table: Any, *, only_if: Any = None, **columns: Any) -> Any:
    """PostgreSQL: a CTE inserting a row (each column from the parameter named, or the value
    given) unless its key exists, or ``only_if`` is false, returning the key only when it
    inserted one."""
    key = next(iter(table.__table__.primary_key.columns))
    values = {
        column: bindparam(value, type_=table.__table__.c[column].type)
        if isinstance(value, str)
        else value
        for column, value in columns.items()
    }
    insert_ = postgresql.insert(table)
    if only_if is None:
        insert_ = insert_.values(**values)
    else:
        insert_ = insert_.from_select(list(values), select(*values.values()).where(only_if))
    return insert_.on_conflict_do_nothing().returning(key).cte(name)


def _rows_in(cte: Any, label: str) -> Any:
    """PostgreSQL: how many rows a CTE gave (for a data-modifying one: how many it changed),
    as a column named ``label``."""
    return select(func.count()).select_from(cte).scalar_subquery().label(label)


def _build_claim_and_load(conn: Conn, contact: bool) -> Any:
    """PostgreSQL: claim an event and read a conversation in one statement (``claimed`` is 1
    for a new event, 0 for a replay; the conversation's columns are null if it has none), and
    the open default campaign (``_DEFAULT_CAMPAIGN``'s row, its columns named ``d_...``, null if
    there is none); with ``contact``, the contact's upsert too (``touch_contact``'s, from
    ``c_``-named parameters), only for a new event."""
    claim = _new_row_cte("claimed", ProcessedEvent, digest="digest", seen_on="seen_on")
    claimed = _rows_in(claim, "claimed")
    one = select(literal_column("1").label("one")).subquery("one")
    default = _DEFAULT_CAMPAIGN.limit(1).subquery("default_campaign")
    conversation = one.outerjoin(Conversation, Conversation.tag == bindparam("tag")).outerjoin(
        default, true()
    )
    stmt = select(
        claimed,
        Conversation.version,
        Conversation.key_id,
        Conversation.sealed,
        Conversation.expires_at,
        *(column.label(f"d_{column.name}") for column in default.c),
    ).select_from(conversation)
    if not contact:
        return stmt
    columns = Contact.__table__.c
    names: tuple[str, ...] = ("tag", "channel", "key_id", "sealed", "reachable", "opted_out")
    names += ("first_seen", "joiner_asked")  # what ``Unit._contact_values`` gives
    rows = select(*(bindparam(f"c_{n}", type_=columns[n].type) for n in names)).where(
        exists(select(claim.c.digest))
    )
    upsert = postgresql.insert(Contact).from_select(list(names), rows)
    refresh = {c: upsert.excluded[c] for c in ("key_id", "sealed", "reachable")}
    touched = upsert.on_conflict_do_update(index_elements=["tag"], set_=refresh)
    return stmt.add_cte(touched.returning(Contact.tag).cte("touched"))


def _build_reach_and_begin(conn: Conn) -> Any:
    """PostgreSQL: unless the ledger tag has answered, note the reach and insert a new
    conversation, in one statement (``answered`` 1: nothing inserted; ``begun`` 0 otherwise:
    the conversation existed, a conflict)."""
    answered = (
        select(Participation.tag)
        .where(
            Participation.campaign_id == bindparam("campaign_id"),
            Participation.tag == bindparam("ledger"),
        )
        .cte("answered")
    )
    fresh = ~exists(select(answered.c.tag))
    reached = _new_row_cte(
        "reached", Reached, only_if=fresh, campaign_id="campaign_id", tag="ledger"
    )
    begun = _new_row_cte(
        "begun",
        Conversation,
        only_if=fresh,
        tag="tag",
        version=literal(1, type_=Conversation.__table__.c.version.type),
        key_id="key_id",
        sealed="sealed",
        expires_at="expires_at",
    )
    return select(_rows_in(answered, "answered"), _rows_in(begun, "begun")).add_cte(reached)


def _build_join_and_queue(conn: Conn, ending: bool) -> Any:
    """PostgreSQL: the ledger row, and the pending answer only if the ledger row is new, in
    one statement (``queued`` null: this tag had answered already); if ``ending``, the
    conversation's deletion too (``ended`` 0: someone moved it on meanwhile)."""
    joined = _new_row_cte("joined", Participation, campaign_id="campaign_id", tag="tag")
    columns = ("id", "campaign_id", "key_id", "sealed", "complete")
    values = [bindparam(c, type_=PendingAnswer.__table__.c[c].type) for c in columns]
    queued = (
        postgresql.insert(PendingAnswer)
        .from_select(list(columns), select(*values).select_from(joined))
        .returning(PendingAnswer.id)
        .cte("queued")
    )
    outcome = [select(queued.c.id).scalar_subquery().label("queued")]
    if ending:
        ended = (
            delete(Conversation)
            .where(
                Conversation.tag == bindparam("ending_tag"),
                Conversation.version == bindparam("ending_version"),
            )
            .returning(Conversation.tag)
            .cte("ended")
        )
        outcome.append(_rows_in(ended, "ended"))
    return select(*outcome)


def _build_touch_contact(conn: Conn, keep_reachable: bool) -> Any:
    stmt = _insert(conn, Contact)
    refresh = {"key_id": stmt.excluded.key_id, "sealed": stmt.excluded.sealed}
    if not keep_reachable:
        refresh["reachable"] = stmt.excluded.reachable
    return stmt.on_conflict_do_update(index_elements=["tag"], set_=refresh)


def _campaign(row: Any, prefix: str = "") -> CampaignInfo:
    """A campaign's row (its columns named with ``prefix`` where read beside others)."""
    return CampaignInfo(
        id=getattr(row, prefix + "id"),
        title=getattr(row, prefix + "title"),
        is_default=getattr(row, prefix + "is_default"),
        is_open=getattr(row, prefix + "is_open"),
        opened_month=getattr(row, prefix + "opened_month"),
        closed_month=getattr(row, prefix + "closed_month"),
        applicants=bool(getattr(row, prefix + "applicants")),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC; this makes one comparable with the clock's."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
