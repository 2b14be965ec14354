"""Database URLs, engines and migrations (SQLite by default, PostgreSQL for production)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alembic import command

MIGRATIONS = Path(__file__).resolve().parent.parent / "alembic"
"""The Alembic scripts shipped at the top of the repository."""


class DatabaseError(Exception):
    """The database URL or schema cannot be used."""


def urls(url: str) -> tuple[URL, URL]:
    """The (async, sync) SQLAlchemy URLs for a setting such as ``sqlite:///keyq.db``."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseError("KEYQ_DATABASE_URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite"), parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        pg = parsed.set(drivername="postgresql+psycopg")
        return pg, pg
    raise DatabaseError(f"unsupported database {backend!r}: use sqlite or postgresql")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An async engine that never puts parameters (tags, ciphertext) into error messages."""
    async_url, _ = urls(url)
    kwargs: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
    engine = create_async_engine(async_url, **kwargs)
    if is_sqlite(async_url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted pending answers are overwritten
    cursor.execute("PRAGMA busy_timeout=10000")
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
    if is_sqlite(sync_url) and sync_url.database not in (None, "", ":memory:"):
        Path(sync_url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    """``upgrade`` from async code (Alembic itself is synchronous)."""
    await asyncio.to_thread(upgrade, url)
