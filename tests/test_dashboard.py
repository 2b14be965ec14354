"""The admin dashboard in a real browser (Debian's Chromium) against a running keyq: sign-in by a
link got in chat, every page checked by axe-core, an action on each, refusals; screenshots."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from bot.app import App
from bot.reporting import render
from bot.settings import Settings
from guidance.content import guidance
from storage.plan import Plan
from tests.driver import Person
from tests.live import PHONE, check, needs_chromium, serving, settings_for, with_app

pytestmark = needs_chromium
ORG = """
[organisation]
name = "Northwind Logistics"
sector = "legal"
headcount = 200

[followups.level]
question = "Which level is your job?"
options = ["Frontline", "Team leader", "Manager", "Senior leader"]

[headcount.level]
Frontline = 110
"Team leader" = 50
Manager = 30
"Senior leader" = 10
"""
ADMIN, MANAGER = "console:hr", "console:lead"


async def seed(keyq: App) -> None:
    """Three published reports as answers arrive, and an adopted action."""
    levels = ["Frontline", "Team leader", "Manager", "Senior leader"]
    options = ["routine", "prof", "clerical", "craft", "mgr"]
    n = 0
    for size in (60, 30, 30):
        for _ in range(size):
            async with keyq.store.unit() as unit:
                await unit.record_answer(
                    "workforce",
                    n.to_bytes(32, "big"),
                    {"kq": options[n % 5], "level": levels[(n // 3) % 4]},
                )
            n += 1
        await keyq.store.flush("workforce", batch=10)
        await keyq.report(publish=True)
    tip = guidance().tips[0]
    await Plan(keyq.store).adopt(tip.id, dt.date(2026, 11, 1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("dashboard")
    (folder / "keyq.toml").write_text(ORG, encoding="utf-8")
    settings = settings_for(folder, admins=(ADMIN,), managers=(MANAGER,))
    with_app(settings, seed)
    with serving(settings):
        yield {"url": settings.public_url, "settings": settings, "folder": folder}


def link_from_chat(server: dict[str, Any], ref: str) -> str:
    """What an admin gets on typing "dashboard" to keyq."""

    async def ask(keyq: App) -> str:
        person = Person(keyq.engine, ref.split(":", 1)[1])
        await person.say("dashboard")
        return person.text()

    reply = with_app(server["settings"], ask)
    found = re.search(r"(http://127\.0\.0\.1:\d+/dashboard/login/\S+)", reply)
    assert found, reply
    return found[1]


def sign_in(page: Page, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Sign in to the dashboard").click()


def test_an_admin_signs_in_by_link_and_uses_every_page(
    server: dict[str, Any], browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, link_from_chat(server, ADMIN))
    page.wait_for_url("**/dashboard")
    # The figures are the protected report's, exactly as keyq report --format json gives them.
    report = json.loads(render.json_text(with_app(server["settings"], lambda k: k.report())))
    for group in report["overall"]["groups"]:
        if group["count"] is not None:
            assert page.locator("table").first.get_by_text(str(group["count"])).count()
    assert page.locator("svg[role=img]").count() == 1
    check(page, "dashboard-1-report", width=None)
    page.get_by_role("button", name="Publish new figures now").click()
    assert page.get_by_role("status").first.is_visible()
    page.get_by_role("link", name="Trends").click()
    assert page.locator("svg[role=img]").count() >= 2  # over three published reports
    check(page, "dashboard-2-trends", width=None)
    page.get_by_role("link", name="Reminders").click()
    page.get_by_label("When, in plain words").fill("every first Monday of the quarter at 10am")
    page.get_by_role("button", name="Add").first.click()
    assert page.get_by_text("Reminder 1 added: first monday of each quarter at 10:00").is_visible()
    page.get_by_role("button", name="Pause #1").click()
    assert page.get_by_text("(paused)").is_visible()
    check(page, "dashboard-3-reminders", width=None)
    listed = with_app(server["settings"], lambda k: k.reminders.schedules())
    assert listed[0].paused  # round-trips to what the CLI sees
    page.get_by_role("link", name="Action plan").click()
    page.get_by_role("button", name="Mark #1 done").click()
    assert page.get_by_text("Action 1 is done.").is_visible()
    check(page, "dashboard-4-plan", width=None)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Id (lower-case letters, digits and dashes)").fill("applicants-2027")
    page.get_by_label("Title").fill("Applicants 2027")
    page.get_by_label("For job applicants").check()
    page.get_by_role("button", name="Start").click()
    assert page.get_by_text("Campaign applicants-2027 is open.").is_visible()
    started = with_app(server["settings"], lambda k: k.store.campaigns())
    assert any(c.id == "applicants-2027" and c.applicants for c in started)
    check(page, "dashboard-5-campaigns", width=None)
    page.get_by_role("link", name="Answer cards").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Make the cards (PDF)").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    page.reload()
    check(page, "dashboard-6-cards", width=None)
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{server['url']}/dashboard")
    assert page.get_by_text("Sign in with a link from keyq").is_visible()  # ended server side
    context.close()


def test_the_report_page_reads_on_a_phone_and_prints(
    server: dict[str, Any], browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    sign_in(page, link_from_chat(server, ADMIN))
    page.wait_for_url("**/dashboard")
    check(page, "dashboard-7-phone")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    context.close()


def test_links_work_once_for_ten_minutes_and_only_for_admins(
    server: dict[str, Any], browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    link = link_from_chat(server, ADMIN)
    sign_in(page, link)
    page.wait_for_url("**/dashboard")
    other = browser.new_context().new_page()
    sign_in(other, link)  # the same link again
    assert other.get_by_text("That link has expired").is_visible()
    staff = with_app(server["settings"], lambda k: _chat(k, "someone"))
    assert "only for the core HR team" in staff
    manager = browser.new_context().new_page()
    sign_in(manager, link_from_chat(server, MANAGER))
    manager.wait_for_url("**/dashboard/plan")
    assert manager.get_by_role("button", name=re.compile("Mark")).count() == 0  # read-only
    manager.goto(f"{server['url']}/dashboard/reminders")
    assert manager.get_by_text("Sign in with a link").is_visible()
    expired = _link_at(server, ADMIN, dt.timedelta(minutes=-11))
    late = browser.new_context().new_page()
    sign_in(late, expired)
    assert late.get_by_text("That link has expired").is_visible()
    context.close()


async def _chat(keyq: App, who: str) -> str:
    person = Person(keyq.engine, who)
    await person.say("dashboard")
    return person.text()


def _link_at(server: dict[str, Any], ref: str, shift: dt.timedelta) -> str:
    """A link made as if ``shift`` ago (a negative shift: already past its 10 minutes)."""
    from storage.dashboard import Access

    async def make(keyq: App) -> str:
        real = keyq.store.clock
        keyq.store.clock = lambda: real() + shift  # type: ignore[method-assign]
        token = await Access(keyq.store).link(ref, "admin")
        return f"{keyq.settings.public_url}/dashboard/login/{token}"

    return with_app(server["settings"], make)


def test_a_removed_admin_loses_access_and_forms_need_their_token(
    server: dict[str, Any], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from bot.web import create_app

    link = _link_at(server, ADMIN, dt.timedelta(0))
    token = link.rsplit("/", 1)[1]
    with TestClient(create_app(server["settings"]), base_url=server["url"]) as client:
        signed = client.post("/dashboard/login", data={"token": token}, follow_redirects=False)
        assert signed.status_code == 303
        cookie = signed.cookies.get("keyq_dashboard")
        assert cookie and client.get("/dashboard").status_code == 200
        forged = client.post("/dashboard/publish", data={"csrf": "guess"})
        assert forged.status_code == 400  # no valid CSRF token, nothing published
    removed = server["settings"].model_copy(update={"admins": ("console:someone-else",)})
    with TestClient(create_app(removed), base_url=server["url"]) as client:
        client.cookies.set("keyq_dashboard", cookie, path="/dashboard")
        refused = client.get("/dashboard")
        assert refused.status_code == 403 and "Sign in with a link" in refused.text


def test_the_report_page_says_when_newer_figures_are_on_their_way(tmp_path: Path) -> None:
    """A due snapshot is published in the background: the page shows the latest at once and
    says a newer one is coming; once published, it is the one shown."""
    (tmp_path / "keyq.toml").write_text(ORG, encoding="utf-8")
    settings = settings_for(tmp_path, admins=(ADMIN,), snapshot_interval_hours=0)
    with_app(settings, seed)  # three reports published

    async def more(keyq: App) -> None:
        for n in range(500, 520):
            async with keyq.store.unit() as unit:
                await unit.record_answer(
                    "workforce", n.to_bytes(32, "big"), {"kq": "routine", "level": "Frontline"}
                )
        await keyq.store.flush("workforce", batch=10)

    with_app(settings, more)
    page = _report_page(settings)
    assert "report 3," in page
    assert "Newer figures are being checked for publishing" in page
    # Shutting down waited for it: the fourth report is published, and shown without the line.
    page = _report_page(settings)
    assert "report 4," in page
    assert "Newer figures" not in page


def _report_page(settings: Settings) -> str:
    """The report page as an admin who has just signed in sees it, from a keyq of its own,
    started for the visit and stopped after it."""
    from fastapi.testclient import TestClient

    from bot.web import create_app

    token = _link_at({"settings": settings}, ADMIN, dt.timedelta(0)).rsplit("/", 1)[1]
    with TestClient(create_app(settings), base_url=settings.public_url) as client:
        client.post("/dashboard/login", data={"token": token})
        return client.get("/dashboard").text
