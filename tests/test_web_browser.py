"""The web channel in a real browser: Debian's Chromium, headless, at phone size, against a
running keyq HTTP server; axe-core checks every page (WCAG 2.2 AA). Screenshots are saved to
tests/artifacts/ (or $KEYQ_SCREENSHOTS) to be looked at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from bot.app import App
from storage.codes import Codes, display
from tests.live import PHONE, check, needs_chromium, serving, settings_for, with_app

ORG = """
[organisation]
name = "Northwind Logistics"

[followups.level]
question = "Which level is your job?"
options = ["Frontline", "Team leader", "Manager", "Senior leader"]
"""

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """keyq's HTTP app under uvicorn on 127.0.0.1, with 20 codes issued for the default round."""
    folder = tmp_path_factory.mktemp("web")
    (folder / "keyq.toml").write_text(ORG, encoding="utf-8")
    settings = settings_for(folder)

    async def issue(keyq: App) -> list[str]:
        return (await Codes(keyq.store).issue("workforce", 20))[1]

    codes = with_app(settings, issue)
    with serving(settings):
        yield {"url": settings.public_url, "codes": codes, "settings": settings}


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def answered(server: dict[str, Any]) -> tuple[int, int]:
    async def read(keyq: App) -> tuple[int, int]:
        return await keyq.store.counts("workforce")

    return with_app(server["settings"], read)


def test_a_card_from_scan_to_thanks(server: dict[str, Any], phone: Page) -> None:
    code = server["codes"][0]
    phone.goto(f"{server['url']}/a/{code}")  # what scanning the card's QR code does
    assert phone.get_by_role("button", name="I prefer not to say").is_visible()
    check(phone, "web-1-intro")
    phone.get_by_role("button", name="Answer now").click()
    phone.wait_for_url("**/a/survey")
    assert phone.get_by_text("main household earner").is_visible()
    refuse = phone.get_by_role("button", name="I prefer not to say").bounding_box()
    assert refuse and refuse["y"] + refuse["height"] <= PHONE["height"]  # no scrolling to it
    check(phone, "web-2-question")
    phone.get_by_role("button", name="Which one fits me?").click()
    check(phone, "web-3-examples")
    phone.get_by_role("button", name="Technical or craft").click()
    assert phone.get_by_text("Which level is your job?").is_visible()
    assert "Technical" not in phone.locator("main").inner_text()  # no echo of the choice
    check(phone, "web-4-follow-up")
    phone.reload()  # a reload never submits again
    phone.get_by_role("button", name="Team leader").click()
    assert phone.get_by_text("Thank you").first.is_visible()
    check(phone, "web-5-thanks")
    phone.go_back()  # the back button, and a tap on the old page
    if phone.get_by_role("button", name="Team leader").count():
        phone.get_by_role("button", name="Team leader").click()
    phone.reload()
    assert answered(server) == (1, 1)
    phone.goto(f"{server['url']}/a/{code}")
    assert phone.get_by_text("This card has been used").is_visible()
    check(phone, "web-6-spent")


def test_the_poster_a_wrong_code_and_a_typed_one(server: dict[str, Any], phone: Page) -> None:
    phone.goto(f"{server['url']}/a")
    check(phone, "web-7-poster")
    phone.get_by_label("Your code").fill("AAAA-BBBB-CCCC")
    phone.get_by_role("button", name="Continue").click()
    assert phone.get_by_role("alert").first.is_visible()
    check(phone, "web-8-wrong-code")
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
