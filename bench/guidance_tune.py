"""Choosing the ranker's weights without looking at the held-out half.

Run: python bench/guidance_tune.py [--floors]

Two-fold cross-validation inside the tuning half of guidance/eval.toml: the ranker learns from
one fold's questions and is scored on the other's, for each candidate setting. Off-topic
questions of the tuning half measure false answers. The held-out half is never read here.
--floors tries the floors a sentence with one of the guidance's words must reach instead.
"""

from __future__ import annotations

import hashlib
import itertools
import sys

import guidance.ranker as ranker_module
from bot.guide import NEXT_QUERY, is_next
from guidance.content import Audience, Question, guidance, questions
from guidance.ranker import Asker, Ranker


def halves() -> tuple[list[list[Question]], list[Question]]:
    """The tuning half's on-topic questions in two folds, and its off-topic questions."""
    tune = [q for q in questions() if q.split == "tune"]
    on_topic = [q for q in tune if q.expect]
    folds = [
        [q for q in on_topic if hashlib.sha256(q.text.encode()).digest()[1] % 2 == k]
        for k in (0, 1)
    ]
    return folds, [q for q in tune if not q.expect]


def score(rankers: list[Ranker], folds: list[list[Question]], off_topic: list[Question]) -> str:
    """Cross-validated top-1 (each fold ranked by the ranker that learnt from the other)."""
    asker = Asker(role=Audience.LINE_MANAGERS)
    right = total = false = 0
    for k in (0, 1):
        for q in folds[k]:
            asked = NEXT_QUERY if is_next(q.text, asker, with_data=False) else q.text
            hits = rankers[k].search(asked, asker)
            right += bool(hits) and hits[0].key in q.expect
            total += 1
        false += sum(bool(rankers[k].search(q.text, asker)) for q in off_topic)
    return (
        f"cross-validated top-1 {right / total:.1%}, "
        f"off-topic false {false / (2 * len(off_topic)):.1%}"
    )


def floors() -> None:
    folds, off_topic = halves()
    rankers = [Ranker(guidance(), examples=tuple(folds[1 - k])) for k in (0, 1)]
    for one, asked in itertools.product((0.2, 0.22, 0.25, 0.28), (0.4, 0.45, 0.5, 1.0)):
        ranker_module.ONE_WORD_FLOOR = one
        ranker_module.ASKED_FLOOR = asked
        print(f"one word {one:<4} asked {asked:<4} {score(rankers, folds, off_topic)}")


def main() -> None:
    if "--floors" in sys.argv:
        floors()
        return
    folds, off_topic = halves()
    grid = itertools.product(
        (0.0, 0.5, 1.0), (1.0, 1.35), (2.5,), (2.0,), (0.0, 2.0, 3.0, 4.0, 5.0)
    )
    for example_weight, fact_lean, minimum, phrase, dense_weight in grid:
        ranker_module.EXAMPLE_WEIGHT = example_weight
        ranker_module.FACT_LEAN = fact_lean
        ranker_module.MINIMUM_SCORE = minimum
        ranker_module.PHRASE_BONUS = phrase
        ranker_module.DENSE_WEIGHT = dense_weight
        rankers = [Ranker(guidance(), examples=tuple(folds[1 - k])) for k in (0, 1)]
        print(
            f"examples {example_weight:<4} fact lean {fact_lean:<5} minimum {minimum:<4} "
            f"phrase {phrase:<4} dense {dense_weight:<4} {score(rankers, folds, off_topic)}"
        )


if __name__ == "__main__":
    main()
