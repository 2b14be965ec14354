"""How long a full protected report takes over 1,000,000 stored answers, against plain SQL.

Run: python bench/report_1m.py [--answers N] [--database-url URL]

It stores N sealed answers (default 1,000,000) spread over levels, functions and locations,
then times, in the same run:

- baseline: one plain SQL GROUP BY over N unencrypted rows of the same four columns;
- report: a full report (every breakdown, disclosure control, snapshot, text/CSV/JSON);
- recount: rebuilding the sealed tally by opening all N answers (what a report would cost
  without the tally that each batch updates as it is stored).

The target is a full report within 5x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from bot.app import build
from bot.reporting import render
from bot.settings import Settings
from storage.tables import Answer

LEVELS = ["Apprentice", "Frontline", "Team leader", "Manager", "Senior manager", "Director"]
FUNCTIONS = ["Operations", "Sales", "Finance", "Technology", "People"]
LOCATIONS = ["North", "Midlands", "South", "Scotland", "Wales"]
OPTIONS = ["prof", "mgr", "clerical", "craft", "routine", "unemployed", "smallbiz", "other", "pnts"]
CONFIG = f"""
[organisation]
name = "Bench Ltd"
sector = "financial_services"
[followups.level]
question = "Level?"
options = {json.dumps(LEVELS)}
[followups.function]
question = "Function?"
options = {json.dumps(FUNCTIONS)}
[followups.location]
question = "Location?"
options = {json.dumps(LOCATIONS)}
"""


def crowd(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {
            "kq": rng.choice(OPTIONS),
            "level": rng.choice(LEVELS),
            "function": rng.choice(FUNCTIONS),
            "location": rng.choice(LOCATIONS),
        }
        for _ in range(n)
    ]


def timed(label: str, seconds: float) -> float:
    print(f"{label:<52} {seconds:8.3f} s")
    return seconds


async def main(n: int, url: str | None, workdir: Path) -> None:
    (workdir / "keyq.toml").write_text(CONFIG, encoding="utf-8")
    settings = Settings(
        database_url=url or f"sqlite:///{workdir / 'bench.db'}",
        keys_file=workdir / "bench.keys",
        config=workdir / "keyq.toml",
    )
    app = await build(settings)
    answers = crowd(n)
    print(f"answers: {n:,}  database: {app.store.engine.dialect.name}")

    start = time.perf_counter()
    ring = app.store.keys.answers
    rows = []
    for answer in answers:
        key_id, sealed = ring.seal(json.dumps(answer, sort_keys=True).encode(), "answer|workforce")
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "campaign_id": "workforce",
                "month": "2026-11",
                "schema_version": 1,
                "key_id": key_id,
                "sealed": sealed,
            }
        )
    async with app.store.engine.begin() as conn:
        for i in range(0, n, 50_000):
            await conn.execute(sa.insert(Answer), rows[i : i + 50_000])
        await conn.execute(sa.text("DROP TABLE IF EXISTS bench_plain"))
        await conn.execute(
            sa.text(
                "CREATE TABLE bench_plain (kq VARCHAR(12), level VARCHAR(30),"
                " function VARCHAR(30), location VARCHAR(30))"
            )
        )
        plain = [{k: a[k] for k in ("kq", "level", "function", "location")} for a in answers]
        for i in range(0, n, 50_000):
            await conn.execute(
                sa.text("INSERT INTO bench_plain VALUES (:kq, :level, :function, :location)"),
                plain[i : i + 50_000],
            )
    del rows, plain
    timed("store (seal and insert, plus the plain copy)", time.perf_counter() - start)

    recount = timed(
        "recount: open all answers into the tally",
        await _time(app.store.rebuild_tally("workforce")),
    )

    async def baseline() -> None:
        async with app.store.engine.connect() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT kq, level, function, location, count(*) FROM bench_plain "
                    "GROUP BY kq, level, function, location"
                )
            )
            assert sum(r[4] for r in result) == n

    async def report() -> None:
        full = await app.report(publish=True)
        for output in (render.text, render.csv_text, render.json_text):
            output(full)
        assert full.overall.answers == n

    base = min([timed("baseline: plain SQL GROUP BY", await _time(baseline())) for _ in range(3)])
    # The first run publishes (disclosure control included); later ones reuse that snapshot.
    full = max(
        [
            timed("report: every breakdown, protected, all formats", await _time(report()))
            for _ in range(3)
        ]
    )
    await app.close()
    print()
    print(f"report / baseline: {full / base:.2f}x (target: within 5x)")
    print(f"recount / baseline: {recount / base:.2f}x (the cost without the sealed tally)")


async def _time(work: object) -> float:
    start = time.perf_counter()
    await work  # type: ignore[misc]
    return time.perf_counter() - start


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(args.answers, args.database_url, Path(folder)))
