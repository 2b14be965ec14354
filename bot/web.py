"""keyq's HTTP app: health now; channels and the admin API mount their routes here."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.api import Admin
from bot.api import router as admin_api
from bot.app import App, build
from bot.guard import Guard
from bot.housekeeping import Housekeeping
from bot.reminders.scheduler import ReminderLoop
from bot.reporting import render
from bot.settings import Settings
from channels.dashboard.app import Dashboard
from channels.dashboard.app import router as dashboard_routes
from channels.slack.app import SlackChannel
from channels.slack.app import router as slack_routes
from channels.telegram.app import TelegramChannel
from channels.telegram.app import router as telegram_routes
from channels.web.app import WebChannel
from channels.web.app import router as web_routes

logger = logging.getLogger(__name__)


def create_app(settings: Settings, *, freeze_heap: bool = False) -> FastAPI:
    """The FastAPI app; keyq itself is built when it starts and closed when it stops.

    With ``freeze_heap`` (``keyq serve``), what start-up built is handed to ``gc.freeze`` once
    it is running: see ``settle_heap``.
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        keyq = await build(settings)
        api.state.keyq = keyq
        api.state.web = WebChannel(keyq)
        api.state.dashboard = Dashboard(keyq)
        channels = await start_channels(keyq, api)
        if freeze_heap:
            settle_heap()
        try:
            yield
        finally:
            for channel in reversed(channels):
                await channel.stop()
            await keyq.close()

    # No /docs or /redoc (their pages load scripts from a CDN); the OpenAPI schema is served
    # at /api/openapi.json, behind the admin token like the rest of the API.
    api = FastAPI(
        title="keyq",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    api.add_middleware(Guard, settings=settings)
    # Routes are tried in order: the platforms' webhooks, which carry nearly every request,
    # come first.
    api.include_router(telegram_routes)
    api.include_router(slack_routes)
    api.include_router(admin_api)

    @api.get("/api/openapi.json", include_in_schema=False)
    async def openapi(_: Admin) -> JSONResponse:
        return JSONResponse(api.openapi())

    api.include_router(web_routes)
    api.include_router(dashboard_routes)

    @api.get("/healthz", summary="Liveness and database check")
    async def healthz(request: Request) -> JSONResponse:
        keyq: App = request.app.state.keyq
        try:
            await keyq.store.ping()
        except Exception as exc:
            logger.warning("health check: database unreachable (%s)", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    return api


class Stoppable(Protocol):
    async def stop(self) -> None: ...


YOUNG_COLLECTION = 7000
"""Net new container objects between collections of the youngest generation (CPython's
default is 700). At 700 it ran 361 times in 8,100 Slack requests, almost always to find
objects that reference counting frees anyway; at 7,000, 3 times."""


def settle_heap() -> None:
    """Takes what start-up built out of the garbage collector's sight, once keyq is running.

    Start-up leaves about 240,000 objects that live as long as the process: the guidance's
    indexes, the libraries' modules, compiled statements. CPython's oldest-generation
    collection walks all of them, and under load it ran every second or so, for up to 130 ms
    each time (``keyq serve`` under the Slack bench at concurrency 32). ``gc.freeze`` moves
    them to a generation no collection walks; they are still freed by reference counting, and
    only a cycle among them would never be (start-up's garbage is collected first). The
    youngest generation is collected less often too (``YOUNG_COLLECTION``). Measured with the
    Slack bench's load on PostgreSQL, six alternating rounds against a server without this:
    at concurrency 32, 1.17 against 1.29 ms of CPU a request and p99 61 against 186 ms; at 8,
    4-8% less CPU; at 1, no difference the noise shows.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])


async def start_channels(keyq: App, api: FastAPI) -> list[Stoppable]:
    """Starts every channel whose settings are present; returns them for shutdown."""
    settings = keyq.settings
    started: list[Stoppable] = []
    if settings.telegram_token is not None:
        secret = settings.telegram_webhook_secret
        telegram = TelegramChannel(
            engine=keyq.engine,
            token=settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_api_url,
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=secret.get_secret_value() if secret else None,
            reply_rate=settings.telegram_reply_rate,
            reserve=keyq.store.reserve,
        )
        await telegram.start()
        api.state.telegram = telegram
        started.append(telegram)
    if settings.slack_bot_token is not None and settings.slack_signing_secret is not None:
        app_token = settings.slack_app_token

        async def summary() -> str:
            return "\n".join(render.text(await keyq.report()).split("\n")[:12])

        slack = SlackChannel(
            engine=keyq.engine,
            token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            base_url=settings.slack_api_url,
            app_token=app_token.get_secret_value() if app_token else None,
            intro=keyq.survey.say("intro"),
            admin_summary=summary,
            reply_rate=settings.slack_reply_rate,
            reserve=keyq.store.reserve,
        )
        await slack.start()
        api.state.slack = slack
        started.append(slack)
    housekeeping = Housekeeping(store=keyq.store, batch=settings.flush_batch)
    await housekeeping.start()
    started.append(housekeeping)
    if keyq.reminders.channels:
        loop = ReminderLoop(reminders=keyq.reminders, store=keyq.store)
        await loop.start()
        started.append(loop)
    return started
