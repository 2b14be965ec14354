"""A private, empty PostgreSQL schema for one test or one benchmark run, dropped after."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def private_schema(url: str, prefix: str = "keyq_test") -> Iterator[str]:
    """``url`` pointed at a new schema (by search_path), which is dropped afterwards."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
