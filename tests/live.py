"""A real keyq HTTP server on 127.0.0.1 for browser tests, and Chromium to drive it."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from bot.app import App, build
from bot.settings import Settings
from bot.web import create_app
from tests.serve import free_port

T = TypeVar("T")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KEYQ_SCREENSHOTS", Path(__file__).parent / "artifacts"))
PHONE = {"width": 360, "height": 740}

if not Path(CHROMIUM).exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Chromium (.ci/run: apt-get install chromium)")
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium here: apt-get install chromium (CI does)"
)


def with_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    """Runs ``work`` on a keyq of its own over the same database, in a thread of its own
    (Playwright's sync API holds the test thread's event loop)."""

    async def run() -> T:
        keyq = await build(settings)
        try:
            return await work(keyq)
        finally:
            await keyq.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@contextmanager
def serving(settings: Settings) -> Iterator[None]:
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=int(settings.public_url.rsplit(":", 1)[1]),
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def check(page: Page, name: str, *, width: int | None = PHONE["width"]) -> None:
    """No axe violations (WCAG 2.2 AA), nothing wider than the screen, a screenshot to see."""
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]})
    assert results.violations_count == 0, results.generate_report()
    if width is not None:
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        assert scrolled <= width, f"{name} scrolls sideways ({scrolled}px)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def settings_for(folder: Path, **extra: Any) -> Settings:
    port = free_port()
    return Settings(
        database_url=f"sqlite:///{folder / 'keyq.db'}",
        keys_file=folder / "keyq.keys",
        config=folder / "keyq.toml",
        public_url=f"http://127.0.0.1:{port}",
        **extra,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for one test module."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
