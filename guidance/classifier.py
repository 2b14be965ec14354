"""Which block or fact a question is for, learnt from sentence vectors (softmax regression).

The nearest tuning question votes for its answer in the ranker (guidance/ranker.py); one
close neighbour is easily the wrong one. This classifier learns from all of them at once, and
from the tips' and facts' own texts: one weight vector a label (a building block or a fact)
over the sentence model's 384 dimensions, fitted by plain gradient descent with Adam steps and
an L2 penalty. Its probability for an item's label is added to the item's fused score, so it
reorders what the ranker found relevant; it never makes an off-topic question relevant.

Written here rather than taken from scikit-learn: it is 30 lines of numpy, keyq already needs
numpy, and scikit-learn with scipy would add about 100 MB to an install whose budget for
guidance is 150 MB (120 MB used).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

SCALE = 10.0
"""Vectors are unit length; scaled up so that a few steps reach confident probabilities."""
L2 = 0.01
"""The penalty on the weights: a label learnt from a dozen questions should not overfit them.
SCALE, L2 and the ranker's CLASSIFIER_WEIGHT were chosen together by cross-validation on the
tuning half (bench/guidance_tune.py --classifier)."""
STEPS = 300
RATE = 0.1
_learnt: dict[bytes, Classifier] = {}
"""Classifiers already fitted in this process, by what they learnt from (tests and benches
build many rankers from the same texts; fitting takes about a tenth of a second)."""


class Classifier:
    """Probabilities of each label for a sentence vector."""

    def __init__(self, labels: list[str], weights: NDArray[np.float32], scale: float) -> None:
        self.labels = labels
        self._weights = weights
        self._scale = np.float32(scale)

    def probabilities(self, vector: NDArray[np.float32]) -> dict[str, float]:
        logits = np.append(vector * self._scale, np.float32(1.0)) @ self._weights
        odds = np.exp(logits - logits.max())
        return dict(zip(self.labels, (odds / odds.sum()).tolist(), strict=True))


def learn(vectors: NDArray[np.float32], targets: list[str]) -> Classifier:
    """A classifier fitted to unit vectors and each one's label (fitted once per process for
    the same inputs)."""
    settings = f"{SCALE} {L2} {STEPS} {RATE}\n".encode()
    key = hashlib.sha256(settings + vectors.tobytes() + "\n".join(targets).encode()).digest()
    if key not in _learnt:
        labels = sorted(set(targets))
        index = {label: n for n, label in enumerate(labels)}
        weights = _fit(vectors, [index[t] for t in targets], len(labels))
        _learnt[key] = Classifier(labels, weights, SCALE)
    return _learnt[key]


def _fit(vectors: NDArray[np.float32], targets: list[int], n_labels: int) -> NDArray[np.float32]:
    x = np.hstack([vectors * np.float32(SCALE), np.ones((len(vectors), 1), dtype=np.float32)])
    truth = np.eye(n_labels, dtype=np.float32)[targets]
    weights = np.zeros((x.shape[1], n_labels), dtype=np.float32)
    mean = np.zeros_like(weights)
    square = np.zeros_like(weights)
    for step in range(1, STEPS + 1):
        logits = x @ weights
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        odds /= odds.sum(axis=1, keepdims=True)
        gradient = x.T @ (odds - truth) / len(x) + L2 * weights
        mean = 0.9 * mean + 0.1 * gradient
        square = 0.999 * square + 0.001 * gradient * gradient
        weights -= (
            RATE * (mean / (1 - 0.9**step)) / (np.sqrt(square / (1 - 0.999**step)) + 1e-8)
        ).astype(np.float32)
    return weights
