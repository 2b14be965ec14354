"""Naming the shape of representation by level: a cliff edge, a pyramid, or neither."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

CLIFF_DROP = 0.10
"""A single step down of at least this share (10 points) can be a cliff edge..."""
CLIFF_PART = 0.6
"""...when it makes up at least this part of the whole fall from the bottom level to the top."""
PYRAMID_FALL = 0.10
"""A pyramid falls at least this much overall, step by step."""
RISE_TOLERANCE = 0.02


class ShapeKind(StrEnum):
    CLIFF_EDGE = "cliff_edge"
    PYRAMID = "pyramid"
    NEITHER = "neither"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True, kw_only=True)
class Shape:
    """The call, the step where the fall is sharpest, and the figures behind it."""

    kind: ShapeKind
    shares: tuple[tuple[str, float], ...]
    steepest_from: str | None = None
    steepest_to: str | None = None
    steepest_drop: float | None = None
    total_fall: float | None = None

    def explain(self) -> str:
        """The call in words, with every figure behind it that may be shown."""
        figures = ", ".join(f"{level} {share:.0%}" for level, share in self.shares) or "none"
        if self.kind is ShapeKind.NOT_ENOUGH_DATA:
            return (
                "Not enough levels with a three-group total that can be shown to judge the "
                f"shape (shares that can be shown: {figures})."
            )
        drop = "" if self.steepest_drop is None else f" ({self.steepest_drop * 100:.0f} points)"
        fall = (
            ""
            if self.total_fall is None
            else f", {self.total_fall * 100:.0f} points from bottom to top"
        )
        where = f"between {self.steepest_from} and {self.steepest_to}{drop}"
        if self.kind is ShapeKind.CLIFF_EDGE:
            return (
                f"Cliff edge: the working-class share falls sharply {where}. "
                f"Shares that can be shown: {figures}."
            )
        if self.kind is ShapeKind.PYRAMID:
            return (
                f"Pyramid: the working-class share falls gradually{fall}; the biggest step "
                f"is {where}. Shares that can be shown: {figures}."
            )
        return (
            f"No cliff edge or pyramid{fall}; the biggest step is {where}. "
            f"Shares that can be shown: {figures}."
        )


def classify(shares: Sequence[tuple[str, float]]) -> Shape:
    """Names the shape of working-class shares listed from the bottom level to the top."""
    shares = tuple(shares)
    if len(shares) < 2:
        return Shape(kind=ShapeKind.NOT_ENOUGH_DATA, shares=shares)
    drops = [(shares[i][1] - shares[i + 1][1], i) for i in range(len(shares) - 1)]
    steepest, at = max(drops)
    fall = shares[0][1] - shares[-1][1]
    found = Shape(
        kind=ShapeKind.NEITHER,
        shares=shares,
        steepest_from=shares[at][0],
        steepest_to=shares[at + 1][0],
        steepest_drop=steepest,
        total_fall=fall,
    )
    others = [d for d, i in drops if i != at]
    if (
        steepest >= CLIFF_DROP
        and fall > 0
        and steepest >= CLIFF_PART * fall
        and all(d < steepest / 2 for d in others)
    ):
        return replace(found, kind=ShapeKind.CLIFF_EDGE)
    if (
        len(drops) >= 2
        and fall >= PYRAMID_FALL
        and all(d >= -RISE_TOLERANCE for d, _ in drops)
        and steepest < CLIFF_PART * fall
    ):
        return replace(found, kind=ShapeKind.PYRAMID)
    return found
