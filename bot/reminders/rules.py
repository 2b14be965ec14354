"""Schedule rules in plain words, turned into APScheduler 3 triggers.

Understood forms (case does not matter; the time defaults to 10:00):

- ``first monday of each quarter at 10:00``  (also second/third/fourth/last, any weekday)
- ``first monday of each month at 09:30``
- ``every year on 1 march at 10:00``
- ``every 6 weeks`` / ``every 10 days at 11:00``
- ``every monday at 10:00`` (any weekday), ``every weekday at 9:00``
- ``cron: 0 10 * * mon-fri`` (a crontab line)

:func:`canonical` first turns what admins actually type into one of these: "every first Monday
of the quarter at 10am", "on 1 March every year", "remind people every six weeks", "every
quarter", "fortnightly", "9.30am", and so on (tests/test_reminder_rules.py lists them).
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


NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
}  # fmt: skip
_CLOCK = re.compile(
    r"(?:\bat\s+)?\b(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)"
    r"|\bat\s+(?P<h2>\d{1,2})(?:[:.](?P<m2>\d{2}))?\b"
    r"|\bat\s+(?P<noon>noon|midday)\b"
)
_DAY_WORD = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH_WORD = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)


def canonical(rule: str) -> str:
    """A rule as people say it, in the one form :func:`trigger` reads.

    "every first Monday of the quarter at 10am", "remind people every 6 weeks", "on 1 March
    every year", "every year on March 1st at 9.30", "every weekday at 9", "every quarter"...
    all become the forms listed at the top of this module. Text it cannot read is returned
    tidied, for :func:`trigger` to refuse with examples.
    """
    text = " ".join(rule.casefold().replace(",", " ").split()).strip(" .!")
    if text.startswith("cron:"):
        return text
    text = re.sub(
        r"^(?:please\s+)?(?:(?:send|schedule|set up|add)\s+)?(?:a\s+)?(?:reminders?|remind)"
        r"(?:\s+(?:people|everyone|everybody|staff|the team|all staff|them))?\s*",
        "",
        text,
    )
    text = re.sub(r"^(?:to\s+)?(?:answer|respond)\s*", "", text)
    at = ""
    clock = _CLOCK.search(text)
    if clock:
        if clock["noon"]:
            hour, minute = 12, 0
        elif clock["h"] is not None:
            hour, minute = int(clock["h"]), int(clock["m"] or 0)
            if clock["ampm"].startswith("p") and hour < 12:
                hour += 12
            elif clock["ampm"].startswith("a") and hour == 12:
                hour = 0
        else:
            hour, minute = int(clock["h2"]), int(clock["m2"] or 0)
        at = f" at {hour:02d}:{minute:02d}"
        text = " ".join((text[: clock.start()] + " " + text[clock.end() :]).split())
    words = text.split()
    text = " ".join(str(NUMBERS[w]) if w in NUMBERS else w for w in words)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\b(?:on|the|of|in)\b", " ", text)
    text = re.sub(r"\b(?:each|every|per)\b", "every", text)
    text = " ".join(text.split())
    nth = r"(?P<nth>first|second|third|fourth|last|1|2|3|4)"
    ordinal = {"1": "first", "2": "second", "3": "third", "4": "fourth"}
    for pattern in (
        rf"^(?:every )?{nth} (?P<day>{_DAY_WORD}) (?:every )?(?P<p>quarter|month)$",
        rf"^(?:every )?(?P<p>quarter|month)(?:ly)? {nth} (?P<day>{_DAY_WORD})$",
    ):
        m = re.match(pattern, text)
        if m:
            n = ordinal.get(m["nth"], m["nth"])
            return f"{n} {m['day']} of each {m['p']}{at or ' at 10:00'}"
    m = re.match(r"^(?:every )?(quarter|month)(?:ly)?$|^(quarter|month)ly$", text)
    if m:
        return f"first monday of each {m[1] or m[2]}{at or ' at 10:00'}"
    yearly = r"(?:every year|yearly|annually|once 1 year|every 1 year)"
    for pattern in (
        rf"^(?:{yearly} )?(?P<d>\d{{1,2}}) (?P<mo>{_MONTH_WORD})(?: {yearly})?$",
        rf"^(?:{yearly} )?(?P<mo>{_MONTH_WORD}) (?P<d>\d{{1,2}})(?: {yearly})?$",
        rf"^every (?P<d>\d{{1,2}}) (?P<mo>{_MONTH_WORD})$",
    ):
        m = re.match(pattern, text)
        if m and (re.search(yearly, text) or text.startswith("every")):
            return f"every year on {int(m['d'])} {m['mo'][:3]}{at or ' at 10:00'}"
    m = re.match(r"^every (\d+) (weeks?|days?|months?)$", text)
    if m:
        count, unit = int(m[1]), m[2].rstrip("s")
        if unit == "month":
            return f"every {count * 4} weeks{at or ' at 10:00'}"
        return f"every {count} {unit}s{at or ' at 10:00'}"
    simple = {
        "every fortnight": "every 2 weeks",
        "fortnightly": "every 2 weeks",
        "every week": "every 1 weeks",
        "weekly": "every 1 weeks",
        "every day": "every 1 days",
        "daily": "every 1 days",
        "every weekday": "every weekday",
        "weekdays": "every weekday",
        "every working day": "every weekday",
    }
    if text in simple:
        return simple[text] + (at or " at 10:00")
    m = re.match(rf"^(?:every |weekly )?(?P<day>{_DAY_WORD})s?$", text)
    if m:
        return f"every {m['day']}{at or ' at 10:00'}"
    return text + at


def trigger(rule: str, timezone: str, *, anchor: dt.datetime) -> BaseTrigger:
    """The APScheduler trigger for a rule; ``anchor`` starts interval rules."""
    tz = zone(timezone)
    text = canonical(rule)
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
        (rf"^every weekday{_AT}", _weekdays),
        (rf"^every (?P<day>\w+){_AT}", _weekly),
    )
    for pattern, build in patterns:
        match = re.match(pattern, text)
        if match:
            return build(match, tz, anchor)
    raise RuleError(
        "say, for example: 'first monday of each quarter at 10am', 'every year on "
        "1 march', 'every 6 weeks', 'every weekday at 9', 'every monday at 10:00' or "
        "'cron: 0 10 * * mon'"
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


def _weekdays(match: re.Match[str], tz: ZoneInfo, _anchor: dt.datetime) -> BaseTrigger:
    hour, minute = _time(match)
    return CronTrigger(day_of_week="mon-fri", hour=hour, minute=minute, timezone=tz)


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


def quiet_period(text: str) -> tuple[str, str]:
    """ "from 20 december to 3 january" (or "20 dec - 3 jan", "december 20 to january 3")
    as ("12-20", "01-03"): a period every year, both ends included."""
    cleaned = " ".join(text.casefold().replace(",", " ").split())
    cleaned = re.sub(r"^(?:no reminders?|quiet(?: period)?|pause)\s*", "", cleaned)
    cleaned = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", cleaned)
    cleaned = re.sub(r"\b(?:the|of|every year|each year|yearly)\b", " ", cleaned)
    day = (
        rf"(?:(?P<{{0}}d>\d{{{{1,2}}}}) (?P<{{0}}m>{_MONTH_WORD})"
        rf"|(?P<{{0}}m2>{_MONTH_WORD}) (?P<{{0}}d2>\d{{{{1,2}}}}))"
    )
    pattern = (
        rf"^(?:from|between)?\s*{day.format('a')}\s*(?:to|until|till|and|-)\s*{day.format('b')}$"
    )
    match = re.match(pattern, " ".join(cleaned.split()))
    if not match:
        raise RuleError("say, for example: remind quiet from 20 december to 3 january")
    ends = []
    for end in ("a", "b"):
        month = (match[f"{end}m"] or match[f"{end}m2"])[:3]
        number = int(match[f"{end}d"] or match[f"{end}d2"])
        index = MONTHS.index(month) + 1
        try:
            dt.date(2024, index, number)  # a leap year: 29 february is a real date
        except ValueError:
            raise RuleError(f"{number} {month} is not a date") from None
        ends.append(f"{index:02d}-{number:02d}")
    return ends[0], ends[1]


def in_quiet(day: dt.date, periods: list[tuple[str, str]]) -> bool:
    """Whether a date falls in any yearly quiet period (one may run over the new year)."""
    key = f"{day.month:02d}-{day.day:02d}"
    for starts, ends in periods:
        if (starts <= key <= ends) if starts <= ends else (key >= starts or key <= ends):
            return True
    return False
