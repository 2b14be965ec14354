"""Schedule rules in plain words, turned into APScheduler 3 triggers.

Understood forms (case does not matter; the time defaults to 10:00):

- ``first monday of each quarter at 10:00``  (also second/third/fourth/last, any weekday)
- ``first monday of each month at 09:30``
- ``every year on 1 march at 10:00``
- ``every 6 weeks`` / ``every 10 days at 11:00``
- ``every monday at 10:00`` (any weekday)
- ``cron: 0 10 * * mon-fri`` (a crontab line)
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "last": "last"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_AT = r"(?:\s+at\s+(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?)?\s*$"


class RuleError(ValueError):
    """The rule is not one keyq understands; the message says what it accepts."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"unknown time zone {name!r} (use e.g. Europe/London)") from None


def trigger(rule: str, timezone: str, *, anchor: dt.datetime) -> BaseTrigger:
    """The APScheduler trigger for a rule; ``anchor`` starts interval rules."""
    tz = zone(timezone)
    text = " ".join(rule.casefold().split())
    if text.startswith("cron:"):
        try:
            return CronTrigger.from_crontab(text[5:].strip(), timezone=tz)
        except ValueError as exc:
            raise RuleError(f"bad crontab: {exc}") from None
    patterns = (
        (
            rf"^(?P<nth>first|second|third|fourth|last) (?P<day>\w+) of (?:each|every) "
            rf"(?P<period>quarter|month){_AT}",
            _nth_weekday,
        ),
        (rf"^every year on (?P<dom>\d{{1,2}}) (?P<month>\w+){_AT}", _yearly),
        (rf"^every (?P<n>\d+) (?P<unit>weeks?|days?){_AT}", _interval),
        (rf"^every (?P<day>\w+){_AT}", _weekly),
    )
    for pattern, build in patterns:
        match = re.match(pattern, text)
        if match:
            return build(match, tz, anchor)
    raise RuleError(
        "say, for example: 'first monday of each quarter at 10:00', 'every year on "
        "1 march', 'every 6 weeks', 'every monday at 10:00' or 'cron: 0 10 * * mon'"
    )


def _time(match: re.Match[str]) -> tuple[int, int]:
    hour, minute = int(match["hour"] or 10), int(match["minute"] or 0)
    if hour > 23 or minute > 59:
        raise RuleError("the time must be between 00:00 and 23:59")
    return hour, minute


def _day(word: str) -> str:
    day = word[:3]
    if day not in DAYS:
        raise RuleError(f"{word!r} is not a day of the week")
    return day


def _nth_weekday(match: re.Match[str], tz: ZoneInfo, _anchor: dt.datetime) -> BaseTrigger:
    hour, minute = _time(match)
    months = "1,4,7,10" if match["period"] == "quarter" else "*"
    return CronTrigger(
        month=months,
        day=f"{ORDINALS[match['nth']]} {_day(match['day'])}",
        hour=hour,
        minute=minute,
        timezone=tz,
    )


def _yearly(match: re.Match[str], tz: ZoneInfo, _anchor: dt.datetime) -> BaseTrigger:
    hour, minute = _time(match)
    month = match["month"][:3]
    if month not in MONTHS:
        raise RuleError(f"{match['month']!r} is not a month")
    return CronTrigger(
        month=MONTHS.index(month) + 1, day=int(match["dom"]), hour=hour, minute=minute, timezone=tz
    )


class LocalInterval(BaseTrigger):  # type: ignore[misc]
    """Every N days at the same local time, across daylight-saving changes.

    APScheduler 3's IntervalTrigger adds a fixed number of hours, so "every 6 weeks at 10:00"
    would drift to 11:00 after the clocks change; its calendar-aware trigger exists only in
    APScheduler 4 (not for production). This steps whole local days instead.
    """

    def __init__(self, *, days: int, start: dt.date, hour: int, minute: int, tz: ZoneInfo):
        self.days, self.start, self.hour, self.minute, self.tz = days, start, hour, minute, tz

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        local_now = now.astimezone(self.tz)
        elapsed = (local_now.date() - self.start).days
        steps = max(0, -(-elapsed // self.days))
        while True:
            day = self.start + dt.timedelta(days=steps * self.days)
            moment = dt.datetime(
                day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.tz
            )
            if moment >= now:
                return moment
            steps += 1

    def __str__(self) -> str:
        return f"every {self.days} days at {self.hour:02d}:{self.minute:02d}"


def _interval(match: re.Match[str], tz: ZoneInfo, anchor: dt.datetime) -> BaseTrigger:
    hour, minute = _time(match)
    n = int(match["n"])
    if n < 1:
        raise RuleError("the interval must be at least 1")
    days = n * 7 if match["unit"].startswith("week") else n
    return LocalInterval(
        days=days, start=anchor.astimezone(tz).date(), hour=hour, minute=minute, tz=tz
    )


def _weekly(match: re.Match[str], tz: ZoneInfo, _anchor: dt.datetime) -> BaseTrigger:
    hour, minute = _time(match)
    return CronTrigger(day_of_week=_day(match["day"]), hour=hour, minute=minute, timezone=tz)


def next_after(rule: BaseTrigger, after: dt.datetime) -> dt.datetime | None:
    """The first fire time strictly after ``after`` (UTC-aware in, aware out)."""
    moment: dt.datetime | None = rule.get_next_fire_time(None, after + dt.timedelta(seconds=1))
    return moment


def preview(rule: BaseTrigger, after: dt.datetime, count: int = 4) -> list[dt.datetime]:
    """The next ``count`` fire times after ``after``."""
    out: list[dt.datetime] = []
    moment = after
    while len(out) < count:
        following = next_after(rule, moment)
        if following is None:
            break
        out.append(following)
        moment = following
    return out
