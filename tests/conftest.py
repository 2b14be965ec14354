"""Shared fixtures: a keyq built on SQLite and (when KEYQ_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build
from bot.settings import Settings
from tests.pgschema import private_schema

POSTGRES_URL = os.environ.get("KEYQ_TEST_POSTGRES_URL")
SHARED = Path(__file__).resolve().parent / "data"
"""Copies of the public payloads and seed documents from shared/ (see data/fixtures/SOURCE.md)."""


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _backends() -> list[Any]:
    postgres = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="KEYQ_TEST_POSTGRES_URL not set"),
    )
    return ["sqlite", postgres]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema in the PostgreSQL test db."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyq.db'}"
        return
    assert POSTGRES_URL
    with private_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "keys_file": tmp_path / "keyq.keys",
            "config": tmp_path / "keyq.toml",
            "admins": ("console:hr-admin",),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def app(make_settings: Callable[..., Settings], clock: FakeClock) -> AsyncIterator[App]:
    keyq = await build(make_settings(), clock=clock)
    yield keyq
    await keyq.close()


FOLLOWUPS_TOML = """
[organisation]
name = "Northwind Logistics"

[followups.level]
question = "Which level is your job?"
options = ["Frontline", "Team leader", "Manager", "Senior leader"]

[followups.location]
question = "Where do you mostly work?"
options = [{locations}]
"""


def write_followups(path: Path, locations: int = 3) -> None:
    names = ", ".join(f'"Site {i}"' for i in range(locations))
    path.write_text(FOLLOWUPS_TOML.format(locations=names), encoding="utf-8")


from tests.live import browser  # noqa: E402, F401  (a fixture: Debian's Chromium per module)
