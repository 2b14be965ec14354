"""The hot path as operators run it: two replicas, a long reader, the pace, memory.

Run: python bench/hot_path.py [--database postgresql://postgres@127.0.0.1:5432/test]
     [--people 600] [--rss-answers 10000] [--reader-rounds 5]

Every figure comes from `keyq serve` processes on one PostgreSQL database (a private schema,
dropped after) and the loopback fake Bot API, driven through the Telegram webhook. Without
--database, parts 2 and 3 run on one process on a SQLite file (the long reader is a read
transaction on the file); parts 1 and 4 need several processes on one database, PostgreSQL's.

1. Two replicas, pacing off: people are spread over both; every fifth person's last tap is
   delivered a second time, to the other replica (as a retrying load balancer would). The
   database must then hold exactly one answer and one participation row per person.
2. A long reader: the same load on one replica with, and without, a REPEATABLE READ
   transaction held open on another connection the whole time (a report or a backup), in
   alternating rounds of 300 answers. The ratio of the two median rates is the figure
   (target >= 80%).
3. Memory: one replica's RSS idle and after --rss-answers whole answers.
4. The pace: two replicas with KEYQ_TELEGRAM_REPLY_RATE=10 answer a crowd at once; the fake
   counts new messages in every one-second window (never more than 10 plus one at an edge)
   and the overall rate as a share of the pace (target 100%).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.telegram_webhook import (  # noqa: E402
    SECRET,
    driver,
    keyq_environment,
    private_schema,
    rss_mb,
    start_keyq,
    telegram_settings,
    wait_up,
)
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

UPDATE_IDS = itertools.count(1)


@contextmanager
def replicas(
    count: int, database: str, fake: FakeTelegram, folder: Path, rate: float
) -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    """``count`` `keyq serve` processes on one database and one key file."""
    env = keyq_environment(telegram_settings(fake, rate=rate), database, folder)
    started: list[tuple[int, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(count):  # one after the other: the first creates the key file
            port, process = start_keyq(env, folder)
            started.append((port, process))
            wait_up(port, process)
        yield started
    finally:
        for _, process in started:
            process.terminate()
            process.wait(10)


async def answer_all(
    ports: list[int], fake: FakeTelegram, people: range, concurrency: int, *, again: int = 0
) -> float:
    """Whole answers a second: /start, "Answer now", an option; person n on replica n % 2.
    With ``again``, every ``again``-th person's last tap is delivered once more, to the other
    replica."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)

    async def post(client: aiohttp.ClientSession, port: int, update: dict[str, object]) -> None:
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        async with client.post(url, json=update, headers=headers) as response:
            await response.read()
        assert response.status == 200, response.status

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            person = queue.get_nowait()
            port = ports[person % len(ports)]
            await post(client, port, {"update_id": next(UPDATE_IDS), **fake.text(person, "/start")})
            for label in ("Answer now", "Other"):
                message_id, buttons = fake.last_keyboard(person)
                update = {
                    "update_id": next(UPDATE_IDS),
                    **fake.tap(person, dict(buttons)[label], message_id),
                }
                await post(client, port, update)
            if again and person % again == 0:
                await post(client, ports[(person + 1) % len(ports)], update)

    started = time.perf_counter()
    async with driver(concurrency) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return len(people) / (time.perf_counter() - started)


def counted(database: str) -> tuple[int, int]:
    """(answers held, participation rows) in the bench's schema."""
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        answers = conn.scalar(sa.text("SELECT count(*) FROM answers"))
        pending = conn.scalar(sa.text("SELECT count(*) FROM pending_answers"))
        people = conn.scalar(sa.text("SELECT count(*) FROM participation"))
    engine.dispose()
    return int(answers or 0) + int(pending or 0), int(people or 0)


@contextmanager
def long_reader(database: str) -> Iterator[None]:
    """A REPEATABLE READ transaction, with its snapshot taken, open until the block ends (on
    SQLite, a read transaction that holds its snapshot of the file)."""
    if database.startswith("sqlite"):
        reader = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM pending_answers").fetchall()
        try:
            yield
        finally:
            reader.execute("ROLLBACK")
            reader.close()
        return
    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    conn = engine.connect()
    conn.execute(sa.text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
    conn.execute(sa.text("SELECT count(*) FROM pending_answers"))
    try:
        yield
    finally:
        conn.execute(sa.text("ROLLBACK"))
        conn.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="a PostgreSQL URL (SQLite when left out)")
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--rss-answers", type=int, default=10_000)
    parser.add_argument("--reader-rounds", type=int, default=5)
    args = parser.parse_args()
    fake = FakeTelegram().start()
    first = itertools.count(100_000, 100_000)
    try:
        with private_schema(args.database) as url, ExitStack() as stack:
            folder = Path(tempfile.mkdtemp())
            postgres = url is not None
            url = url or f"sqlite:///{folder / 'keyq.db'}"
            servers = stack.enter_context(replicas(2 if postgres else 1, url, fake, folder, 0))
            ports = [port for port, _ in servers]
            print(f"database: {'PostgreSQL' if postgres else 'SQLite'}")

            if postgres:
                start = next(first)
                people = range(start, start + args.people)
                rate = asyncio.run(answer_all(ports, fake, people, 16, again=5))
                held, joined = counted(url)
                print(
                    f"1. two replicas, pacing off: {rate:.1f} answers/s; {args.people} people, "
                    f"{args.people // 5} last taps delivered twice to the other replica; "
                    f"answers held {held}, participation rows {joined} "
                    f"({'each counted once' if held == joined == args.people else 'MISMATCH'})"
                )

            # Alternating rounds without and with the reader: one pair of 300 answers (about
            # a second each) read anywhere from 74% to 100% on one machine in one hour.
            plain_rates, open_rates = [], []
            for _ in range(args.reader_rounds):
                start = next(first)
                people = range(start, start + 300)
                plain_rates.append(asyncio.run(answer_all(ports[:1], fake, people, 16)))
                with long_reader(url):
                    start = next(first)
                    people = range(start, start + 300)
                    open_rates.append(asyncio.run(answer_all(ports[:1], fake, people, 16)))
            plain, held_open = statistics.median(plain_rates), statistics.median(open_rates)
            pairs = [o / p for o, p in zip(open_rates, plain_rates, strict=True)]
            print(
                f"2. long {'REPEATABLE READ' if postgres else 'read'} reader: "
                f"{held_open:.1f} answers/s with it, {plain:.1f} without (medians of "
                f"{args.reader_rounds} alternating rounds): {held_open / plain:.0%} "
                f"(target >= 80%; round by round {min(pairs):.0%}-{max(pairs):.0%})"
            )

            before = rss_mb(servers[0][1].pid)
            start = next(first)
            asyncio.run(answer_all(ports[:1], fake, range(start, start + args.rss_answers), 32))
            print(
                f"3. RSS of one replica: {before:.0f} MB idle, "
                f"{rss_mb(servers[0][1].pid):.0f} MB after {args.rss_answers} more answers"
            )
            stack.close()
            if not postgres:
                return

            paced = stack.enter_context(replicas(2, url, fake, folder, rate=10))
            mark = len(fake.sent_times)
            start = next(first)
            asyncio.run(answer_all([p for p, _ in paced], fake, range(start, start + 60), 32))
            times = sorted(fake.sent_times[mark:])
            busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            achieved = (len(times) - 1) / (times[-1] - times[0])
            print(
                f"4. two replicas at KEYQ_TELEGRAM_REPLY_RATE=10: {len(times)} new messages, "
                f"busiest second {busiest}, overall {achieved:.2f}/s = {achieved / 10:.0%} "
                "of the pace"
            )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
