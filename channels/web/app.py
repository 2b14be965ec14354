"""Wiring: FastAPI routes under /a, a sealed session cookie, Jinja2 pages, the engine decides.

- ``GET /a/CODE`` (a card's QR code): checks the code and shows the first step; the code moves
  into a sealed, HttpOnly, SameSite=Strict cookie and never appears in a page or a link again.
- ``GET /a`` (a poster's QR code): a form to type the code.
- ``POST /a/survey``: a tapped button; POST/redirect/GET, with an event id in every form, so a
  reload or the back button never submits twice. Every form carries a CSRF token.
- Guessing is limited per client address and overall; failures are counted, never logged with
  a code or an address.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.app import App
from channels.pages import CSP, SealedCookies, stylesheet, templates
from channels.web.translate import from_stash, incoming, page, to_stash, visit
from storage.codes import Codes, Status, normalise

logger = logging.getLogger(__name__)

COOKIE = "keyq_web"
SESSION_SECONDS = 2 * 60 * 60
FAILURES_PER_ADDRESS = 10
FAILURES_OVERALL = 300
WINDOW = 60.0


@dataclass
class Attempts:
    """Failed code lookups in the last minute, per client address and overall (this process)."""

    per_address: dict[str, deque[float]] = field(default_factory=dict)
    overall: deque[float] = field(default_factory=deque)

    def blocked(self, address: str, now: float) -> bool:
        for window in (self.per_address.get(address), self.overall):
            while window and now - window[0] > WINDOW:
                window.popleft()
        mine = self.per_address.get(address) or ()
        return len(mine) >= FAILURES_PER_ADDRESS or len(self.overall) >= FAILURES_OVERALL

    def failed(self, address: str, now: float) -> None:
        if len(self.per_address) > 10_000:
            self.per_address.pop(next(iter(self.per_address)))
        self.per_address.setdefault(address, deque()).append(now)
        self.overall.append(now)
        logger.info("web: a code was not recognised (%d in the last minute)", len(self.overall))


class WebChannel:
    """The web pages of one keyq."""

    def __init__(self, keyq: App) -> None:
        self.keyq = keyq
        self.codes = Codes(keyq.store)
        self.attempts = Attempts()
        self.cookies = SealedCookies(
            keyq.store.keys.tag("web-session-key"),
            b"keyq-web",
            path="/a",
            public_url=keyq.settings.public_url,
        )
        self._env = templates("channels.web")

    # The sealed session ---------------------------------------------------------------------

    def open(self, request: Request) -> dict[str, Any] | None:
        session = self.cookies.open(request.cookies.get(COOKIE))
        if session is None or session.get("e", 0) < time.time():
            return None
        return session

    def new_session(self, code: str | None, campaign: str | None) -> dict[str, Any]:
        return {
            "c": code,
            "k": campaign,
            "t": secrets.token_urlsafe(24),
            "e": int(time.time()) + SESSION_SECONDS,
            "s": [],
        }

    def respond(
        self, request: Request, body: str | None, session: dict[str, Any], status: int = 200
    ) -> Response:
        response: Response = (
            HTMLResponse(body, status_code=status)
            if body is not None
            else RedirectResponse("/a/survey", status_code=303)
        )
        response.headers["content-security-policy"] = CSP
        self.cookies.set(request, response, COOKIE, session, SESSION_SECONDS)
        return response

    # Pages ----------------------------------------------------------------------------------

    def render(self, name: str, **values: Any) -> str:
        org = self.keyq.org.organisation.name
        return self._env.get_template(name).render(org=org, **values)

    def message(
        self,
        request: Request,
        session: dict[str, Any],
        heading: str,
        *paragraphs: str,
        status: int = 200,
        show_form: bool = False,
        error: str | None = None,
    ) -> Response:
        body = self.render(
            "message.html",
            title=heading,
            heading=heading,
            paragraphs=paragraphs,
            show_form=show_form,
            error=error,
            alert=status >= 400,
            csrf=session["t"],
        )
        return self.respond(request, body, session, status)

    async def step_page(self, request: Request, session: dict[str, Any]) -> Response:
        stash = session.get("s") or []
        replies = (
            from_stash(stash)
            if stash
            else await self.keyq.engine.show(visit(session["c"], session.get("k")))
        )
        session["s"] = []
        shown = page(replies, receipt=self.keyq.survey.say("receipt"))
        if shown.final:  # thanks, already answered, closed: the card's work is done
            session["c"] = None
            session["d"] = True
        body = self.render(
            "step.html",
            title="One anonymous question",
            heading="One anonymous question",
            page=shown,
            csrf=session["t"],
            event=secrets.token_urlsafe(16),
        )
        return self.respond(request, body, session)

    async def enter(self, request: Request, typed: str, session: dict[str, Any]) -> Response:
        """A code from a card's link or typed on the poster page."""
        address = request.client.host if request.client else "?"
        now = time.monotonic()
        if self.attempts.blocked(address, now):
            return self.message(
                request,
                session,
                "Too many tries",
                "Too many codes were tried just now. Please wait a minute and try again.",
                status=429,
            )
        code = normalise(typed)
        found = await self.codes.lookup(code) if code else None
        if found is None or found.status is Status.UNKNOWN:
            self.attempts.failed(address, now)
            return self.message(
                request,
                session,
                "We don't recognise that code",
                "Please check the code on your card and type it again.",
                status=404,
                show_form=True,
                error="That code isn't one of ours. Codes are 12 letters and numbers.",
            )
        if found.status is Status.SPENT:
            return self.message(
                request,
                session,
                "This card has been used",
                "Each card gives one answer, and this one has given its answer. Thank you.",
            )
        if found.status is Status.CLOSED:
            return self.message(request, session, "This round is closed", self._closed())
        assert code is not None
        fresh = self.new_session(code, found.campaign)
        return await self.step_page(request, fresh)

    def done(self, request: Request, session: dict[str, Any]) -> Response:
        return self.message(
            request, session, "Thank you", "Your answer is in. There is nothing more to do."
        )

    def _closed(self) -> str:
        return self.keyq.survey.say("campaign_closed").split(". ")[0] + "."


router = APIRouter(prefix="/a", include_in_schema=False)


def _channel(request: Request) -> WebChannel | None:
    return getattr(request.app.state, "web", None)


def _session(channel: WebChannel, request: Request) -> dict[str, Any]:
    return channel.open(request) or channel.new_session(None, None)


@router.get("/static/keyq.css")
async def css() -> Response:
    return stylesheet("channels.web", "keyq.css")


@router.get("")
async def poster(request: Request) -> Response:
    channel = _channel(request)
    if channel is None:
        return Response(status_code=404)
    session = _session(channel, request)
    body = channel.render("poster.html", title="Answer with your code", csrf=session["t"])
    return channel.respond(request, body, session)


@router.post("")
async def typed_code(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    channel, session, form = checked
    return await channel.enter(request, form.get("code", "")[:40], session)


@router.get("/survey")
async def survey_page(request: Request) -> Response:
    channel = _channel(request)
    if channel is None:
        return Response(status_code=404)
    session = channel.open(request)
    if session is not None and session.get("d"):
        return channel.done(request, session)
    if session is None or not session.get("c"):
        return _expired(channel, request)
    return await channel.step_page(request, session)


@router.post("/survey")
async def survey_answer(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    channel, session, form = checked
    if not session.get("c"):
        return channel.done(request, session)
    event = incoming(session["c"], session.get("k"), form)
    if event is not None:
        session["s"] = to_stash(await channel.keyq.engine.handle(event))
    return channel.respond(request, None, session)


@router.get("/{typed}")
async def card(request: Request, typed: str) -> Response:
    channel = _channel(request)
    if channel is None:
        return Response(status_code=404)
    return await channel.enter(request, typed[:40], _session(channel, request))


async def _checked(
    request: Request,
) -> tuple[WebChannel, dict[str, Any], dict[str, str]] | Response:
    """The channel, the session and the submitted form, once the form's CSRF token matches
    the session's."""
    channel = _channel(request)
    if channel is None:
        return Response(status_code=404)
    form = {k: str(v) for k, v in (await request.form()).items()}
    session = channel.open(request)
    if session is None or not hmac.compare_digest(
        form.get("csrf", "").encode(), str(session["t"]).encode()
    ):
        return _expired(channel, request)
    return channel, session, form


def _expired(channel: WebChannel, request: Request) -> Response:
    session = channel.new_session(None, None)
    return channel.message(
        request,
        session,
        "Please start again",
        "This page has expired or was opened in another browser. Scan your card again, or "
        "type your code below.",
        status=400,
        show_form=True,
    )
