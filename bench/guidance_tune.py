"""Choosing the ranker's weights without looking at the held-out half.

Run: python bench/guidance_tune.py [--floors | --classifier]

Two-fold cross-validation inside the tuning half of guidance/eval.toml: the ranker learns from
one fold's questions and is scored on the other's, for each candidate setting. Off-topic
questions of the tuning half measure false answers. The held-out half is never read here.
--floors tries the floors a sentence with one of the guidance's words must reach instead;
--classifier the classifier's weight in the fused score, its penalty and its scale.

The sentence model keyq ships was fine-tuned on the whole tuning half, so here it has seen both
folds: the figures flatter every setting alike (use them to compare settings, not as estimates).
`python tools/finetune_model.py --cross-validate` fine-tunes per fold for an honest figure.
"""

from __future__ import annotations

import hashlib
import itertools
import sys

import guidance.classifier as classifier_module
import guidance.ranker as ranker_module
from bot.guide import ranked_as
from guidance.content import Audience, Question, guidance, questions
from guidance.ranker import Asker, Ranker


def fold_of(question: Question) -> int:
    """The cross-validation fold a tuning question is in (0 or 1), by a hash of its text."""
    return hashlib.sha256(question.text.encode()).digest()[1] % 2


def halves() -> tuple[list[list[Question]], list[Question]]:
    """The tuning half's on-topic questions in two folds, and its off-topic questions."""
    tune = [q for q in questions() if q.split == "tune"]
    on_topic = [q for q in tune if q.expect]
    folds = [[q for q in on_topic if fold_of(q) == k] for k in (0, 1)]
    return folds, [q for q in tune if not q.expect]


def learnt_from(
    folds: list[list[Question]], off_topic: list[Question], k: int
) -> tuple[Question, ...]:
    """What the ranker scored on fold k learns from: the other fold, off-topic questions too."""
    return (*folds[1 - k], *(q for q in off_topic if fold_of(q) != k))


def fold_rankers(folds: list[list[Question]], off_topic: list[Question]) -> list[Ranker]:
    """One ranker per fold, each learning from the other fold only."""
    return [Ranker(guidance(), examples=learnt_from(folds, off_topic, k)) for k in (0, 1)]


def fold_counts(
    ranker: Ranker, folds: list[list[Question]], off_topic: list[Question], k: int
) -> tuple[int, int, int, int, int]:
    """Fold k scored by a ranker that learnt from the other fold, its questions routed as keyq
    routes them: right first answers, right in the first three, questions, off-topic questions
    answered, off-topic questions."""
    asker = Asker(role=Audience.LINE_MANAGERS)
    right = three = 0
    for q in folds[k]:
        hits = ranker.search(ranked_as(q.text, asker, ranker.search), asker)
        right += bool(hits) and hits[0].key in q.expect
        three += any(h.key in q.expect for h in hits[:3])
    off = [q for q in off_topic if fold_of(q) == k]
    false = sum(bool(ranker.search(q.text, asker)) for q in off)
    return right, three, len(folds[k]), false, len(off)


def score(rankers: list[Ranker], folds: list[list[Question]], off_topic: list[Question]) -> str:
    """Cross-validated top-1 (each fold ranked by the ranker that learnt from the other)."""
    counts = [fold_counts(rankers[k], folds, off_topic, k) for k in (0, 1)]
    right, three, total, false, _ = (sum(c[i] for c in counts) for i in range(5))
    return (
        f"cross-validated top-1 {right / total:.1%}, top-3 {three / total:.1%}, "
        f"off-topic false {false / len(off_topic):.1%}"
    )


def floors() -> None:
    folds, off_topic = halves()
    rankers = fold_rankers(folds, off_topic)
    for one, asked in itertools.product((0.2, 0.22, 0.25, 0.28), (0.4, 0.45, 0.5, 1.0)):
        ranker_module.ONE_WORD_FLOOR = one
        ranker_module.ASKED_FLOOR = asked
        print(f"one word {one:<4} asked {asked:<4} {score(rankers, folds, off_topic)}")


def classifier() -> None:
    folds, off_topic = halves()
    for l2, scale in itertools.product((0.001, 0.01, 0.05), (5.0, 10.0, 20.0)):
        classifier_module.L2 = l2
        classifier_module.SCALE = scale
        rankers = fold_rankers(folds, off_topic)
        for weight in (0.0, 0.25, 0.5, 1.0, 1.5):
            ranker_module.CLASSIFIER_WEIGHT = weight
            result = score(rankers, folds, off_topic)
            print(f"l2 {l2:<5} scale {scale:<4} weight {weight:<4} {result}")


def main() -> None:
    if "--floors" in sys.argv:
        floors()
        return
    if "--classifier" in sys.argv:
        classifier()
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
        rankers = fold_rankers(folds, off_topic)
        print(
            f"examples {example_weight:<4} fact lean {fact_lean:<5} minimum {minimum:<4} "
            f"phrase {phrase:<4} dense {dense_weight:<4} {score(rankers, folds, off_topic)}"
        )


if __name__ == "__main__":
    main()
