"""Telegram by webhook: whole answers a second through `keyq serve`, against a bare
python-telegram-bot Application behind FastAPI in the same run, both posting to the same
loopback fake Bot API.

Run: python bench/telegram_webhook.py [--answers 120] [--rounds 5] [--database postgresql://...]
     [--bare-transport httpx|aiohttp]

One keyq answer is three webhook deliveries (/start, "Answer now", an option); the bare
baseline answers three deliveries with one sendMessage each. Platform pacing is switched off
for both (KEYQ_TELEGRAM_REPLY_RATE=0), so the figures are the servers' own. CPU is read from
/proc for each server process (and, on PostgreSQL, for the local database server during keyq's
rounds); RSS idle and after the run. keyq sends its Bot API calls
through aiohttp (channels/telegram/request.py); the baseline through PTB's own httpx unless
--bare-transport aiohttp gives it keyq's, for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import TOKEN, FakeTelegram  # noqa: E402
from tests.pgschema import private_schema as pg_schema  # noqa: E402

SECRET = "bench-secret"
UPDATE_IDS = itertools.count(1)
BARE = textwrap.dedent(
    """
    import sys
    from contextlib import asynccontextmanager

    import uvicorn
    from fastapi import FastAPI, Request, Response
    from telegram import Update
    from telegram.ext import Application, TypeHandler

    token, base, transport, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    builder = Application.builder().token(token).base_url(base).updater(None)
    if transport == "aiohttp":  # keyq's transport, for a like-for-like comparison
        from channels.telegram.request import AiohttpRequest

        builder = builder.request(AiohttpRequest())
    application = builder.build()

    async def reply(update, context):
        await context.bot.send_message(update.effective_chat.id, "ok")

    application.add_handler(TypeHandler(Update, reply))

    @asynccontextmanager
    async def lifespan(api):
        await application.initialize()
        yield
        await application.shutdown()

    api = FastAPI(lifespan=lifespan)

    @api.post("/telegram/webhook")
    async def webhook(request: Request) -> Response:
        update = Update.de_json(await request.json(), application.bot)
        await application.process_update(update)
        return Response(status_code=200)

    @api.get("/healthz")
    async def health():
        return {"ok": True}

    uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used, user and system: the scheduler's own nanosecond count for
    each of its threads (/proc/<pid>/task/*/schedstat), not /proc/<pid>/stat's clock ticks,
    whose 10 ms steps are several per cent of a round at concurrency 1. Both servers keep
    their threads for the whole run, so no thread's time is lost with it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that has just ended
            continue
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)
    raise RuntimeError("the server did not start in time")


def driver(concurrency: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client: aiohttp, not httpx. With httpx, its connection pool
    held each request ~200 ms at concurrency 32 in this process (which also runs the fake
    platform), so the driver, not the servers, set the rate there."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency + 4),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def drive(
    port: int, fake: FakeTelegram, users: range, concurrency: int, *, keyq: bool
) -> tuple[float, list[float]]:
    """Answers a second over ``users``, and every delivery's latency."""
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)

    async def post(client: aiohttp.ClientSession, update: dict[str, object]) -> None:
        started = time.perf_counter()
        update = {"update_id": next(UPDATE_IDS), **update}
        async with client.post(url, json=update, headers=headers) as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200, response.status

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            user = queue.get_nowait()
            await post(client, fake.text(user, "/start"))
            for label in ("Answer now", "Other"):
                if keyq:
                    message_id, buttons = fake.last_keyboard(user)
                    await post(client, fake.tap(user, dict(buttons)[label], message_id))
                else:
                    await post(client, fake.text(user, label))

    started = time.perf_counter()
    async with driver(concurrency) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return len(users) / (time.perf_counter() - started), latencies


Drive = Callable[[int, list[Any], int, bool], Awaitable[tuple[float, list[float]]]]


def database_cpu_seconds() -> float:
    """CPU time used so far by this machine's PostgreSQL processes (every backend and helper,
    from /proc): what keyq's turns cost the database server, which a bare baseline never
    pays."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def compare(
    keyq: tuple[int, subprocess.Popen[bytes]],
    bare: tuple[int, subprocess.Popen[bytes]],
    users: Callable[[int, int], list[Any]],
    drive: Drive,
    answers: int,
    *,
    unit: str,
    rounds: int = 5,
    database: bool = False,
) -> None:
    """Answers a second, latency and CPU for keyq and the bare baseline, at concurrency 1, 8
    and 32, each on fresh people; prints one table row per concurrency.

    Each concurrency runs ``rounds`` times, keyq and the baseline taking turns, and the row
    gives the medians (latencies pooled): on a shared 2-core machine one pass of either can be
    slowed by a third by things outside both, which a single pass would read as their ratio.
    """
    print(
        f"concurrency | keyq answers/s | bare answers/s | ratio | keyq p50/p95/p99 ms "
        f"| bare p99 | CPU ms per {unit} keyq/bare (ratio)  (medians of {rounds} alternating "
        "rounds)"
    )
    first = 0
    database_ms: list[str] = []
    for concurrency in (1, 8, 32):
        count = answers if concurrency > 1 else max(answers // 3, 20)
        rates: dict[str, list[float]] = {"keyq": [], "bare": []}
        cpus: dict[str, list[float]] = {"keyq": [], "bare": []}
        lat: dict[str, list[float]] = {"keyq": [], "bare": []}
        database_cpus: list[float] = []
        for _ in range(rounds):
            for name, (port, process) in (("keyq", keyq), ("bare", bare)):
                people = users(first, count)
                first += count
                watched = database and name == "keyq"  # only keyq uses the database
                cpu = cpu_seconds(process.pid)
                server = database_cpu_seconds() if watched else 0.0
                rate, latencies = asyncio.run(drive(port, people, concurrency, name == "keyq"))
                cpus[name].append((cpu_seconds(process.pid) - cpu) * 1000 / len(latencies))
                if watched:
                    served = database_cpu_seconds() - server
                    database_cpus.append(served * 1000 / len(latencies))
                rates[name].append(rate)
                lat[name] += latencies
        rate, base = statistics.median(rates["keyq"]), statistics.median(rates["bare"])
        q = statistics.quantiles(lat["keyq"], n=100)
        bare_p99 = statistics.quantiles(lat["bare"], n=100)[98]
        # The CPU ratio is the median of each round's own (keyq's pass against the baseline's
        # beside it), from unrounded figures: a slow spell on the machine slows both alike.
        ratio = statistics.median(k / b for k, b in zip(cpus["keyq"], cpus["bare"], strict=True))
        print(
            f"{concurrency:>11} | {rate:>14.1f} | {base:>14.1f} | {rate / base:>5.2f} | "
            f"{q[49] * 1000:.0f}/{q[94] * 1000:.0f}/{q[98] * 1000:.0f} | {bare_p99 * 1000:.0f} | "
            f"{statistics.median(cpus['keyq']):.2f}/{statistics.median(cpus['bare']):.2f} "
            f"({ratio:.2f}x)"
        )
        if database_cpus:
            database_ms.append(f"{statistics.median(database_cpus):.2f}")
    if database_ms:
        print(
            f"PostgreSQL's own CPU per {unit} during keyq's rounds (the baseline uses none), "
            f"at 1 / 8 / 32: {' / '.join(database_ms)} ms"
        )


@contextmanager
def private_schema(database: str | None) -> Iterator[str | None]:
    """A PostgreSQL URL pointing at a new, empty schema (dropped after), so each run starts
    clean and never touches what is already in that database; None stays None (SQLite)."""
    if database is None:
        yield None
        return
    with pg_schema(database, prefix="keyq_bench") as url:
        yield url


@contextmanager
def servers(
    keyq_env: dict[str, str], bare_args: list[str], database: str | None
) -> Iterator[tuple[tuple[int, subprocess.Popen[bytes]], tuple[int, subprocess.Popen[bytes]]]]:
    """`keyq serve` (with these settings, on SQLite in a temporary folder unless a database URL
    is given) and the bare baseline script, each on a free loopback port, stopped after."""
    with private_schema(database) as url:
        yield from _servers(keyq_env, bare_args, url, postgres=database is not None)


def telegram_settings(fake: FakeTelegram, *, rate: float) -> dict[str, str]:
    """keyq's Telegram settings for webhook mode against the fake, replies paced at ``rate``."""
    return {
        "KEYQ_TELEGRAM_TOKEN": TOKEN,
        "KEYQ_TELEGRAM_API_URL": fake.base_url,
        "KEYQ_TELEGRAM_WEBHOOK_URL": "https://keyq.example/telegram/webhook",
        "KEYQ_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "KEYQ_TELEGRAM_REPLY_RATE": f"{rate:g}",
    }


def keyq_environment(settings: dict[str, str], database: str, folder: Path) -> dict[str, str]:
    """The environment for `keyq serve`: this one without KEYQ_ settings, then these, quiet
    logs, the database and a key file in ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYQ_")}
    env.update(
        settings,
        KEYQ_LOG_LEVEL="WARNING",
        KEYQ_DATABASE_URL=database,
        KEYQ_KEYS_FILE=str(folder / "keyq.keys"),
    )
    return env


def start_keyq(env: dict[str, str], folder: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """`keyq serve` on a free loopback port, in ``folder`` (not waited for)."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "keyq"), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    return port, process


def _servers(
    keyq_env: dict[str, str], bare_args: list[str], database: str | None, *, postgres: bool
) -> Iterator[tuple[tuple[int, subprocess.Popen[bytes]], tuple[int, subprocess.Popen[bytes]]]]:
    folder = Path(tempfile.mkdtemp())
    env = keyq_environment(keyq_env, database or f"sqlite:///{folder / 'keyq.db'}", folder)
    keyq_port, keyq = start_keyq(env, folder)
    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-c", *bare_args, str(bare_port)], stderr=subprocess.DEVNULL
    )
    try:
        wait_up(keyq_port, keyq)
        wait_up(bare_port, bare)
        print(f"database: {'PostgreSQL' if postgres else 'SQLite'}")
        yield (keyq_port, keyq), (bare_port, bare)
    finally:
        for process in (keyq, bare):
            process.terminate()
            process.wait(10)


def arguments(*, telegram: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=None)
    if not telegram:
        return parser.parse_args()
    parser.add_argument(
        "--bare-transport",
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="the bare PTB baseline's HTTP client: PTB's own (httpx), or keyq's (aiohttp)",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments(telegram=True)
    fake = FakeTelegram().start()
    settings = telegram_settings(fake, rate=0)  # pacing off: the servers' own figures
    try:
        bare_args = [BARE, TOKEN, fake.base_url, args.bare_transport]
        with servers(settings, bare_args, args.database) as (keyq, bare):
            idle = rss_mb(keyq[1].pid), rss_mb(bare[1].pid)

            async def run(port: int, users: list[int], concurrency: int, keyq_side: bool) -> Any:
                return await drive(
                    port, fake, range(users[0], users[-1] + 1), concurrency, keyq=keyq_side
                )

            compare(
                keyq,
                bare,
                lambda first, count: list(range(10_000 + first, 10_000 + first + count)),
                run,
                args.answers,
                unit="delivery",
                rounds=args.rounds,
                database=args.database is not None,
            )
            print(
                f"RSS keyq {idle[0]:.0f} MB idle, {rss_mb(keyq[1].pid):.0f} MB after; "
                f"bare {idle[1]:.0f} MB idle, {rss_mb(bare[1].pid):.0f} MB after"
            )
        made = [m for m, p in fake.calls if str(p.get("chat_id")) == "10000"]
        print(f"bare baseline's transport: {args.bare_transport}; keyq's: aiohttp")
        print(
            f"Bot API calls for one keyq answer: {len(made)} ({made.count('sendMessage')} "
            "new message); callback answers ride the webhook responses"
        )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
