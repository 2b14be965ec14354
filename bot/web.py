"""keyq's HTTP app: health now; channels and the admin API mount their routes here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.api import router as admin_api
from bot.app import App, build
from bot.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; keyq itself is built when it starts and closed when it stops."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        keyq = await build(settings)
        api.state.keyq = keyq
        try:
            yield
        finally:
            await keyq.close()

    api = FastAPI(title="keyq", version="0.1.0", lifespan=lifespan)
    api.include_router(admin_api)

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
