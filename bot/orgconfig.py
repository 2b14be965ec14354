"""The organisation's own settings (keyq.toml): follow-up questions, sector, sizes, targets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FOLLOWUP_KEYS = ("level", "function", "location")
"""The follow-ups keyq knows how to report on, in the order they are asked."""


class ConfigError(Exception):
    """keyq.toml cannot be used; the message names the line and the problem."""


class Followup(BaseModel):
    """One optional follow-up question; for ``level`` the options run bottom to top."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str = Field(min_length=1)
    options: tuple[str, ...] = Field(min_length=1, max_length=40)

    @field_validator("options")
    @classmethod
    def _options(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for option in value:
            if not option.strip() or len(option) > 30:
                raise ValueError("each option must be 1 to 30 characters (a phone button)")
        if len({o.casefold() for o in value}) != len(value):
            raise ValueError("options must be distinct")
        return value


class Organisation(BaseModel):
    """Who the organisation is, for messages, guidance and benchmarks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="your organisation", min_length=1, max_length=80)
    sector: str | None = None
    headcount: int | None = Field(default=None, ge=1)
    small_business_limit: int = Field(default=20, ge=1)


class Reporting(BaseModel):
    """Disclosure-control and response-rate settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int = Field(default=10, ge=10, description="Smallest group a total is shown for.")
    response_rate_target: float = Field(default=2 / 3, gt=0, le=1)
    level_bands: dict[str, tuple[str, ...]] = Field(
        default={},
        description="Wider levels for reporting only: band name -> the level options it joins.",
    )

    @field_validator("level_bands")
    @classmethod
    def _bands(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: set[str] = set()
        for band, levels in value.items():
            if not band.strip() or not levels:
                raise ValueError("each band needs a name and at least one level")
            if seen & set(levels):
                raise ValueError("a level can belong to one band only")
            seen.update(levels)
        return value


class Followups(BaseModel):
    """The follow-ups keyq can report on; any may be left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Followup | None = None
    function: Followup | None = None
    location: Followup | None = None


class GuidanceSettings(BaseModel):
    """How guidance is fitted to the organisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    small_organisation_below: int = Field(
        default=50, ge=1, description="Under this headcount, small-organisation tips come first."
    )
    check_in_days: int = Field(default=30, ge=1, description="Ask about open actions after this.")


class Headcounts(BaseModel):
    """How many people each unit has (numbers only, never lists of people)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: dict[str, int] = {}
    function: dict[str, int] = {}
    location: dict[str, int] = {}

    @field_validator("level", "function", "location")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        if any(n < 0 for n in value.values()):
            raise ValueError("headcounts cannot be negative")
        return value


class OrgConfig(BaseModel):
    """The whole of keyq.toml. Every section is optional."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    organisation: Organisation = Organisation()
    configured_followups: Followups = Field(default=Followups(), alias="followups")
    reporting: Reporting = Reporting()
    headcount: Headcounts = Headcounts()
    guidance: GuidanceSettings = GuidanceSettings()

    @property
    def small(self) -> bool:
        """Whether the organisation is small enough for the small-organisation tips."""
        size = self.organisation.headcount
        return size is not None and size < self.guidance.small_organisation_below

    def report_units(self, dimension: str) -> list[str]:
        """The units a breakdown reports, in order: bands replace the levels they join."""
        options = list(self.followups[dimension].options)
        if dimension != "level" or not self.reporting.level_bands:
            return options
        units: list[str] = []
        for option in options:
            unit = self.report_unit(dimension, option)
            if unit not in units:
                units.append(unit)
        return units

    def report_unit(self, dimension: str, answer: str) -> str:
        """The unit an answer to a follow-up counts in (its band, for a banded level)."""
        if dimension == "level":
            for band, levels in self.reporting.level_bands.items():
                if answer in levels:
                    return band
        return answer

    def unit_headcount(self, dimension: str, unit: str) -> int | None:
        """A unit's headcount from [headcount]; a band's is its levels' sum (if all known)."""
        counts: dict[str, int] = getattr(self.headcount, dimension)
        if dimension == "level" and unit in self.reporting.level_bands:
            levels = self.reporting.level_bands[unit]
            if all(level in counts for level in levels):
                return sum(counts[level] for level in levels)
            return None
        return counts.get(unit)

    @property
    def followups(self) -> dict[str, Followup]:
        """The configured follow-ups by key, in the order they are asked."""
        chosen = {key: getattr(self.configured_followups, key) for key in FOLLOWUP_KEYS}
        return {key: followup for key, followup in chosen.items() if followup is not None}


def load(path: Path, *, required: bool = False) -> OrgConfig:
    """Reads keyq.toml; a missing file gives the defaults unless ``required``.

    Raises:
        ConfigError: the file is not valid TOML or breaks a rule; the message names the line.
    """
    if not path.exists():
        if required:
            raise ConfigError(f"{path}: no such file")
        return OrgConfig()
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        config = OrgConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        problem = (
            "unknown setting (check its spelling)"
            if error["type"] == "extra_forbidden"
            else error["msg"]
        )
        raise _refusal(path, text, tuple(str(p) for p in error["loc"]), problem) from None
    for loc, problem in _cross_check(config):
        raise _refusal(path, text, loc, problem)
    return config


def _refusal(path: Path, text: str, loc: tuple[str, ...], problem: str) -> ConfigError:
    line = _line_of(text, loc)
    where = f"line {line}" if line else "top level"
    return ConfigError(f"{path}, {where}: {'.'.join(loc) or '(file)'}: {problem}")


def _cross_check(config: OrgConfig) -> list[tuple[tuple[str, ...], str]]:
    """Rules that tie one section to another."""
    from survey.content import benchmarks

    problems: list[tuple[tuple[str, ...], str]] = []
    sector = config.organisation.sector
    if sector is not None and sector not in benchmarks().sectors:
        known = ", ".join(sorted(benchmarks().sectors))
        problems.append(
            (
                ("organisation", "sector"),
                f"unknown sector {sector!r}; use one of "
                f"{known}, or leave it out for the national benchmark only",
            )
        )
    bands = config.reporting.level_bands
    level = config.followups.get("level")
    for band, levels in bands.items():
        for name in levels:
            if level is None or name not in level.options:
                problems.append(
                    (
                        ("reporting", "level_bands", band),
                        f"{name!r} is not an option of the level follow-up",
                    )
                )
    for dimension in FOLLOWUP_KEYS:
        counts: dict[str, int] = getattr(config.headcount, dimension)
        followup = config.followups.get(dimension)
        for unit in counts:
            if followup is None or unit not in followup.options:
                problems.append(
                    (
                        ("headcount", dimension, unit),
                        f"{unit!r} is not an option of the {dimension} follow-up",
                    )
                )
    return problems


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The 1-based line where the setting at ``loc`` is written, as near as the file shows."""
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None  # (how much of loc it matches, line)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = tuple(p.strip().strip("\"'") for p in header.group(1).split("."))
            candidate = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            candidate = table + tuple(p.strip().strip("\"'") for p in key.group(1).split("."))
        matched = _common_prefix(candidate, loc)
        if matched == len(candidate) and matched and (best is None or matched > best[0]):
            best = (matched, number)
    return best[1] if best else None


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
