"""The engine alone: CPU per turn, with no platform and no HTTP, against the database floor.

Run: python bench/engine_turn.py [--people 400] [--database postgresql://...] [--profile]

Each person makes the three turns of a whole answer through `Engine.handle` (/start, "Answer
now", an option), as the channels call it. Statements are counted as the driver sends them
(transaction control apart; on PostgreSQL the batch moves every tenth answer count too). The
floor, measured in the same run on the same connections, is a turn's transaction, opened and
committed as a turn's is, with as many trivial statements (`SELECT 1`) as the turn made, so
"over the floor" is what keyq's own statements and logic add to the round trips any turn of
that many statements would pay; one statement's round trip is timed alone too (on PostgreSQL
it is most of what a statement costs). --profile prints keyq's own functions
from a cProfile of the turns, by cumulative time (wall time: waits on the database count).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.telegram_webhook import private_schema  # noqa: E402
from bot.app import App, build  # noqa: E402
from bot.events import Channel  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.driver import Person  # noqa: E402
from tests.sqlcount import sql_sent  # noqa: E402


async def answer(app: App, name: str, option: str) -> None:
    """One person's whole answer: the three turns."""
    person = Person(app.engine, name, channel=Channel.TELEGRAM)
    await person.say("/start")
    await person.tap("answer now")
    await person.tap(option)


async def measure(url: str, folder: Path, people: int, profile: bool) -> None:
    settings = Settings(
        database_url=url, keys_file=folder / "keyq.keys", config=folder / "keyq.toml"
    )
    app = await build(settings)
    try:
        for warm in range(20):  # connections, prepared statements, caches
            await answer(app, f"warm-{warm}", "clerical")
        profiler = cProfile.Profile() if profile else None
        turns = 0
        started = time.process_time()
        if profiler:
            profiler.enable()
        for i in range(people):
            await answer(app, f"person-{i}", "clerical" if i % 2 else "routine")
            turns += 3
        if profiler:
            profiler.disable()
        keyq_cpu = (time.process_time() - started) / turns * 1000
        with sql_sent(app.store) as sent:  # counted apart: a query logger costs CPU too
            for i in range(100):
                await answer(app, f"counted-{i}", "clerical")
            await sent.caught_up()
        per_turn = len(sent.statements) / 300

        whole = round(per_turn)
        one = sa.text("SELECT 1")
        started = time.process_time()
        for _ in range(turns):
            async with app.store.unit() as unit:  # the turn's own way in and out
                for _ in range(whole):
                    await unit._conn.execute(one)
        floor_cpu = (time.process_time() - started) / turns * 1000
        trips = 2000
        async with app.store.unit() as unit:
            started = time.process_time()
            for _ in range(trips):
                await unit._conn.execute(one)
            trip_cpu = (time.process_time() - started) / trips * 1e6
    finally:
        await app.close()
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"database: {kind}; {people} people, {turns} turns")
    print(f"SQL statements per turn: {per_turn:.2f}")
    print(f"keyq CPU per turn: {keyq_cpu:.2f} ms")
    print(f"floor (one transaction of {whole} x SELECT 1): {floor_cpu:.2f} ms")
    print(f"keyq over the floor: {keyq_cpu - floor_cpu:.2f} ms ({keyq_cpu / floor_cpu:.2f}x)")
    print(f"one round trip (SELECT 1 on a turn's connection): {trip_cpu:.0f} us of CPU")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(r"(bot|storage|guidance|survey)/", 40)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--database")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, private_schema(args.database) as scoped:
        url = scoped or f"sqlite+aiosqlite:///{Path(folder) / 'keyq.db'}"
        asyncio.run(measure(url, Path(folder), args.people, args.profile))


if __name__ == "__main__":
    main()
