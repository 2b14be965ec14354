"""The admin dashboard: server-rendered pages over what the engine, the report and the CLI
already do. Every figure comes from published snapshots through bot/disclosure.py.

Sign-in is a one-time link (from chat, or ``keyq dashboard-link``) whose page asks for one
click, so a link preview in Slack cannot spend it; the session lives server side under a new
random id, in a sealed HttpOnly SameSite=Strict cookie. Every request checks that the person
is still listed in KEYQ_ADMINS (or KEYQ_MANAGERS, read-only plan). Every form carries a CSRF
token; every admin action is logged as "admin <keyed tag> did X".
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.app import App, find_campaign
from bot.disclosure import FOOTNOTE
from bot.reminders.rules import RuleError
from bot.reporting import render, snapshots, svg
from bot.reporting.render import TITLES
from bot.reporting.report import Report, Row, assemble
from channels.pages import CSP, SealedCookies, stylesheet, templates
from guidance.content import guidance
from storage.codes import Codes
from storage.dashboard import Access, Signed
from storage.plan import Plan

logger = logging.getLogger(__name__)

COOKIE = "keyq_dashboard"
NOTE = "keyq_note"
NAV = (
    ("/dashboard", "Report"),
    ("/dashboard/trends", "Trends"),
    ("/dashboard/campaigns", "Campaigns"),
    ("/dashboard/reminders", "Reminders"),
    ("/dashboard/plan", "Action plan"),
    ("/dashboard/codes", "Answer cards"),
)


@dataclass
class Visitor:
    session_id: str
    signed: Signed
    csrf: str

    @property
    def admin(self) -> bool:
        return self.signed.role == "admin"


class Dashboard:
    def __init__(self, keyq: App) -> None:
        self.keyq = keyq
        self.access = Access(keyq.store)
        self.plan = Plan(keyq.store)
        self.codes = Codes(keyq.store)
        self.cookies = SealedCookies(
            keyq.store.keys.tag("dashboard-cookie-key"),
            b"keyq-dash",
            path="/dashboard",
            public_url=keyq.settings.public_url,
        )
        self._env = templates("channels.dashboard")

    def still_allowed(self, signed: Signed) -> bool:
        settings = self.keyq.settings
        refs = settings.admins if signed.role == "admin" else settings.managers
        return any(hmac.compare_digest(self.access.who(r), signed.who) for r in refs)

    # Cookie -----------------------------------------------------------------------------------

    async def visitor(self, request: Request) -> Visitor | None:
        cookie = self.cookies.open(request.cookies.get(COOKIE))
        if cookie is None:
            return None
        signed = await self.access.session(cookie["id"])
        if signed is None or not self.still_allowed(signed):
            return None
        return Visitor(cookie["id"], signed, cookie["csrf"])

    def set_cookie(self, request: Request, response: Response, session_id: str) -> None:
        value = {"id": session_id, "csrf": secrets.token_urlsafe(24)}
        self.cookies.set(request, response, COOKIE, value, 8 * 3600)

    # Pages ------------------------------------------------------------------------------------

    def page(
        self,
        name: str,
        title: str,
        here: str,
        visitor: Visitor | None,
        status: int = 200,
        request: Request | None = None,
        **values: Any,
    ) -> HTMLResponse:
        nav = NAV if visitor and visitor.admin else (("/dashboard/plan", "Action plan"),)
        body = self._env.get_template(name).render(
            org=self.keyq.org.organisation.name,
            title=title,
            here=here,
            nav=nav,
            signed=visitor is not None,
            csrf=visitor.csrf if visitor else "",
            notes=self.notes(request),
            **values,
        )
        response = HTMLResponse(body, status_code=status)
        response.headers["content-security-policy"] = CSP
        if request is not None and NOTE in request.cookies:
            response.delete_cookie(NOTE, path="/dashboard")
        return response

    def notes(self, request: Request | None) -> tuple[str, ...]:
        note = self.cookies.open(request.cookies.get(NOTE)) if request is not None else None
        return (note["n"],) if note else ()

    def refused(self, status: int = 403) -> HTMLResponse:
        return self.page(
            "message.html",
            "Not signed in",
            "",
            None,
            status=status,
            paragraphs=(
                "Sign in with a link from keyq: type dashboard in any chat with keyq (admins "
                "and managers only), or run keyq dashboard-link --as REF.",
            ),
            alert=True,
        )

    def audit(self, visitor: Visitor, action: str) -> None:
        logger.info("admin %s did %s", visitor.signed.who.hex()[:12], action)

    async def report(self) -> Report:
        return await self.keyq.report()

    async def history(self) -> list[Report]:
        """Every published report of the current campaign, oldest first (published figures
        only, each protected against all the ones before it)."""
        campaign = await find_campaign(self.keyq.store)
        threshold = self.keyq.org.reporting.threshold
        return [
            assemble(snapshots.open_snapshot(s, threshold), campaign, self.keyq.survey)
            for s in await self.keyq.store.snapshots(campaign.id)
        ]


router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _dash(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


async def _admin_post(
    request: Request, *, admins_only: bool = True
) -> tuple[Dashboard, Visitor, dict[str, str]] | Response:
    """A signed-in visitor's form with its CSRF token checked (an admin's, unless not needed)."""
    dash = _dash(request)
    visitor = await dash.visitor(request)
    form = await _form(request)
    if visitor is None or (admins_only and not visitor.admin):
        return dash.refused()
    if not hmac.compare_digest(form.get("csrf", "").encode(), visitor.csrf.encode()):
        return dash.refused(400)
    return dash, visitor, form


async def _admin_view(request: Request) -> tuple[Dashboard, Visitor] | Response:
    """A signed-in admin's page view, or the refusal."""
    dash = _dash(request)
    visitor = await dash.visitor(request)
    if visitor is None or not visitor.admin:
        return dash.refused()
    return dash, visitor


def _back(request: Request, dash: Dashboard, where: str, note: str = "") -> RedirectResponse:
    """PRG: back to a page, with a one-time note in a sealed cookie (never in the URL, so a
    crafted link cannot put words in keyq's mouth)."""
    response = RedirectResponse(where, status_code=303)
    if note:
        dash.cookies.set(request, response, NOTE, {"n": note[:200]})
    return response


@router.get("/static/dashboard.css")
async def css() -> Response:
    return stylesheet("channels.dashboard", "dashboard.css")


@router.get("/login/{token}")
async def login_page(request: Request, token: str) -> Response:
    dash = _dash(request)
    return dash.page(
        "message.html",
        "Sign in",
        "",
        None,
        paragraphs=("This link signs you in once, within 10 minutes of asking for it.",),
        token=token[:64],
    )


@router.post("/login")
async def login(request: Request) -> Response:
    dash = _dash(request)
    token = (await _form(request)).get("token", "")[:64]
    redeemed = await dash.access.redeem(token) if token else None
    if redeemed is None or not dash.still_allowed(redeemed[1]):
        return dash.page(
            "message.html",
            "That link has expired",
            "",
            None,
            status=403,
            paragraphs=(
                "Sign-in links work once, within 10 minutes. Type dashboard in a chat with "
                "keyq for a new one.",
            ),
            alert=True,
        )
    session_id, signed = redeemed
    logger.info("admin %s signed in to the dashboard", signed.who.hex()[:12])
    home = "/dashboard" if signed.role == "admin" else "/dashboard/plan"
    response = RedirectResponse(home, status_code=303)
    dash.set_cookie(request, response, session_id)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    checked = await _admin_post(request, admins_only=False)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    await dash.access.sign_out(visitor.session_id)
    response = dash.page(
        "message.html", "Signed out", "", None, paragraphs=("You are signed out.",)
    )
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("")
async def overview(request: Request) -> Response:
    dash = _dash(request)
    visitor = await dash.visitor(request)
    if visitor is None:
        return dash.refused()
    if not visitor.admin:
        return _back(request, dash, "/dashboard/plan")
    try:
        report = await dash.report()
    except LookupError:  # no current campaign: the last one was closed
        return dash.page(
            "message.html",
            "Report",
            "/dashboard",
            visitor,
            paragraphs=("There is no current campaign: start one on the Campaigns page.",),
        )
    header = render.header_lines(report)[1:]
    if dash.keyq.publishing(report.campaign):
        header.append(f"{snapshots.NEWER_COMING}: reload in a minute.")
    return dash.page(
        "overview.html",
        "Report",
        "/dashboard",
        visitor,
        report=report,
        header=header,
        chart=svg.levels(report),
        titles=TITLES,
        footnote=FOOTNOTE.format(t=report.threshold),
        can_publish=True,
        request=request,
    )


@router.get("/report.{fmt}")
async def report_download(request: Request, fmt: str) -> Response:
    """The report as CSV or JSON: a status per count, never a hidden value."""
    viewed = await _admin_view(request)
    if isinstance(viewed, Response):
        return viewed
    dash, _ = viewed
    if fmt not in ("csv", "json"):
        return Response(status_code=404)
    try:
        report = await dash.report()
    except LookupError:
        return Response(status_code=404)
    text = render.csv_text(report) if fmt == "csv" else render.json_text(report)
    return Response(
        text,
        media_type="text/csv" if fmt == "csv" else "application/json",
        headers={"content-disposition": f'attachment; filename="keyq-report.{fmt}"'},
    )


@router.post("/publish")
async def publish(request: Request) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    report = await dash.keyq.report(publish=True)
    dash.audit(visitor, "publish")
    return _back(request, dash, "/dashboard", f"Report {report.snapshot} is the latest.")


@router.get("/trends")
async def trends(request: Request) -> Response:
    viewed = await _admin_view(request)
    if isinstance(viewed, Response):
        return viewed
    dash, visitor = viewed
    try:
        history = await dash.history()
    except LookupError:
        history = []
    series: list[tuple[str, str]] = []
    if len(history) >= 2:
        labels = [f"#{r.snapshot} {r.published_at:%d %b}" for r in history]

        def share(report: Report, unit: str | None) -> float | None:
            row: Row | None = report.overall
            if unit is not None:
                level = next((b for b in report.breakdowns if b.dimension == "level"), None)
                row = next((r for r in level.rows if r.unit == unit), None) if level else None
            if row is None:
                return None
            return next(g.share for g in row.groups if g.group.value == "working_class")

        series.append(
            (
                "Working-class share, whole organisation",
                svg.trend(
                    "Working-class share over time",
                    list(zip(labels, [share(r, None) for r in history], strict=True)),
                ),
            )
        )
        target = history[-1].response_rate_target
        if any(r.response_rate is not None for r in history):
            series.append(
                (
                    "Response rate",
                    svg.trend(
                        "Response rate over time",
                        list(zip(labels, [r.response_rate for r in history], strict=True)),
                        target=target,
                    ),
                )
            )
        units = (
            [u for u in dash.keyq.org.report_units("level")]
            if ("level" in dash.keyq.org.followups)
            else []
        )
        for unit in units:
            points = [share(r, unit) for r in history]
            if any(p is not None for p in points):
                series.append(
                    (
                        f"Working-class share: {unit}",
                        svg.trend(
                            f"Working-class share over time, {unit}",
                            list(zip(labels, points, strict=True)),
                        ),
                    )
                )
    return dash.page("trends.html", "Trends", "/dashboard/trends", visitor, series=series)


@router.get("/campaigns")
async def campaigns(request: Request) -> Response:
    viewed = await _admin_view(request)
    if isinstance(viewed, Response):
        return viewed
    dash, visitor = viewed
    rows = []
    for campaign in await dash.keyq.store.campaigns():
        answered, _ = await dash.keyq.store.counts(campaign.id)
        rows.append(
            (
                campaign,
                answered if answered >= dash.keyq.org.reporting.threshold else "fewer than 10",
            )
        )
    return dash.page(
        "campaigns.html",
        "Campaigns",
        "/dashboard/campaigns",
        visitor,
        campaigns=rows,
        admin=True,
        request=request,
    )


@router.post("/campaigns")
async def start_campaign(request: Request) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, form = checked
    campaign_id = form.get("id", "").strip()
    try:
        await dash.keyq.store.start_campaign(
            campaign_id,
            (form.get("title") or campaign_id)[:120],
            make_default=form.get("default") == "1",
            applicants=form.get("applicants") == "1",
        )
    except ValueError as exc:
        return _back(request, dash, "/dashboard/campaigns", str(exc)[:90])
    dash.audit(visitor, "start campaign")
    return _back(request, dash, "/dashboard/campaigns", f"Campaign {campaign_id} is open.")


@router.post("/campaigns/{campaign_id}/close")
async def close_campaign(request: Request, campaign_id: str) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    try:
        await dash.keyq.store.close_campaign(campaign_id[:40])
    except ValueError:
        return _back(request, dash, "/dashboard/campaigns", "No such campaign.")
    dash.audit(visitor, "close campaign")
    return _back(request, dash, "/dashboard/campaigns", f"Campaign {campaign_id[:40]} is closed.")


@router.get("/reminders")
async def reminders(request: Request) -> Response:
    viewed = await _admin_view(request)
    if isinstance(viewed, Response):
        return viewed
    dash, visitor = viewed
    service = dash.keyq.reminders
    quiet = await service.quiet_periods()
    return dash.page(
        "reminders.html",
        "Reminders",
        "/dashboard/reminders",
        visitor,
        schedules=await service.schedules(),
        quiet=quiet,
        waves=await service.waves(),
        admin=True,
        request=request,
    )


@router.post("/reminders")
async def add_reminder(request: Request) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, form = checked
    rule = form.get("rule", "")[:200]
    try:
        info = await dash.keyq.reminders.add(rule[:80], rule)
    except (RuleError, LookupError) as exc:
        return _back(request, dash, "/dashboard/reminders", f"Not added: {exc}"[:160])
    dash.audit(visitor, "add reminder")
    dates = ", ".join(f"{d:%a %d %b %Y %H:%M}" for d in info.next_runs[:3])
    return _back(
        request,
        dash,
        "/dashboard/reminders",
        f"Reminder {info.id} added: {info.rule}. Next: {dates}.",
    )


@router.post("/reminders/quiet")
async def add_quiet(request: Request) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, form = checked
    try:
        await dash.keyq.reminders.add_quiet(form.get("period", "")[:80])
    except RuleError as exc:
        return _back(request, dash, "/dashboard/reminders", f"Not added: {exc}"[:160])
    dash.audit(visitor, "add quiet period")
    return _back(request, dash, "/dashboard/reminders", "Quiet period added.")


@router.post("/reminders/{schedule_id}/{action}")
async def change_reminder(request: Request, schedule_id: int, action: str) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    if action not in ("pause", "resume", "delete"):
        return dash.refused()
    try:
        if action == "delete":
            await dash.keyq.reminders.delete(schedule_id)
        else:
            await dash.keyq.reminders.set_paused(schedule_id, action == "pause")
    except LookupError:
        return _back(request, dash, "/dashboard/reminders", "No such reminder.")
    dash.audit(visitor, f"{action} reminder")
    return _back(request, dash, "/dashboard/reminders", f"Reminder {schedule_id}: {action}d.")


@router.get("/plan")
async def plan(request: Request) -> Response:
    dash = _dash(request)
    visitor = await dash.visitor(request)
    if visitor is None:
        return dash.refused()
    tips = guidance()
    every = dt.timedelta(days=dash.keyq.org.guidance.check_in_days)
    rows = []
    for action in await dash.plan.actions():
        tip = tips.tip(action.tip_id)
        block = tips.blocks[tip.block].name if tip else ""
        rows.append((action, tip.title if tip else action.tip_id, block))

    def check_in(action: Any) -> dt.date:
        last = action.asked_on or action.adopted_on
        return last + every  # type: ignore[no-any-return]

    return dash.page(
        "plan.html",
        "Action plan",
        "/dashboard/plan",
        visitor,
        actions=rows,
        can_change=visitor.admin,
        check_in=check_in,
        request=request,
    )


@router.post("/plan/{action_id}/done")
async def plan_done(request: Request, action_id: int) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    done = await dash.plan.complete(action_id, dash.keyq.clock().date())
    if done is None:
        return _back(request, dash, "/dashboard/plan", "No such open action.")
    dash.audit(visitor, "mark an action done")
    return _back(request, dash, "/dashboard/plan", f"Action {action_id} is done.")


@router.get("/codes")
async def codes(request: Request) -> Response:
    viewed = await _admin_view(request)
    if isinstance(viewed, Response):
        return viewed
    dash, visitor = viewed
    open_campaigns = [c for c in await dash.keyq.store.campaigns() if c.is_open]
    return dash.page(
        "codes.html",
        "Answer cards",
        "/dashboard/codes",
        visitor,
        batches=await dash.codes.batches(),
        campaigns=open_campaigns,
        request=request,
    )


@router.post("/codes")
async def issue_codes(request: Request) -> Response:
    from channels.web.cards import sheet

    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, form = checked
    count = form.get("count", "")
    if not (count.isascii() and count.isdecimal() and 1 <= int(count) <= 2000):
        return _back(request, dash, "/dashboard/codes", "Make between 1 and 2,000 cards at a time.")
    try:
        batch, made = await dash.codes.issue(form.get("campaign", "")[:40], int(count))
    except LookupError:
        return _back(request, dash, "/dashboard/codes", "That campaign is not open.")
    dash.audit(visitor, "issue answer cards")
    pdf = sheet(made, dash.keyq.settings.public_url, dash.keyq.org.organisation.name)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="keyq-cards-batch-{batch}.pdf"',
            "cache-control": "no-store",
        },
    )


@router.post("/codes/{batch_id}/revoke")
async def revoke_codes(request: Request, batch_id: int) -> Response:
    checked = await _admin_post(request)
    if isinstance(checked, Response):
        return checked
    dash, visitor, _ = checked
    try:
        await dash.codes.revoke(batch_id)
    except LookupError:
        return _back(request, dash, "/dashboard/codes", "No such batch.")
    dash.audit(visitor, "revoke answer cards")
    return _back(request, dash, "/dashboard/codes", f"Batch {batch_id} is revoked.")
