"""Counting the SQL a store's turns send, as the database driver sends it.

On SQLite a turn's statements go through a synchronous SQLAlchemy engine (its events see them);
on PostgreSQL they go to asyncpg directly, whose query loggers see every query, BEGIN and
COMMIT included.
"""

from __future__ import annotations

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

    def clear(self) -> None:
        self.statements.clear()
        self.transactions = 0

    def saw(self, sql: str) -> None:
        words = sql.strip().rstrip(";").upper().split()
        if words and words[0] == "BEGIN":
            self.transactions += 1
        elif words and words[0] not in TRANSACTION:
            self.statements.append(sql)


@contextmanager
def sql_sent(store: Store) -> Iterator[Sent]:
    """Records what the store's turns send to the database while the block runs."""
    sent = Sent()
    if store.engine.dialect.name == "sqlite":
        engine = store.turn_engine

        def before(*args: Any) -> None:
            sent.saw(args[2])

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield sent
        finally:
            event.remove(engine, "before_cursor_execute", before)
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
