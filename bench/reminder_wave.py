"""A reminder wave to 20,000 people against a local fake Telegram that enforces its limit.

Run: python bench/reminder_wave.py [--people N] [--rate R] [--database-url URL]

The fake answers 429 when more than R messages arrive in a second (Telegram allows about 30/s;
the default here is 200/s, about what this fake serves on one core, so 20,000 take under two
minutes; keyq is set to the same limit). It
prints the achieved rate as a share of the limit (target >= 95%), the 429s, duplicates
(target 0) and lost sends (target 0).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import build
from bot.settings import Settings
from tests.fakes.telegram_api import TOKEN, FakeTelegram

MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


async def main(people: int, rate: float, url: str | None, folder: Path) -> None:
    fake = FakeTelegram().start()
    fake.rate_limit = rate
    now = [MONDAY_10 - dt.timedelta(hours=1)]
    settings = Settings(
        database_url=url or f"sqlite:///{folder / 'bench.db'}",
        keys_file=folder / "bench.keys",
        config=folder / "none.toml",
        telegram_token=TOKEN,
        telegram_api_url=fake.base_url,
        telegram_rate=rate,
        telegram_reply_rate=0,  # no replies in this run: reminders may use the whole limit
    )
    app = await build(settings, clock=lambda: now[0])
    try:
        start = time.perf_counter()
        async with app.store.unit() as unit:
            for n in range(people):
                user = str(9_000_000_000 + n)
                await unit.touch_contact(
                    app.store.keys.tag("person", "telegram", "", user),
                    "telegram",
                    {"user": user, "workspace": "", "address": user},
                )
        print(f"people: {people:,}  limit: {rate:g}/s  database: {app.store.engine.dialect.name}")
        print(f"contacts stored in {time.perf_counter() - start:.1f} s")
        await app.reminders.add("bench", "every monday at 10:00")
        now[0] = MONDAY_10
        start = time.perf_counter()
        waves = await app.reminders.run_due(MONDAY_10)
        elapsed = time.perf_counter() - start
        wave = waves[0]
        chats = [int(p["chat_id"]) for m, p in fake.calls if m == "sendMessage"]
        times = fake.sent_times
        achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        print(f"wave (audience, outbox and sending) took {elapsed:.1f} s")
        print(f"sent: {wave.reached:,} of {people:,}")
        print(
            f"achieved rate: {achieved:.0f}/s = {achieved / rate:.1%} of the limit (target >= 95%)"
        )
        print(f"429 answers: {fake.too_many + sum(1 for m, _ in fake.calls if m == '429')}")
        print(f"duplicates: {len(chats) - len(set(chats))} (target 0)")
        print(f"lost: {people - len(set(chats))} (target 0)")
    finally:
        await app.close()
        fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args.people, args.rate, args.database_url, Path(tmp)))
