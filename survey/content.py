"""Loads and validates the survey's data files (question, options, groups, messages)."""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

EARNER = (
    r"\b(?:mum|mom|mother|dad|father|parents?|step ?(?:dad|mum|father|mother)|gran|granny|"
    r"nan|nana|nanna|grandma|grandad|grandpa|grandmother|grandfather|grandparents?|aunt|auntie"
    r"|aunty|uncle|foster (?:mum|dad|parents?)|guardian|main earner|household|mam|mammy"
    r"|(?:my|me) (?:ma|da|old man|old dear|folks))\b"
)
"""Words naming the person the key question is about (a pattern, case-folded text): whoever
brought up the person, grandparents, aunts and foster parents too ("nanny" and "carer" are
jobs), as people say them in the north, Scotland and Ireland as well ("my mam", "me da"; not
"pa", which is a job: a PA; "my folks", not "folks", which may be anyone)."""
NAMES_EARNER = re.compile(EARNER)
RUNS_BUSINESS = re.compile(
    r"\b(?:ran|run|runs|running|owned|owns|had|has|kept|set up|started)\s+"
    r"(?:(?:his|her|their|a|an|the|our|my|own|small|little|tiny|local|family|one)\s+){0,3}"
    r"(?:(?!(?:to|job|big|large|huge|national|multinational|international)\b)[\w&'-]+\s+){0,3}"
    r"(?:business|shop|firm|company|salon|pub|caf[eé]|restaurant|garage|taxi|farm|store|bakery"
    r"|newsagents?|takeaway|chippy|workshop)s?\b(?!\s+(?:job|assistant|worker|floor|work))"
)
"""A main earner who ran a business of their own ("dad had his own plumbing firm", "mum ran a
salon", "they owned a corner shop"), not a large one, and not a job in one ("had a shop job")."""


class Group(StrEnum):
    """Where an option falls for reporting."""

    PROFESSIONAL = "professional"
    INTERMEDIATE = "intermediate"
    WORKING_CLASS = "working_class"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


CLASSIFIED: tuple[Group, ...] = (Group.PROFESSIONAL, Group.INTERMEDIATE, Group.WORKING_CLASS)
"""The three groups that shares are computed over; the others are reported apart."""


class Option(BaseModel):
    """One answer option of the key question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z]{2,12}$")
    label: str = Field(min_length=1, max_length=30)
    detail: str
    group: Group
    examples: str = ""
    also: tuple[str, ...] = ()
    owners: bool = False
    """The option for a main earner who ran a business of their own (``Question.owner``)."""


class Question(BaseModel):
    """The key question with its options in display order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    small_business_limit: int = Field(ge=1)
    options: tuple[Option, ...]
    groups: dict[Group, str]

    @model_validator(mode="after")
    def _check(self) -> Question:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        if not any(o.group is Group.PREFER_NOT_TO_SAY for o in self.options):
            raise ValueError('an "I prefer not to say" option is required')
        return self

    def option(self, option_id: str) -> Option | None:
        """The option with this id, or None."""
        return next((o for o in self.options if o.id == option_id), None)

    def owner(self, text: str) -> tuple[Option, int, int] | None:
        """The owners' option, and where the words saying so start and end, when lower-case
        ``text`` says the earner ran a business of their own ("my dad had his own plumbing
        firm": none of the options' listed words says that), or None."""
        found = RUNS_BUSINESS.search(text)
        option = next((o for o in self.options if o.owners), None)
        return (option, found.start(), found.end()) if found and option else None

    def with_small_business_limit(self, limit: int) -> Question:
        """A copy whose small-business wording says this staff limit (guide: 20; NS-SEC: 25)."""
        return self.model_copy(update={"small_business_limit": limit})

    def detail(self, option: Option) -> str:
        """The full standard wording of an option, with the small-business limit filled in."""
        return option.detail.format(small_business_limit=self.small_business_limit)

    def words(self, option: Option) -> list[str]:
        """What people may type for an option: the words listed for it, then the example
        occupations of its standard wording ("... such as a, b, c")."""
        _, found, rest = self.detail(option).partition("such as ")
        return [*option.also, *([e.strip() for e in rest.split(",")] if found else [])]


class Messages(BaseModel):
    """Every text the survey conversation shows, in our own words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intro: str
    start_label: str = Field(max_length=30)
    privacy_label: str = Field(max_length=30)
    decline_label: str = Field(max_length=30)
    prefer_not_label: str = Field(max_length=30)
    fits_label: str = Field(max_length=30)
    yes_label: str = Field(max_length=30)
    no_label: str = Field(max_length=30)
    did_you_mean: str
    examples_intro: str
    unmatched_intro: str
    reoffer: str
    privacy: str
    help: str
    admin_help: str
    question_intro: str
    followup_intro: str
    followup_prefer_not: str = Field(max_length=30)
    thanks: str
    receipt: str
    declined: str
    already_answered: str
    stale_button: str
    stale_no_conversation: str
    private_only: str
    unknown_button: str
    reask: str
    reask_or_ask: str
    unknown: str
    error: str
    not_admin: str
    reminders_stopped: str
    reminders_started: str
    reminders_unknown: str
    stop_hint: str
    forgotten: str
    campaign_closed: str
    no_campaign: str
    reminder: str
    reactions: dict[str, str] = Field(default_factory=dict)

    def render(self, name: str, **values: Any) -> str:
        """The message called ``name`` with its placeholders filled in, trimmed.

        ``{orgs}`` is the possessive of ``{org}`` ("Northwind Logistics'", "Acme's").
        """
        text: str = self.reactions[name] if name in self.reactions else getattr(self, name)
        org = str(values.get("org", ""))
        values.setdefault("orgs", f"{org}'" if org.endswith("s") else f"{org}'s")
        return text.format(**values).strip()


def _load(name: str) -> dict[str, Any]:
    with resources.files(__package__).joinpath(name).open("rb") as f:
        return tomllib.load(f)


@cache
def question() -> Question:
    """The key question as shipped (validated once)."""
    return Question.model_validate(_load("question.toml"))


@cache
def messages() -> Messages:
    """The survey messages as shipped (validated once)."""
    return Messages.model_validate(_load("messages.toml"))


class Benchmark(BaseModel):
    """A population's shares (per cent) in the three groups."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    professional: float = Field(ge=0, le=100)
    intermediate: float = Field(ge=0, le=100)
    working_class: float = Field(ge=0, le=100)

    def share(self, group: Group) -> float:
        """The benchmark share of a classified group, as a fraction."""
        return float(getattr(self, group.value)) / 100


class Benchmarks(BaseModel):
    """The national benchmark and the sector ones, by sector id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    national: Benchmark
    sectors: dict[str, Benchmark]


@cache
def benchmarks() -> Benchmarks:
    """The benchmarks as shipped (validated once)."""
    return Benchmarks.model_validate(_load("benchmarks.toml"))
