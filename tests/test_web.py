"""``keyq serve``: the HTTP app and its health check."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.web import create_app
from tests.test_cli import COMMAND


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_keyq_serve_runs_and_answers_health(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "keyq serve did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert (tmp_path / "keyq.db").exists()  # serve upgraded the default database itself
    finally:
        server.terminate()
        server.wait(timeout=10)
