"""What staff and admins stumbled on (issue 10), each reproduced first, through the engine."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import App, build
from bot.reporting import render
from bot.reporting.render import _rate
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.driver import Person, at_the_key_question

NORTHWIND = """
[organisation]
name = "Northwind Logistics"
headcount = 60

[followups.level]
question = "Which level is your job?"
options = ["Frontline", "Team leader", "Manager", "Senior leader"]

[reporting]
response_rate_target = 0.67
{bands}
"""
BANDS = """level_bands = { "Frontline and team leaders" = ["Frontline", "Team leader"], \
"Managers and above" = ["Manager", "Senior leader"] }"""


@pytest.fixture
async def northwind(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[App]:
    (tmp_path / "keyq.toml").write_text(NORTHWIND.format(bands=""), encoding="utf-8")
    keyq = await build(make_settings(), clock=clock)
    yield keyq
    await keyq.close()


async def crowd(keyq: App, count: int, start: int = 0) -> None:
    levels = ["Frontline", "Team leader", "Manager", "Senior leader"]
    options = ["routine", "professional", "clerical"]
    for n in range(start, start + count):
        person = Person(keyq.engine, f"p{n}")
        await person.answer(options[n % 3], levels[n % 4])
        person.expect("thank you")


async def test_report_with_follow_ups_and_no_answers_renders_and_does_not_block(
    northwind: App, clock: FakeClock
) -> None:
    admin = Person(northwind.engine, "hr-admin")
    await admin.say("report")
    admin.expect("no answers have reached the totals yet")
    admin.expect_not("went wrong")
    empty = await northwind.report()
    assert render.table(empty) and render.csv_text(empty) and json.loads(render.json_text(empty))
    await crowd(northwind, 40)
    clock.advance(hours=1)  # well within the 24 h interval: the empty report must not block
    report = await northwind.report()
    assert report.overall.answers == 40 and report.snapshot == 1
    await admin.say("report")
    admin.expect("40 answers in the totals")


async def test_phone_report_fits_and_says_what_helps(northwind: App) -> None:
    await crowd(northwind, 40)
    admin = Person(northwind.engine, "hr-admin")
    await admin.say("report")
    text = admin.last[0].text
    assert "  " not in text.replace("\n  ", "\n")  # no padded table columns to wrap badly
    admin.expect("What helps", "level_bands", "fewer than 10")
    assert admin.last[0].sectioned and admin.last[0].image


async def test_level_bands_merge_levels_for_reporting_only(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "keyq.toml").write_text(NORTHWIND.format(bands=BANDS), encoding="utf-8")
    keyq = await build(make_settings(), clock=clock)
    try:
        person = await at_the_key_question(keyq.engine, "asked", greeting="start")
        await person.tap("routine")
        assert [c.label for c in person.last[-1].choices][:4] == [
            "Frontline",
            "Team leader",
            "Manager",
            "Senior leader",
        ]  # people are asked the same question
        await person.tap("team leader")
        await crowd(keyq, 39, start=1)
        report = await keyq.report()
        level = next(b for b in report.breakdowns if b.dimension == "level")
        assert [r.unit for r in level.rows] == ["Frontline and team leaders", "Managers and above"]
        assert level.rows[0].answers == 20 and level.rows[1].answers == 20
        assert level.rows[0].headcount is None
    finally:
        await keyq.close()


def test_rates_never_look_equal_when_they_differ() -> None:
    assert _rate(40 / 60, 0.67) == ("66.7%", "67.0%")
    assert _rate(0.7, 0.67) == ("70%", "67%")
    assert _rate(2 / 3, 2 / 3) == ("67%", "67%")


async def test_response_rate_below_target_reads_consistently(northwind: App) -> None:
    await crowd(northwind, 40)
    admin = Person(northwind.engine, "hr-admin")
    await admin.say("report")
    admin.expect("response 66.7% of 60 (below target, 67.0%)")


async def test_answer_kept_when_the_break_ends_before_the_follow_up(
    northwind: App, clock: FakeClock
) -> None:
    worker = await at_the_key_question(northwind.engine, "worker", greeting="start")
    await worker.tap("routine")
    worker.expect("Thanks, noted.", "Which level is your job?")
    assert await northwind.store.counts("workforce") == (1, 1)  # stored at once
    await worker.say("/start")  # back from the break: carry on, nothing lost or asked again
    worker.expect("Which level is your job?")
    clock.advance(hours=25)  # never came back: the conversation is forgotten, the answer stays
    await northwind.store.purge()
    assert await northwind.store.flush("workforce", batch=1) == 1
    assert await northwind.store.answers("workforce") == [{"kq": "routine"}]
    await worker.say("start")
    worker.expect("already answered")


async def test_prefer_not_to_say_on_the_first_screen_is_a_reply(app: App) -> None:
    shy = Person(app.engine, "shy")
    await shy.say("hi")
    await shy.tap("I prefer not to say")
    assert shy.last[0].replaces_prompt
    shy.expect("thank you")
    await app.store.flush("workforce", batch=1, force=True)
    assert await app.store.answers("workforce") == [{"kq": "pnts"}]
    busy = Person(app.engine, "busy")
    await busy.say("hi")
    await busy.tap("not now")
    busy.expect("may remind you")
    assert await app.store.counts("workforce") == (1, 0)


@pytest.mark.parametrize(
    ("typed", "certain"),
    [
        ("prefer not to say", "I prefer not to say"),
        ("Prefer not.", "I prefer not to say"),
        ("routine", "Routine or manual/service"),
        ("five", "Routine or manual/service"),
        ("5)", "Routine or manual/service"),
        ("TECHNICAL", "Technical or craft"),
        ("small business", "Small business owner"),
    ],
)
async def test_typing_as_people_type(app: App, typed: str, certain: str) -> None:
    person = await at_the_key_question(app.engine, "typist", greeting="start")
    await person.say(typed)
    person.expect("thank you")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("HGV driver", "Routine or manual/service"),
        ("my dad was a lorry driver", "Routine or manual/service"),
        ("mum was an electrician", "Technical or craft"),
        ("he was a solicitor", "Professional"),
        ("my mother ran a corner shop", "Small business owner"),
        ("retired", "Other"),
        ("my parents were cleaners", "Routine or manual/service"),  # a plural: both did it
        ("both were nurses", "Professional"),
        ("they were both postmen", "Routine or manual/service"),
        ("my folks were cleaners", "Routine or manual/service"),  # "my folks": the parents
        ("both secretaries", "Clerical or intermediate"),
        # An owner, not the trade: no listed word says so ("hairdresser", "plumber" would)
        ("my mum ran her own hairdressing salon", "Small business owner"),
        ("dad had his own plumbing firm", "Small business owner"),
        ("they owned a fish and chip shop", "Small business owner"),
        # The work, not the job title, as people often say it
        ("she did cleaning", "Routine or manual/service"),
        ("dad worked in a factory", "Routine or manual/service"),
        ("mum was in nursing", "Professional"),
        ("mum was a teaching assistant", "Clerical or intermediate"),  # the longer words win
        ("dad ran his own plumbing firm", "Small business owner"),  # an owner, not a plumber
        # A small business's owner, not a large one's (a manager): the longer words win
        ("my dad was a small business owner", "Small business owner"),
        ("grandad had a market stall", "Small business owner"),
        # Whoever brought them up: a grandparent, an aunt (not only a parent)
        ("I was raised by my nan, she was a cleaner", "Routine or manual/service"),
        ("my auntie brought me up, she was a nurse", "Professional"),
        ("dunno", "Other"),  # as people text it
    ],
)
async def test_an_example_occupation_is_confirmed_never_guessed(
    app: App, typed: str, meant: str
) -> None:
    person = await at_the_key_question(app.engine, "typist", greeting="start")
    await person.say(typed)
    person.expect(f'Did you mean "{meant}"?')
    assert await app.store.counts("workforce") == (0, 0)  # nothing stored on a guess
    await person.tap("No, show me the list")
    person.expect("main household earner")
    await person.say(typed)
    await person.tap("Yes")
    assert person.last[0].replaces_prompt and meant not in person.last[0].text
    person.expect("thank you")


@pytest.mark.parametrize(
    "typed",
    [
        "my dad worked on the railways",  # no job the options list
        "he fixed cars for a living",
        "mum looked after other people's kids",  # "other" is not the "Other" answer
    ],
)
async def test_an_answer_in_own_words_that_matches_nothing_gets_the_examples(
    app: App, typed: str
) -> None:
    """The person is answering, so the question again with its short examples helps them
    pick (a fact about the groups, or about "Other", came before), on one phone screen;
    nothing is stored on a guess."""
    person = await at_the_key_question(app.engine, "own-words", greeting="start")
    await person.say(typed)
    person.expect("pick the closest", "- Technical or craft: mechanic, plumber, electrician")
    person.expect_not("Did you mean", 'What "Other" means')
    assert "I prefer not to say" in [c.label for c in person.last[-1].choices]
    assert len(person.last[-1].text.splitlines()) <= 13  # the prompt's length, plus one line
    assert await app.store.counts("workforce") == (0, 0)
    await person.say("why do you need my dad's job?")  # asked: the guide answers it
    person.expect("Why we ask about your parents' job")


async def test_a_question_about_whose_job_is_which_is_answered_not_confirmed(app: App) -> None:
    """Asked mid-sentence ("is he ..."), naming the job: it was taken for an answer ("Did you
    mean "Manager or administrator"?") and "small business owner" for a large business's."""
    person = await at_the_key_question(app.engine, "asker", greeting="start")
    await person.say("grandad had a market stall, is he a small business owner")
    person.expect_not("Did you mean", "Manager or administrator")
    person.expect('the "Small business owner" answer')
    assert person.last[-1].choices[0].label == "Professional"  # the key question is still open
    assert await app.store.counts("workforce") == (0, 0)


async def test_staff_in_the_plural_with_no_earner_named_are_not_an_answer(app: App) -> None:
    """A plural occupation is an answer only with more than one earner named ("my parents were
    cleaners"); "cleaners keep leaving" is a remark about staff."""
    person = await at_the_key_question(app.engine, "plural-remark", greeting="start")
    await person.say("cleaners keep leaving")
    person.expect_not("Did you mean")
    await person.say("my parents were cleaners")
    person.expect('Did you mean "Routine or manual/service"?')


@pytest.mark.parametrize(
    ("typed", "reply"),
    [
        ("how long will this take?", "one question"),
        ("not interested", "it's your choice"),
        ("i don't want to do this", "it's your choice"),
        ("do I have to?", "it's up to you"),
        ("is this a scam", "never asks for a password"),
        ("what's in it for me", "Nothing about you changes"),
    ],
)
async def test_a_remark_at_an_open_step_gets_a_short_reply_and_the_step_again(
    app: App, typed: str, reply: str
) -> None:
    """Neither an answer nor a manager's question: a short reply of its own (it got a
    manager's tip, a manager's fact or the blocks menu before), then the step, unchanged."""
    person = Person(app.engine, "staff-remark")
    await person.say("start")
    await person.say(typed)
    person.expect(reply)
    assert person.last[-1].text == "When you're ready, carry on here:"
    assert person.last[-1].choices[0].label == "Answer now"
    person.expect_not("Source:", "building block")
    await person.tap("answer now")
    await person.say(typed)
    person.expect(reply)
    assert "I prefer not to say" in [c.label for c in person.last[-1].choices]
    assert len(person.last[-1].text.splitlines()) <= 13  # the prompt's length, plus one line
    assert await app.store.counts("workforce") == (0, 0)


async def test_admin_commands_mid_step_do_not_reprint_the_intro(app: App) -> None:
    admin = Person(app.engine, "hr-admin")
    await admin.say("start")
    intro = admin.last[0].text
    for command in ("report", "remind list", "plan", "privacy"):
        await admin.say(command)
        assert intro not in admin.text(), command
        assert admin.last[-1].text == "When you're ready, carry on here:"
        assert admin.last[-1].choices[0].label == "Answer now"


async def test_possessive_of_a_name_ending_in_s(northwind: App) -> None:
    person = Person(northwind.engine, "someone")
    await person.say("help")
    person.expect("Northwind Logistics' diversity figures")


async def test_with_no_current_campaign_reports_say_so(app: App) -> None:
    await app.store.close_campaign("workforce")
    admin = Person(app.engine, "hr-admin")
    await admin.say("report")
    admin.expect("no current campaign")
    admin.expect_not("went wrong")
    await admin.say("what should we do next?")
    admin.expect_not("went wrong")


async def test_a_turn_that_cannot_get_a_connection_says_so_fast_and_commits_nothing(
    app: App,
) -> None:
    """Every pooled connection busy (a stuck report, a storm): a turn gives up within the
    pool's short budget, well inside Slack's 3 s, before anything is stored, and says to try
    again; tapped again once the pool frees, the answer is counted once."""
    import time

    from storage.database import POOL_TIMEOUT

    if app.store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no pool to exhaust")
    person = Person(app.engine, "pool-person")
    await person.say("hi")
    await person.tap("Answer now")
    clerical = person.choice_id("Clerical")
    held = [await app.store.engine.connect() for _ in range(15)]
    try:
        started = time.monotonic()
        await person.send(choice=clerical)
        waited = time.monotonic() - started
        person.expect("Nothing you sent was lost", "try again")
        assert POOL_TIMEOUT <= waited < 3.0
    finally:
        for conn in held:
            await conn.close()
    assert await app.store.counts("workforce") == (0, 0)
    await person.send(choice=clerical)
    person.expect_not("went wrong")
    assert await app.store.counts("workforce") == (1, 1)
