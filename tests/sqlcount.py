"""Counting the SQL a store's turns send, as the database driver sends it.

A turn's statements go to the driver directly: sqlite3, whose trace callback sees every
statement SQLite runs, or asyncpg, whose query loggers see every query; BEGIN and COMMIT
included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.store import Store

TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK")


class Sent:
    """The statements sent since the last ``clear``, and how many transactions began."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        # "plain" COMMIT, or "step": PostgreSQL's commit that does not wait for the disk
        self.commits: list[str] = []

    async def caught_up(self) -> None:
        """Lets what was sent so far reach the counts: asyncpg hands each query to its loggers
        with ``call_soon``, so a turn that returns without yielding again (its connection goes
        back to the pool without waiting) has not been counted yet. SQLite's trace is at once."""
        await asyncio.sleep(0)

    def clear(self) -> None:
        self.statements.clear()
        self.transactions = 0
        self.commits.clear()

    def saw(self, sql: str) -> None:
        text = sql.strip().rstrip(";").upper()
        words = text.split()
        if text.endswith("COMMIT"):  # "COMMIT", or "SET LOCAL synchronous_commit TO off; COMMIT"
            self.commits.append("plain" if text == "COMMIT" else "step")
            assert text in ("COMMIT", "SET LOCAL SYNCHRONOUS_COMMIT TO OFF; COMMIT"), sql
        elif words and words[0] == "BEGIN":
            self.transactions += 1
        elif words and words[0] not in TRANSACTION:
            self.statements.append(sql)


@contextmanager
def sql_sent(store: Store) -> Iterator[Sent]:
    """Records what the store's turns send to the database while the block runs."""
    sent = Sent()
    if store.engine.dialect.name == "sqlite":
        traced: list[Any] = []

        def trace(dbapi_connection: Any, *_: Any) -> None:
            if dbapi_connection not in traced:
                dbapi_connection.set_trace_callback(sent.saw)
                traced.append(dbapi_connection)

        engine = store.turn_engine
        event.listen(engine, "checkout", trace)
        try:
            yield sent
        finally:
            event.remove(engine, "checkout", trace)
            for dbapi_connection in traced:
                dbapi_connection.set_trace_callback(None)
        return

    logged: list[Any] = []

    def log(query: Any) -> None:
        sent.saw(query.query)

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver not in logged:
            driver.add_query_logger(log)
            logged.append(driver)

    pool = store.engine.sync_engine
    event.listen(pool, "checkout", checkout)
    try:
        yield sent
    finally:
        event.remove(pool, "checkout", checkout)
        for driver in logged:
            driver.remove_query_logger(log)
