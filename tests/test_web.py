"""``keyq serve``: the HTTP app and its health check."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.client import HTTPConnection
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


def test_keyq_serve_keeps_an_idle_connection_open_longer_than_uvicorns_default(
    tmp_path: Path,
) -> None:
    """A proxy in front (nginx, a cloud load balancer) reuses an idle connection for up to a
    minute. Closed after uvicorn's default 5 s, one closing just as the proxy sends a webhook
    down it loses that request (seen in bench/hot_path.py as an httpx ReadError, 2 runs in 3)."""
    with serving(tmp_path) as server:
        http = HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            http.request("GET", "/healthz")
            first = http.getresponse()
            assert first.status == 200 and first.read()
            connection = http.sock
            time.sleep(6)
            http.request("GET", "/healthz")  # closed by keyq meanwhile: RemoteDisconnected
            second = http.getresponse()
            assert second.status == 200 and second.read()
            assert http.sock is connection  # the same connection, still open
        finally:
            http.close()


def test_keyq_serve_runs_and_answers_health(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
        assert response.status_code == 200
        assert (tmp_path / "keyq.db").exists()  # serve upgraded the default database itself
