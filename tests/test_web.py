"""``keyq serve``: the HTTP app and its health check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.web import create_app
from tests.serve import serving


def test_healthz_checks_the_database(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(make_settings())) as client:
        ok = client.get("/healthz")
        assert ok.status_code == 200 and ok.json() == {"status": "ok", "database": "up"}
        store = client.app.state.keyq.store  # type: ignore[attr-defined]

        async def down() -> None:
            raise OSError("connection refused")

        monkeypatch.setattr(store, "ping", down)
        bad = client.get("/healthz")
        assert bad.status_code == 503 and bad.json()["database"] == "down"


def test_keyq_serve_runs_and_answers_health(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
        assert response.status_code == 200
        assert (tmp_path / "keyq.db").exists()  # serve upgraded the default database itself
