"""Leaving each batch out: how a change to the ranker is judged on the tuning half.

Run: python bench/guidance_batches.py [--misses] [--batches 24,25]

For each batch of guidance/eval.toml, a ranker whose examples are the tuning half without that
batch scores the batch's tuning questions, routed as keyq routes them (a "what next?" question
without data is ranked as the plan question), as a new batch would be scored. It prints each
batch's right first answers, the total, the right answers in the first three and the off-topic
questions answered. --misses lists the questions that missed. The held-out half is never read.
The sentence model saw every tuning question, so these figures flatter (alike for both sides
of a change); `guidance_quality.py --fresh N` scores a new batch before it joins.
"""

from __future__ import annotations

import sys

from bot.guide import ranked_as
from guidance.content import Audience, guidance, questions
from guidance.ranker import Asker, Ranker


def main() -> None:
    misses = "--misses" in sys.argv
    only: set[int] | None = None
    if "--batches" in sys.argv:
        only = {int(b) for b in sys.argv[sys.argv.index("--batches") + 1].split(",")}
    tune = [q for q in questions() if q.split == "tune"]
    asker = Asker(role=Audience.LINE_MANAGERS)
    right = asked = three = false = off = 0
    per_batch = []
    for batch in sorted({q.batch for q in tune} if only is None else only):
        ranker = Ranker(guidance(), examples=tuple(q for q in tune if q.batch != batch))
        batch_right = batch_asked = 0
        for q in (q for q in tune if q.batch == batch):
            hits = ranker.search(ranked_as(q.text, asker, ranker.search), asker)
            keys = [h.key for h in hits[:3]]
            if not q.expect:
                off += 1
                false += bool(keys)
                if keys and misses:
                    print(f"batch {batch}, off-topic answered: {q.text!r} -> {keys}")
                continue
            first = bool(keys) and keys[0] in q.expect
            batch_right += first
            batch_asked += 1
            three += bool(set(keys) & set(q.expect))
            if not first and misses:
                print(f"batch {batch}: {q.text!r} expects {list(q.expect)}, got {keys}")
        per_batch.append(f"{batch}: {batch_right}/{batch_asked}")
        right += batch_right
        asked += batch_asked
    print("by batch:", ", ".join(per_batch))
    print(
        f"right first {right} of {asked} ({right / max(asked, 1):.1%}), in the first three "
        f"{three}, off-topic answered {false} of {off}"
    )


if __name__ == "__main__":
    main()
