"""Loads and validates the guidance data (tips and blocks) and the evaluation questions."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Audience(StrEnum):
    """Who a tip suits."""

    LEADERS = "leaders"
    LINE_MANAGERS = "line_managers"
    HR = "hr"
    SMALL_ORGS = "small_orgs"


class Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=30)
    summary: str


class Tip(BaseModel):
    """One actionable tip, in our own words, with where in the sources it rests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][0-9]{1,2}$")
    block: str
    title: str = Field(max_length=60)
    text: str
    why: str
    suits: tuple[Audience, ...] = Field(min_length=1)
    tags: tuple[str, ...]
    source: str


class Guidance(BaseModel):
    """Every block and tip."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    blocks: dict[str, Block]
    tips: tuple[Tip, ...]

    @model_validator(mode="after")
    def _check(self) -> Guidance:
        ids = [t.id for t in self.tips]
        if len(set(ids)) != len(ids):
            raise ValueError("tip ids must be unique")
        unknown = {t.block for t in self.tips} - set(self.blocks)
        if unknown:
            raise ValueError(f"tips name unknown blocks: {sorted(unknown)}")
        return self

    def tip(self, tip_id: str) -> Tip | None:
        return next((t for t in self.tips if t.id == tip_id), None)


class Fact(BaseModel):
    """A short, sourced answer about the method or about keyq (guidance/facts.toml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^f_[a-z_]+$")
    audience: str = Field(pattern=r"^(staff|managers|all)$")
    title: str = Field(max_length=60)
    answer: str = Field(max_length=600)
    source: str
    phrases: tuple[str, ...] = Field(min_length=1)


LAST_BATCH = 32
"""The newest batch of evaluation questions (guidance/eval.toml); the benches label each batch
by its number up to this one."""


class Question(BaseModel):
    """One evaluation question: what a right first answer comes from, and its fixed half."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    expect: tuple[str, ...]
    split: str = Field(pattern=r"^(tune|held)$")
    batch: int = Field(default=1, ge=1, le=LAST_BATCH)


def _load(name: str) -> dict[str, Any]:
    with resources.files(__package__).joinpath(name).open("rb") as f:
        return tomllib.load(f)


@cache
def guidance() -> Guidance:
    """The guidance as shipped (validated once)."""
    return Guidance.model_validate(_load("tips.toml"))


@cache
def facts() -> tuple[Fact, ...]:
    """The facts as shipped (validated once)."""
    return tuple(Fact.model_validate(f) for f in _load("facts.toml")["facts"])


@cache
def questions() -> tuple[Question, ...]:
    """The evaluation questions (guidance/eval.toml), both halves and the off-topic ones."""
    return tuple(Question.model_validate(q) for q in _load("eval.toml")["q"])
