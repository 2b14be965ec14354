"""How publishing a report snapshot slows as the published history grows.

Run: python bench/report_history.py [--snapshots N] [--seed S]

Every figure a snapshot shows is checked against every snapshot published before it (a sound
attacker solves linear programmes over all of them together: bot/disclosure.py), so each new
snapshot costs more than the last. This publishes N snapshots (default 12) of one organisation
with three follow-ups (3 levels, 2 functions, 2 locations), adding a few small groups of answers
between each, as a busy year-round campaign would between daily snapshots, and prints the time
disclosure control took for each, against the first (no history) in the same run.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bot.disclosure import Sheet, protect
from bot.flow import Survey
from bot.orgconfig import OrgConfig
from bot.reporting.figures import build
from bot.reporting.snapshots import banded
from survey.content import messages, question

DIMENSIONS = {"level": ["A", "B", "C"], "function": ["X", "Y"], "location": ["N", "S"]}
OPTIONS = ["prof", "mgr", "clerical", "routine", "craft", "other", "pnts"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    followups = {d: {"question": f"{d}?", "options": o} for d, o in DIMENSIONS.items()}
    org = OrgConfig.model_validate({"followups": followups})
    survey = Survey(question=question(), messages=messages(), org=org)
    units = {d: survey.org.report_units(d) for d in survey.org.followups}
    cells = [
        (o, level, function, location)
        for o in OPTIONS
        for level in ("A", "B", "C", "")
        for function in ("X", "Y", "")
        for location in ("N", "S")
    ]
    tally: dict[Any, int] = {cell: rng.randint(0, 30) for cell in rng.sample(cells, 25)}
    sheets: list[Sheet[Any]] = []
    first = 0.0
    print("snapshot  figures  hidden  seconds  x the first")
    for n in range(1, args.snapshots + 1):
        for _ in range(rng.randint(1, 6)):
            cell = rng.choice(cells)
            tally[cell] = tally.get(cell, 0) + rng.randint(1, 12)
        values, lines, _ = build(banded(tally, survey), survey.question, units)
        started = time.perf_counter()
        hidden = protect(values, lines, 10, earlier=sheets)
        took = time.perf_counter() - started
        first = first or took
        sheets.append(Sheet(values, lines, hidden))
        print(f"{n:8}  {len(values):7}  {len(hidden):6}  {took:7.2f}  {took / first:11.0f}")


if __name__ == "__main__":
    main()
