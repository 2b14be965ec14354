"""The web channel in a real browser: Debian's Chromium, headless, at phone size, against a
running keyq HTTP server; axe-core checks every page (WCAG 2.2 AA). Screenshots are saved to
tests/artifacts/ (or $KEYQ_SCREENSHOTS) to be looked at."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from bot.app import build
from bot.settings import Settings
from bot.web import create_app
from storage.codes import Codes, display

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("KEYQ_SCREENSHOTS", Path(__file__).parent / "artifacts"))
PHONE = {"width": 360, "height": 740}
ORG = """
[organisation]
name = "Northwind Logistics"

[followups.level]
question = "Which level is your job?"
options = ["Frontline", "Team leader", "Manager", "Senior leader"]
"""

if not Path(CHROMIUM).exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Chromium (.ci/run: apt-get install chromium)")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="no Chromium here: apt-get install chromium (CI does)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """keyq's HTTP app under uvicorn on 127.0.0.1, with 20 codes issued for the default round."""
    folder = tmp_path_factory.mktemp("web")
    (folder / "keyq.toml").write_text(ORG, encoding="utf-8")
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{folder / 'keyq.db'}",
        keys_file=folder / "keyq.keys",
        config=folder / "keyq.toml",
        public_url=f"http://127.0.0.1:{port}",
    )

    async def issue() -> list[str]:
        keyq = await build(settings)
        try:
            return (await Codes(keyq.store).issue("workforce", 20))[1]
        finally:
            await keyq.close()

    codes = asyncio.run(issue())
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "codes": codes, "settings": settings}
    running.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def check(page: Page, name: str) -> None:
    """No axe violations, nothing wider than the phone, and a screenshot to look at."""
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]})
    assert results.violations_count == 0, results.generate_report()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways ({width}px)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"web-{name}.png"), full_page=True)


def answered(server: dict[str, Any]) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        keyq = await build(server["settings"], migrate=False)
        try:
            return await keyq.store.counts("workforce")
        finally:
            await keyq.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        return pool.submit(asyncio.run, read()).result()


def test_a_card_from_scan_to_thanks(server: dict[str, Any], phone: Page) -> None:
    code = server["codes"][0]
    phone.goto(f"{server['url']}/a/{code}")  # what scanning the card's QR code does
    assert phone.get_by_role("button", name="I prefer not to say").is_visible()
    check(phone, "1-intro")
    phone.get_by_role("button", name="Answer now").click()
    phone.wait_for_url("**/a/survey")
    assert phone.get_by_text("main household earner").is_visible()
    refuse = phone.get_by_role("button", name="I prefer not to say").bounding_box()
    assert refuse and refuse["y"] + refuse["height"] <= PHONE["height"]  # no scrolling to it
    check(phone, "2-question")
    phone.get_by_role("button", name="Which one fits me?").click()
    check(phone, "3-examples")
    phone.get_by_role("button", name="Technical or craft").click()
    assert phone.get_by_text("Which level is your job?").is_visible()
    assert "Technical" not in phone.locator("main").inner_text()  # no echo of the choice
    check(phone, "4-follow-up")
    phone.reload()  # a reload never submits again
    phone.get_by_role("button", name="Team leader").click()
    assert phone.get_by_text("Thank you").first.is_visible()
    check(phone, "5-thanks")
    phone.go_back()  # the back button, and a tap on the old page
    if phone.get_by_role("button", name="Team leader").count():
        phone.get_by_role("button", name="Team leader").click()
    phone.reload()
    assert answered(server) == (1, 1)
    phone.goto(f"{server['url']}/a/{code}")
    assert phone.get_by_text("This card has been used").is_visible()
    check(phone, "6-spent")


def test_the_poster_a_wrong_code_and_a_typed_one(server: dict[str, Any], phone: Page) -> None:
    phone.goto(f"{server['url']}/a")
    check(phone, "7-poster")
    phone.get_by_label("Your code").fill("AAAA-BBBB-CCCC")
    phone.get_by_role("button", name="Continue").click()
    assert phone.get_by_role("alert").first.is_visible()
    check(phone, "8-wrong-code")
    phone.get_by_label("Your code").fill(display(server["codes"][1]).lower())
    phone.get_by_role("button", name="Continue").click()
    phone.get_by_role("button", name="I prefer not to say").click()
    assert phone.get_by_text("Thank you").first.is_visible()


def test_pages_work_with_javascript_off(server: dict[str, Any], browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server['url']}/a/{server['codes'][2]}")
    page.get_by_role("button", name="Answer now").click()
    page.get_by_role("button", name="Other").click()
    page.get_by_role("button", name="I prefer not to say").click()
    assert page.get_by_text("Thank you").first.is_visible()
    context.close()
