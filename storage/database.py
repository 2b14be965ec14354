"""Database URLs, engines and migrations (SQLite by default, PostgreSQL for production)."""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from alembic.config import Config
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alembic import command

MIGRATIONS = Path(__file__).resolve().parent.parent / "alembic"
"""The Alembic scripts shipped at the top of the repository."""


class DatabaseError(Exception):
    """The database URL or schema cannot be used."""


def urls(url: str) -> tuple[URL, URL]:
    """The (async, sync) SQLAlchemy URLs for a setting such as ``sqlite:///keyq.db``.

    On PostgreSQL the server runs on asyncpg (about 15% less CPU a turn than psycopg's
    async mode, measured by bench/engine_turn.py) and Alembic and the command line on psycopg.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseError("KEYQ_DATABASE_URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite"), parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg"), parsed.set(
            drivername="postgresql+psycopg"
        )
    raise DatabaseError(f"unsupported database {backend!r}: use sqlite or postgresql")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


SQLITE_BUSY_MS = 10_000
"""How long a SQLite connection outside a turn waits for another's lock (turns never wait
inside SQLite: the store retries them on the loop for up to POOL_TIMEOUT)."""

POOL_TIMEOUT = 2.0
"""Seconds a turn waits for a database connection before it gives up, uncommitted."""


def create_engine(url: str) -> AsyncEngine:
    """An async engine that never puts parameters (tags, ciphertext) into error messages."""
    async_url, _ = urls(url)
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if not is_sqlite(async_url):
        # A turn that cannot get a connection quickly fails before it commits (and the person
        # is told to try again), well inside Slack's 3 s; connections are recycled rather than
        # pinged on every checkout. All fifteen stay open: an overflow connection is closed
        # when it comes back, so a busy server opened and closed one turn after turn.
        kwargs.update(
            pool_size=15,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT,
            pool_recycle=300,
            pool_pre_ping=False,
        )
        # asyncpg reads the URL itself, as libpq would: sslmode, and options such as
        # "-csearch_path=..." (sent to the server), which SQLAlchemy would pass on as keyword
        # arguments asyncpg does not take.
        dsn = async_url.set(drivername="postgresql").render_as_string(hide_password=False)
        kwargs["async_creator"] = partial(asyncpg.connect, dsn)
    engine = create_async_engine(async_url, **kwargs)
    if is_sqlite(async_url):
        _private_file(engine.url.database)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_turn_engine(engine: AsyncEngine) -> Engine | None:
    """SQLite: a synchronous engine on the same file, for a turn's few statements run on the
    event loop itself (None for PostgreSQL, or a database SQLite keeps in memory).

    A turn's statements take SQLite tens of microseconds each, while aiosqlite's hop to its
    thread and back costs more than that for every statement, the BEGIN and the COMMIT
    (bench/engine_turn.py). Its connections never wait for a lock (busy_timeout 0): the store
    waits by sleeping on the loop instead, so another process writing never stalls the server.
    """
    if not is_sqlite(engine.url) or not _plain_file(engine.url.database):
        return None
    turns = create_sync_engine(engine.url.set(drivername="sqlite"), hide_parameters=True)
    event.listen(turns, "connect", _sqlite_turn_pragmas)
    return turns


def _plain_file(database: str | None) -> bool:
    """Whether a SQLite database is a file named by its path (not in memory, not a URI)."""
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def _private_file(database: str | None) -> None:
    """Creates a new SQLite file readable by its owner only (0600), before SQLite does."""
    if not database or not _plain_file(database):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted pending answers are overwritten
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    # A commit appends to the write-ahead log and syncs it once (the default journal creates,
    # syncs and deletes a file, and syncs the database, on every commit: about a third of a
    # Telegram delivery's time), and a long read elsewhere no longer holds up every commit.
    # Housekeeping empties the log every few minutes (Store.vacuum; privacy.md: nothing of a
    # moved pending answer lingers).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_turn_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    # The store says BEGIN IMMEDIATE and COMMIT itself, and never waits inside SQLite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    # A commit writes the log without syncing it; after a turn that must last (anything but a
    # conversation's steps) the store syncs the log itself before the turn returns
    # (Store.unit, storage.store.sync_log), so a sync never stalls the event loop.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at keyq's migrations and this database."""
    if not MIGRATIONS.is_dir():
        raise DatabaseError(
            f"migrations not found at {MIGRATIONS}; install keyq from its source tree"
        )
    _, sync_url = urls(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = sync_url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the schema up to ``revision`` (safe to run from several processes on PostgreSQL)."""
    _, sync_url = urls(url)
    if is_sqlite(sync_url):
        _private_file(sync_url.database)
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    """``upgrade`` from async code (Alembic itself is synchronous)."""
    await asyncio.to_thread(upgrade, url)
