"""Wiring: slack-bolt receives and verifies, keyq's engine decides, the Web API sends."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.engine import Engine
from bot.events import Reply, fold_after_tap
from bot.guard import too_deep
from bot.pace import Reserve, SharedLane, local_reserve
from channels.slack.inbound import (
    ACTION_PREFIX,
    HomeOpened,
    Inbound,
    Joined,
    from_action,
    from_command,
    from_event,
)
from channels.slack.outbound import SECTION_LIMIT, blocks, combined, home_view

logger = logging.getLogger(__name__)

AdminSummary = Callable[[], Awaitable[str]]
ACK_BUDGET = 2.0
"""Seconds a listener waits for its replies to go before Bolt acknowledges (Slack allows 3)."""
EVENTS = re.compile("^(?:message|app_mention|app_home_opened|team_join)$")
"""The Events API events keyq listens to."""
LANE = "sl-replies"
"""The replies' lane on the shared pace (reminders pace on "slack")."""


class SlackChannel:
    """keyq in a Slack workspace, over HTTP (``POST /slack/events``) or Socket Mode.

    Args:
        engine: keyq's engine.
        token: the bot token (``xoxb-``).
        signing_secret: Bolt checks every HTTP request against it.
        base_url: the Web API base URL, ending in ``/`` (GovSlack and tests use another).
        app_token: an ``xapp-`` token turns on Socket Mode instead of HTTP.
        intro: the promise shown on the App Home.
        admin_summary: a short protected summary for admins on the App Home.
        reply_rate: new messages a second, across every keyq process sharing ``reserve``; one
            channel gets one a second after a short burst (0: no pacing, for measurements).
        reserve: the database pace shared by every keyq process; without it, per process.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        token: str,
        signing_secret: str,
        base_url: str,
        app_token: str | None = None,
        intro: str = "",
        admin_summary: AdminSummary | None = None,
        reply_rate: float = 3,
        reserve: Reserve | None = None,
    ) -> None:
        self._engine = engine
        self._sending: set[asyncio.Task[None]] = set()
        self._pace = (
            SharedLane(reserve or local_reserve(), LANE, reply_rate) if reply_rate > 0 else None
        )
        self._app_token = app_token
        self._intro = intro
        self._admin_summary = admin_summary
        self._socket: Any = None
        self._app_id: str | None = None
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            ],
            # slack_sdk builds its debug lines (every call's parameters) whenever its logger's
            # own level is unset, even when nothing would print them. This logger's level is
            # set (`keyq serve` holds it at WARNING at least), so they are not built.
            logger=logging.getLogger("slack_sdk"),
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            process_before_response=True,
            logger=logging.getLogger("slack_bolt"),
        )
        # Bolt tries listeners in order, building every argument a listener could take for
        # each one it tries: taps (most requests) first, and one listener for the events.
        self.app.action(re.compile(f"^{ACTION_PREFIX}"))(self._on_action)
        self.app.event(EVENTS)(self._on_event)
        self.app.command("/keyq")(self._on_command)

    async def start(self) -> None:
        # One HTTP session for every Web API call, so connections (and their TLS handshakes)
        # are kept and reused; without one, slack_sdk opens and closes a session per call.
        self.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.client.timeout)
        )
        if self._app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_client = AsyncWebClient(base_url=self.client.base_url)
            self._socket = AsyncSocketModeHandler(
                self.app, self._app_token, web_client=socket_client
            )
            await self._socket.connect_async()
            logger.info("slack: connected in Socket Mode")

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._sending:  # replies still waiting for their slot go out before we stop
            await asyncio.wait(set(self._sending), timeout=30)
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None

    # Listeners: translate, hand to the engine, send. Bolt acks once they return. --------------

    async def _on_event(self, body: dict[str, Any]) -> None:
        self._app_id = body.get("api_app_id") or self._app_id
        event = from_event(body)
        if isinstance(event, HomeOpened):
            await self._publish_home(event)
        elif isinstance(event, Joined):
            await self._engine.register_contact(event.user, event.user.user_id, event.timezone)
        elif isinstance(event, Inbound):
            await self._deliver_within_ack(event, await self._engine.handle(event.incoming))

    async def _on_action(self, ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
        inbound = from_action(body)
        if inbound is not None:
            replies = await self._engine.handle(inbound.incoming)
            # The tapped message becomes the next step: one chat.update, no new message.
            await self._deliver_within_ack(inbound, fold_after_tap(replies, SECTION_LIMIT))
        await ack()

    async def _on_command(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        inbound = from_command(body)
        if inbound is None:
            await ack(text="Sorry, I couldn't read that command.")
            return
        word = (inbound.incoming.text or "").split()[0].casefold()
        if word == "start":  # the question is only ever asked in a DM
            replies = await self._engine.handle(inbound.incoming)
            await self._deliver(
                Inbound(incoming=inbound.incoming, channel_id=inbound.incoming.user.user_id),
                replies,
            )
            await ack(text="I've sent you a direct message.")
            return
        text, view = combined(await self._engine.handle(inbound.incoming))
        await ack(text=text[:3000], blocks=view)

    # Sending ---------------------------------------------------------------------------------

    async def _deliver_within_ack(self, inbound: Inbound, replies: list[Reply]) -> None:
        """Sends the replies, but lets Bolt acknowledge within Slack's 3 s whatever the pace:
        a delivery still waiting for its slot after ``ACK_BUDGET`` finishes in the background
        (the turn has already committed, so a retry from Slack would change nothing)."""
        task = asyncio.create_task(self._deliver(inbound, replies))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), ACK_BUDGET)
        except TimeoutError:
            logger.info("slack: a reply waits for its slot after the acknowledgement")

    async def _deliver(self, inbound: Inbound, replies: list[Reply]) -> None:
        user = inbound.incoming.user.user_id
        for reply in replies:
            try:
                # The tapped message, when this reply turns it into the next step.
                edit = (
                    None if reply.open_private or not reply.replaces_prompt else inbound.message_ts
                )
                if self._pace is not None and (not edit or reply.image is not None):
                    await self._pace.wait(inbound.channel_id)
                if reply.image is not None:
                    await self.client.files_upload_v2(
                        channel=inbound.channel_id,
                        content=reply.image,
                        filename="keyq-report.png",
                        title="keyq report",
                    )
                if reply.open_private:
                    await self.client.chat_postEphemeral(
                        channel=inbound.channel_id,
                        user=user,
                        text=reply.text,
                        blocks=blocks(reply, app_id=self.app_id),
                    )
                elif edit:
                    await self.client.chat_update(
                        channel=inbound.channel_id,
                        ts=edit,
                        text=reply.text,
                        blocks=blocks(reply),
                    )
                else:
                    await self.client.chat_postMessage(
                        channel=inbound.channel_id, text=reply.text[:3000], blocks=blocks(reply)
                    )
            except SlackApiError as exc:
                logger.warning("slack: sending failed (%s)", exc.response.get("error", "?"))

    async def _publish_home(self, event: HomeOpened) -> None:
        summary = None
        if self._admin_summary is not None and event.user.admin_ref in self._engine.admins:
            summary = await self._admin_summary()
        try:
            await self.client.views_publish(
                user_id=event.user.user_id, view=home_view(intro=self._intro, admin_summary=summary)
            )
        except SlackApiError as exc:
            logger.warning("slack: views.publish failed (%s)", exc.response.get("error", "?"))

    @property
    def app_id(self) -> str | None:
        """The Slack app's id (from deliveries), for "open a DM with keyq" links."""
        return self._app_id


router = APIRouter()


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    """Events, interactivity and the /keyq command.

    The guard (bot/guard.py) has already checked the signature and that the body is UTF-8.
    The body is parsed once, as Bolt's Starlette adapter parses it, and a body that is not
    JSON (or a form carrying JSON), or nests too deeply, is a 400 before any listener runs;
    Bolt then checks the signature again, as it does for every request.
    """
    channel: SlackChannel | None = getattr(request.app.state, "slack", None)
    if channel is None:
        return Response(status_code=404)
    try:
        bolt_request = to_async_bolt_request(request, await request.body())
    # JSON that does not parse or nests past Python's limit; or JSON that is not an object,
    # which Bolt fails to read its team and user from.
    except (ValueError, RecursionError, AttributeError, TypeError):
        return JSONResponse({"detail": "the body is not a JSON object"}, status_code=400)
    if too_deep(bolt_request.body):
        return JSONResponse({"detail": "the body nests too deeply"}, status_code=400)
    return to_starlette_response(await channel.app.async_dispatch(bolt_request))
