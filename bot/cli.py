"""The ``keyq`` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from bot.app import App, build, find_campaign, parse_number, schedule_text, wave_text
from bot.orgconfig import ConfigError
from bot.reporting.report import Report
from bot.settings import Settings
from storage.crypto import KeyRingError
from storage.database import DatabaseError, upgrade

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "KEYQ_" + "_".join(str(p) for p in error["loc"]).upper()
        raise click.ClickException(f"{name}: {error['msg']}") from None


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # These libraries log request URLs (with bot tokens), raw updates or whole request bodies
    # (slack_bolt does at INFO when a signature fails): keep them at WARNING or above.
    for noisy in (
        "httpx",
        "httpcore",
        "aiosqlite",
        "alembic",
        "matplotlib",
        "telegram",
        "slack_bolt",
        "slack_sdk",
        "uvicorn.access",
    ):
        logging.getLogger(noisy).setLevel(
            max(logging.WARNING, logging.getLevelName(settings.log_level))
        )
    logging.getLogger("apscheduler").setLevel(
        max(logging.INFO, logging.getLevelName(settings.log_level))
    )


def _with_app(work: Callable[[App], Awaitable[T]]) -> T:
    settings = _settings()
    _configure_logging(settings)

    async def run() -> T:
        app = await build(settings)
        try:
            return await work(app)
        finally:
            await app.close()

    try:
        return asyncio.run(run())
    except (ConfigError, KeyRingError, DatabaseError, LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="keyq")
def main() -> None:
    """keyq: ask the key question anonymously, report safely, and act on it."""


@main.command()
@click.option("--as", "as_name", metavar="NAME", help="Play this person (default: your login).")
@click.option("--campaign", metavar="ID", help="Answer this campaign instead of the default.")
def chat(as_name: str | None, campaign: str | None) -> None:
    """Talk to keyq in this terminal (reads one answer a line when input is not a terminal)."""
    from channels.console.channel import ConsoleChannel

    user = as_name or getpass.getuser()
    interactive = sys.stdin.isatty()

    async def work(app: App) -> None:
        console = ConsoleChannel(app.engine.handle, user_id=user, out=sys.stdout, campaign=campaign)
        if interactive:
            click.echo(
                f"keyq chat as {user}: type a number to choose, help for help, "
                "quit (or Ctrl-D) to leave.\n"
            )
        await console.run(sys.stdin.readline, prompt="> " if interactive else "")

    _with_app(work)


KEEP_ALIVE_SECONDS = 75
"""How long an idle keep-alive connection stays open: longer than the proxies and load
balancers in front keep theirs (nginx and most cloud balancers: 60 s), so keyq never closes
one at the moment a proxy sends a request down it (uvicorn's default is 5 s)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the HTTP app (health check, channels) under uvicorn."""
    import uvicorn

    from bot.web import create_app

    settings = _settings()
    _configure_logging(settings)
    try:
        uvicorn.run(
            create_app(settings, freeze_heap=True),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    except (ConfigError, KeyRingError, DatabaseError) as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not yet applied."""
    settings = _settings()
    _configure_logging(settings)
    try:
        upgrade(settings.database_url)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database is up to date")


@main.command("report")
@click.option("--campaign", metavar="ID", help="Campaign to report (default: the current one).")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(["level", "function", "location"]),
    help="Breakdowns to show (repeatable; default: every one configured).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE.png",
    help="Also write a chart of shares by level against the benchmark.",
)
@click.option(
    "--publish",
    is_flag=True,
    help="Publish a new snapshot now (still protected against every earlier one).",
)
def report_cmd(
    campaign: str | None, by: tuple[str, ...], fmt: str, chart: str | None, publish: bool
) -> None:
    """Print the protected report of a campaign from its latest published snapshot."""
    from bot.reporting import chart as charts
    from bot.reporting import render

    async def work(app: App) -> Report:
        return await app.report(campaign, publish=publish, wait=True)  # one-shot: never later

    report = _with_app(work)
    wanted = list(by) or None
    renderers = {"table": render.table, "csv": render.csv_text, "json": render.json_text}
    click.echo(renderers[fmt](report, breakdowns=wanted), nl=fmt != "csv")
    if chart:
        with open(chart, "wb") as f:
            f.write(charts.png(report))
        click.echo(f"chart written to {chart}", err=True)


@main.group()
def keys() -> None:
    """Encryption keys (kept outside the database)."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new answer key, make it primary, and re-encrypt everything stored with it."""

    async def work(app: App) -> tuple[str, int]:
        ring = app.store.keys
        new_id = ring.answers.add("a-")
        ring.addresses.add("p-")
        ring.save()  # the new keys are safe on disk before anything depends on them
        return new_id, await app.store.reseal()

    new_id, count = _with_app(work)
    click.echo(
        f"new key {new_id} is primary; re-encrypted {count} stored item(s). "
        "Older keys can now be retired with: keyq keys retire KEY_ID"
    )


@keys.command("retire")
@click.argument("key_id")
def keys_retire(key_id: str) -> None:
    """Remove an old answer key once nothing stored needs it."""

    async def work(app: App) -> None:
        keys = app.store.keys
        name = "answers" if key_id in keys.answers.keys else "addresses"
        ring = keys.answers if name == "answers" else keys.addresses
        if key_id not in ring.keys:
            raise ValueError(f"no key {key_id!r} in the key ring")
        if key_id == ring.primary:
            raise ValueError("that is the primary key: rotate first")
        if key_id in await app.store.key_ids_in_use(name):
            raise ValueError(f"key {key_id} still seals stored data: run keyq keys rotate")
        del ring.keys[key_id]
        keys.save()

    _with_app(work)
    click.echo(f"retired key {key_id}")


@keys.command("list")
def keys_list() -> None:
    """Show key ids (never key material) and which one is primary."""

    async def work(app: App) -> list[str]:
        keys = app.store.keys
        lines = []
        for name, ring in (("answers", keys.answers), ("addresses", keys.addresses)):
            used = await app.store.key_ids_in_use(name)
            lines += [
                f"{k}\t{name}{' primary' if k == ring.primary else ''}"
                f"{' in-use' if k in used else ''}"
                for k in ring.keys
            ]
        return lines

    for line in _with_app(work):
        click.echo(line)


@main.group()
def campaign() -> None:
    """Campaigns: rounds of asking (year-round, yearly refresh, applicants)."""


@campaign.command("list")
def campaign_list() -> None:
    """List campaigns."""

    async def work(app: App) -> list[Any]:
        return list(await app.store.campaigns())

    for c in _with_app(work):
        flags = ", ".join(
            f
            for f, on in (
                ("default", c.is_default),
                ("open", c.is_open),
                ("closed", not c.is_open),
                ("applicants", c.applicants),
            )
            if on
        )
        click.echo(f"{c.id}\t{c.title}\t{flags}\topened {c.opened_month}")


@campaign.command("start")
@click.argument("campaign_id")
@click.option("--title", help="A name people and reports see.")
@click.option(
    "--default/--no-default",
    "make_default",
    default=True,
    show_default=True,
    help="Make it the campaign new conversations answer.",
)
@click.option(
    "--applicants",
    is_flag=True,
    help="A round for job applicants (answer cards, or a link in a confirmation e-mail).",
)
def campaign_start(
    campaign_id: str, title: str | None, make_default: bool, applicants: bool
) -> None:
    """Open a new campaign (people may answer once per campaign)."""

    async def work(app: App) -> None:
        await app.store.start_campaign(
            campaign_id, title or campaign_id, make_default=make_default, applicants=applicants
        )

    _with_app(work)
    click.echo(f"campaign {campaign_id} is open")


@campaign.command("close")
@click.argument("campaign_id")
def campaign_close(campaign_id: str) -> None:
    """Close a campaign and move its last answers into the totals."""

    async def work(app: App) -> None:
        await find_campaign(app.store, campaign_id)
        await app.store.close_campaign(campaign_id)

    _with_app(work)
    click.echo(f"campaign {campaign_id} is closed")


@campaign.command("flush")
@click.argument("campaign_id", required=False)
def campaign_flush(campaign_id: str | None) -> None:
    """Move waiting answers into the totals now, even fewer than a batch (figures stay hidden)."""

    async def work(app: App) -> int:
        found = await find_campaign(app.store, campaign_id)
        return await app.store.flush(found.id, batch=1, force=True)

    click.echo(f"moved {_with_app(work)} waiting answer(s) into the totals")


@main.group()
def remind() -> None:
    """Disclosure reminders: schedules, and sending what is due."""


@remind.command("add")
@click.argument("rule")
@click.option("--name", help="A label (default: the rule).")
@click.option("--tz", "timezone", help="Time zone (default: KEYQ_TIMEZONE).")
@click.option("--campaign", metavar="ID", help="Campaign to remind about (default: current).")
def remind_add(rule: str, name: str | None, timezone: str | None, campaign: str | None) -> None:
    """Add a schedule, e.g. "first monday of each quarter at 10:00" or "every 6 weeks"."""

    async def work(app: App) -> str:
        info = await app.reminders.add(name or rule, rule, timezone, campaign)
        return schedule_text([info])

    click.echo(_with_app(work))


@remind.command("list")
def remind_list() -> None:
    """Schedules with their next dates, and the quiet periods."""

    async def work(app: App) -> str:
        return schedule_text(await app.reminders.schedules(), await app.reminders.quiet_periods())

    click.echo(_with_app(work))


@remind.command("pause")
@click.argument("schedule_id")
def remind_pause(schedule_id: str) -> None:
    """Pause a schedule (a number, or "all")."""
    _toggle(schedule_id, paused=True)


@remind.command("resume")
@click.argument("schedule_id")
def remind_resume(schedule_id: str) -> None:
    """Resume a schedule or "all" (what fell due while paused is not sent)."""
    _toggle(schedule_id, paused=False)


def _toggle(schedule_id: str, *, paused: bool) -> None:
    async def work(app: App) -> str:
        if schedule_id.casefold() == "all":
            return schedule_text(await app.reminders.set_all_paused(paused))
        return schedule_text([await app.reminders.set_paused(parse_number(schedule_id), paused)])

    click.echo(_with_app(work))


@remind.command("quiet")
@click.argument("period", nargs=-1, required=True)
def remind_quiet(period: tuple[str, ...]) -> None:
    """A yearly quiet period: keyq remind quiet from 20 december to 3 january."""

    async def work(app: App) -> str:
        quiet = await app.reminders.add_quiet(" ".join(period))
        return schedule_text(await app.reminders.schedules(), [quiet])

    click.echo(_with_app(work))


@remind.command("delete")
@click.argument("schedule_id", type=int)
def remind_delete(schedule_id: int) -> None:
    """Delete a schedule."""

    async def work(app: App) -> None:
        await app.reminders.delete(schedule_id)

    _with_app(work)
    click.echo(f"schedule {schedule_id} deleted")


@remind.command("run-due")
@click.option("--at", "at", metavar="TIME", help="ISO time to act as of (default: now).")
def remind_run_due(at: str | None) -> None:
    """Start the waves due as of TIME and send what the outbox holds that is due."""
    when = _parse_time(at) if at else None

    async def work(app: App) -> str:
        return wave_text(await app.reminders.run_due(when))

    click.echo(_with_app(work))


@remind.command("waves")
def remind_waves() -> None:
    """Counts per wave (never names)."""

    async def work(app: App) -> str:
        return wave_text(await app.reminders.waves())

    click.echo(_with_app(work))


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO time like 2027-03-01T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@main.group()
def codes() -> None:
    """Single-use answer codes for the web channel (cards with QR codes)."""


@codes.command("issue")
@click.option("--campaign", "campaign_id", metavar="ID", help="Campaign (default: current).")
@click.option("--count", type=click.IntRange(1, 10_000), required=True, help="How many codes.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the printable cards: .pdf (A4, ten a page) or .png (first page).",
)
def codes_issue(campaign_id: str | None, count: int, out: Path | None) -> None:
    """Make COUNT codes and a printable sheet of cards; keyq keeps only keyed hashes."""
    from channels.web.cards import sheet
    from storage.codes import Codes

    async def work(app: App) -> tuple[int, bytes, Path]:
        found = await find_campaign(app.store, campaign_id)
        batch, made = await Codes(app.store).issue(found.id, count)
        target = out or Path(f"keyq-cards-batch-{batch}.pdf")
        fmt = "png" if target.suffix.lower() == ".png" else "pdf"
        return (
            batch,
            sheet(made, app.settings.public_url, app.org.organisation.name, fmt=fmt),
            target,
        )

    batch, document, target = _with_app(work)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(document)
    click.echo(
        f"batch {batch}: {count} codes on {target} (mode 0600). Print it, cut the cards, and "
        "delete the file: keyq cannot show these codes again."
    )


@codes.command("list")
def codes_list() -> None:
    """Batches with counts only: issued, spent, revoked."""
    from storage.codes import Codes

    async def work(app: App) -> str:
        rows = await Codes(app.store).batches()
        if not rows:
            return "No codes issued yet. Try: keyq codes issue --count 50 --out cards.pdf"
        return "\n".join(
            f"batch {b.id} ({b.campaign}, {b.issued_month}): issued {b.issued}, spent {b.spent}"
            + (", revoked" if b.revoked else "")
            for b in rows
        )

    click.echo(_with_app(work))


@codes.command("revoke")
@click.option("--batch", "batch_id", type=click.IntRange(1, 2**31 - 1), required=True)
def codes_revoke(batch_id: int) -> None:
    """Void a batch (lost, or never handed out): its unspent codes stop working."""
    from storage.codes import Codes

    async def work(app: App) -> int:
        return await Codes(app.store).revoke(batch_id)

    unspent = _with_app(work)
    click.echo(f"batch {batch_id} revoked: {unspent} unspent code(s) no longer work")


@main.command("dashboard-link")
@click.option("--as", "ref", required=True, metavar="REF", help="An admin or manager ref.")
def dashboard_link(ref: str) -> None:
    """Print a one-time dashboard sign-in link (10 minutes) for an admin or manager."""

    async def work(app: App) -> str | None:
        return await app.dashboard_link(ref)

    url = _with_app(work)
    if url is None:
        raise click.ClickException("that ref is in neither KEYQ_ADMINS nor KEYQ_MANAGERS")
    click.echo(url)
