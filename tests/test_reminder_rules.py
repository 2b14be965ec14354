"""Reminder rules in the words admins use, quiet periods, numbering that never repeats."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.app import App
from bot.reminders.rules import RuleError, canonical, in_quiet, preview, quiet_period, trigger
from tests.conftest import FakeClock
from tests.driver import Person

LONDON = "Europe/London"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday

# (what an admin types, the canonical rule keyq stores). Kept as a table on purpose: add to it.
PHRASINGS = [
    ("first monday of each quarter at 10", "first monday of each quarter at 10:00"),
    ("every first Monday of the quarter at 10", "first monday of each quarter at 10:00"),
    ("the first monday of every quarter at 10am", "first monday of each quarter at 10:00"),
    ("First Monday of each quarter, 10am", "first monday of each quarter at 10:00"),
    ("on the first monday of each quarter at 10:30am", "first monday of each quarter at 10:30"),
    ("every quarter", "first monday of each quarter at 10:00"),
    ("quarterly", "first monday of each quarter at 10:00"),
    ("each quarter at 2pm", "first monday of each quarter at 14:00"),
    ("last friday of every month at 3pm", "last friday of each month at 15:00"),
    ("every month", "first monday of each month at 10:00"),
    ("monthly at 9", "first monday of each month at 09:00"),
    ("2nd tuesday of each month at 9.30", "second tuesday of each month at 09:30"),
    ("every 6 weeks", "every 6 weeks at 10:00"),
    ("every six weeks", "every 6 weeks at 10:00"),
    ("remind people every 6 weeks", "every 6 weeks at 10:00"),
    ("remind everyone every six weeks at 9am", "every 6 weeks at 09:00"),
    ("send a reminder every 4 weeks", "every 4 weeks at 10:00"),
    ("every fortnight", "every 2 weeks at 10:00"),
    ("fortnightly at noon", "every 2 weeks at 12:00"),
    ("every week", "every 1 weeks at 10:00"),
    ("weekly", "every 1 weeks at 10:00"),
    ("every 10 days at 11:00", "every 10 days at 11:00"),
    ("every 2 months", "every 8 weeks at 10:00"),
    ("every year on 1 March at 9:30", "every year on 1 mar at 09:30"),
    ("on 1 March every year", "every year on 1 mar at 10:00"),
    ("every year on March 1", "every year on 1 mar at 10:00"),
    ("every year on March 1st at 9am", "every year on 1 mar at 09:00"),
    ("1st march every year", "every year on 1 mar at 10:00"),
    ("annually on 5th April", "every year on 5 apr at 10:00"),
    ("yearly on the 1st of September at 10am", "every year on 1 sep at 10:00"),
    ("every 1 march", "every year on 1 mar at 10:00"),
    ("once a year on 15 january", "every year on 15 jan at 10:00"),
    ("every weekday at 9", "every weekday at 09:00"),
    ("every working day at 9am", "every weekday at 09:00"),
    ("weekdays at 8:45", "every weekday at 08:45"),
    ("every monday at 10:00", "every monday at 10:00"),
    ("every Monday at 2pm", "every monday at 14:00"),
    ("mondays at 10am", "every monday at 10:00"),
    ("weekly on thursday at 11", "every thursday at 11:00"),
    ("every tuesday", "every tuesday at 10:00"),
    ("Every Wednesday at 12pm", "every wednesday at 12:00"),
    ("every day", "every 1 days at 10:00"),
    ("cron: 0 10 * * mon", "cron: 0 10 * * mon"),
]


@pytest.mark.parametrize(("typed", "stored"), PHRASINGS)
def test_admins_phrasings_are_understood(typed: str, stored: str) -> None:
    assert canonical(typed) == stored
    assert preview(trigger(typed, LONDON, anchor=START), START, 2)


def test_the_table_is_long_enough() -> None:
    assert len(PHRASINGS) >= 40


@pytest.mark.parametrize(
    "typed",
    ["whenever", "every year on 31 smarch", "every 0 days", "every monday at 25:00", "soon-ish"],
)
def test_nonsense_is_refused_with_examples(typed: str) -> None:
    with (
        pytest.raises(RuleError, match="for example")
        if typed in ("whenever", "soon-ish")
        else (pytest.raises(RuleError))
    ):
        trigger(typed, LONDON, anchor=START)


def test_quiet_periods_run_over_the_new_year() -> None:
    assert quiet_period("no reminders from 20 December to 3 January") == ("12-20", "01-03")
    assert quiet_period("20 dec - 3 jan") == ("12-20", "01-03")
    assert quiet_period("between august 1st and august 31st") == ("08-01", "08-31")
    periods = [("12-20", "01-03")]
    assert in_quiet(dt.date(2026, 12, 24), periods) and in_quiet(dt.date(2027, 1, 3), periods)
    assert not in_quiet(dt.date(2027, 1, 4), periods)
    with pytest.raises(RuleError):
        quiet_period("from 31 february to 3 march")


async def test_chat_reminders_quiet_pause_all_numbers_and_duplicates(
    app: App, clock: FakeClock
) -> None:
    admin = Person(app.engine, "hr-admin")
    await admin.say("remind add every first Monday of the quarter at 10am")
    admin.expect("Reminder 1 added: first monday of each quarter at 10:00")
    await admin.say("remind every 6 weeks")  # "add" may be left out
    admin.expect("Reminder 2 added")
    await admin.say("remind add first monday of each quarter at 10")
    admin.expect("already", "#1")  # the same rule twice is pointed out
    await admin.say("remind delete 2")
    await admin.say("remind add every weekday at 9")
    admin.expect("Reminder 3 added")  # a deleted number is never given again
    await admin.say("remind delete 99999999999999999999")
    admin.expect("Sorry", "not a reminder number")
    await admin.say("remind pause all")
    admin.expect("2 reminder(s) paused")
    await admin.say("remind list")
    admin.expect("#1", "[paused]", "#3")
    await admin.say("remind resume all")
    await admin.say("remind quiet from 20 december to 3 january")
    admin.expect("Quiet period 1 added: 20 Dec to 3 Jan, every year")
    await admin.say("remind list")
    admin.expect("Quiet 1: no reminders 20 Dec to 3 Jan")
    await admin.say("remind add nonsense please")
    admin.expect("for example", "first monday of each quarter")


async def test_a_wave_in_a_quiet_period_is_skipped(app: App, clock: FakeClock) -> None:
    clock.now = dt.datetime(2026, 12, 14, 9, 0, tzinfo=dt.UTC)
    await app.reminders.add("weekly", "every monday at 10")
    await app.reminders.add_quiet("from 20 december to 3 january")
    info = (await app.reminders.schedules())[0]
    dates = [d.date().isoformat() for d in info.next_runs]
    assert dates == ["2026-12-14", "2027-01-04", "2027-01-11", "2027-01-18"]
    waves = await app.reminders.run_due(dt.datetime(2026, 12, 21, 10, 0, tzinfo=dt.UTC))
    assert [w for w in waves if w.kind == "schedule"] == []


async def test_reminders_for_an_unknown_campaign_are_refused(app: App) -> None:
    with pytest.raises(LookupError, match="no campaign"):
        await app.reminders.add("x", "every monday", campaign="no-such-round")
