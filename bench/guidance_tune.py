"""Choosing the ranker's weights without looking at the held-out half.

Run: python bench/guidance_tune.py

Two-fold cross-validation inside the tuning half of guidance/eval.toml: the ranker learns from
one fold's questions and is scored on the other's, for each candidate setting. Off-topic
questions of the tuning half measure false answers. The held-out half is never read here.
"""

from __future__ import annotations

import hashlib
import itertools

import guidance.ranker as ranker_module
from bot.guide import NEXT_QUERY, is_next
from guidance.content import Audience, guidance, questions
from guidance.ranker import Asker, Ranker


def main() -> None:
    tune = [q for q in questions() if q.split == "tune"]
    on_topic = [q for q in tune if q.expect]
    off_topic = [q for q in tune if not q.expect]
    folds = [
        [q for q in on_topic if hashlib.sha256(q.text.encode()).digest()[1] % 2 == k]
        for k in (0, 1)
    ]
    asker = Asker(role=Audience.LINE_MANAGERS)
    grid = itertools.product(
        (0.0, 0.5, 1.0), (1.0, 1.35), (2.5,), (2.0,), (0.0, 2.0, 3.0, 4.0, 5.0)
    )
    for example_weight, fact_lean, minimum, phrase, dense_weight in grid:
        ranker_module.EXAMPLE_WEIGHT = example_weight
        ranker_module.FACT_LEAN = fact_lean
        ranker_module.MINIMUM_SCORE = minimum
        ranker_module.PHRASE_BONUS = phrase
        ranker_module.DENSE_WEIGHT = dense_weight
        right = total = false = 0
        for k in (0, 1):
            ranker = Ranker(guidance(), examples=tuple(folds[1 - k]))
            for q in folds[k]:
                asked = NEXT_QUERY if is_next(q.text, asker, with_data=False) else q.text
                hits = ranker.search(asked, asker)
                right += bool(hits) and hits[0].key in q.expect
                total += 1
            false += sum(bool(ranker.search(q.text, asker)) for q in off_topic)
        print(
            f"examples {example_weight:<4} fact lean {fact_lean:<5} minimum {minimum:<4} "
            f"phrase {phrase:<4} dense {dense_weight:<4} "
            f"cross-validated top-1 {right / total:.1%}, "
            f"off-topic false {false / (2 * len(off_topic)):.0%}"
        )


if __name__ == "__main__":
    main()
