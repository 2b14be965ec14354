"""The admin HTTP API: protected reports (and later schedules), behind a bearer token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from bot.app import App
from bot.guard import admin_token_ok
from bot.reminders.rules import RuleError
from bot.reminders.service import ScheduleInfo, WaveCounts
from bot.reporting import chart
from bot.reporting.report import Report

bearer = HTTPBearer(auto_error=False, description="The value of KEYQ_ADMIN_TOKEN.")
Dimension = Literal["level", "function", "location"]


def keyq(request: Request) -> App:
    app: App = request.app.state.keyq
    return app


def admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> App:
    """Lets the request through only with the admin bearer token (compared in constant time)."""
    app = keyq(request)
    if not admin_token_ok(app.settings, credentials.credentials if credentials else ""):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid admin bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return app


Admin = Annotated[App, Depends(admin)]
ScheduleNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(prefix="/api", tags=["admin"])


async def _report(app: App, campaign: str | None, publish: bool = False) -> Report:
    try:
        return await app.report(campaign, publish=publish)
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/report", response_model=Report, summary="A campaign's protected report")
async def get_report(
    app: Admin,
    campaign: Annotated[str | None, Query(description="Campaign id; default: current")] = None,
    by: Annotated[list[Dimension] | None, Query(description="Breakdowns to include")] = None,
) -> Report:
    """The latest published snapshot (a new one is published first when due). Counts under the
    threshold, and any that could be worked out from others, are null."""
    report = await _report(app, campaign)
    if by:
        report = report.model_copy(
            update={"breakdowns": [b for b in report.breakdowns if b.dimension in by]}
        )
    return report


@router.post("/report/publish", response_model=Report, summary="Publish a new snapshot now")
async def publish_report(app: Admin, campaign: Annotated[str | None, Query()] = None) -> Report:
    """Publishes a snapshot of the current figures, protected against every earlier one."""
    return await _report(app, campaign, publish=True)


@router.get(
    "/report/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="Shares by level against the benchmark, as a PNG",
)
async def report_chart(app: Admin, campaign: Annotated[str | None, Query()] = None) -> Response:
    return Response(content=chart.png(await _report(app, campaign)), media_type="image/png")


class NewSchedule(BaseModel):
    rule: str = Field(description='e.g. "first monday of each quarter at 10:00"')
    name: str | None = None
    timezone: str | None = Field(default=None, description="default: KEYQ_TIMEZONE")
    campaign: str | None = None


@router.get("/reminders", response_model=list[ScheduleInfo], summary="Reminder schedules")
async def list_schedules(app: Admin) -> list[ScheduleInfo]:
    return await app.reminders.schedules()


@router.post(
    "/reminders", response_model=ScheduleInfo, status_code=201, summary="Add a reminder schedule"
)
async def add_schedule(app: Admin, body: NewSchedule) -> ScheduleInfo:
    try:
        info = await app.reminders.add(
            body.name or body.rule, body.rule, body.timezone, body.campaign
        )
    except RuleError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except LookupError as exc:  # an unknown campaign, or the same rule twice
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return info


@router.post(
    "/reminders/{schedule_id}/{action}",
    response_model=ScheduleInfo,
    summary="Pause or resume a schedule",
)
async def toggle_schedule(
    app: Admin, schedule_id: ScheduleNumber, action: Literal["pause", "resume"]
) -> ScheduleInfo:
    try:
        return await app.reminders.set_paused(schedule_id, action == "pause")
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.delete("/reminders/{schedule_id}", status_code=204, summary="Delete a schedule")
async def delete_schedule(app: Admin, schedule_id: ScheduleNumber) -> Response:
    try:
        await app.reminders.delete(schedule_id)
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return Response(status_code=204)


@router.get("/reminders/waves", response_model=list[WaveCounts], summary="Counts per wave")
async def list_waves(app: Admin) -> list[WaveCounts]:
    """Counts only: never names or lists of who was or wasn't reminded."""
    return await app.reminders.waves()
