"""Guidance through the conversation: ranked tips, fitted to the asker, the size and the data."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from bot.app import App, build
from bot.events import Channel
from bot.guide import is_next
from bot.settings import Settings
from guidance.content import Audience, Question, Tip, guidance, questions
from guidance.ranker import Asker, Ranker, infer
from tests.conftest import FakeClock
from tests.driver import Person, at_the_key_question
from tests.test_reports import add

LEVELS = ["Entry", "Supervisor", "Manager", "Director"]


def org_toml(headcount: int, *, levels: bool = True) -> str:
    text = f'[organisation]\nname = "Acme"\nheadcount = {headcount}\nsector = "legal"\n'
    if levels:
        text += (
            f'[followups.level]\nquestion = "Level?"\noptions = {json.dumps(LEVELS)}\n'
            f"[headcount.level]\nEntry = 100\nSupervisor = 60\nManager = 60\n"
            f"Director = 40\n"
        )
    return text


@pytest.fixture
async def make_app(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Callable[..., object]]:
    apps: list[App] = []

    async def make(headcount: int = 260, **settings: object) -> App:
        (tmp_path / "keyq.toml").write_text(org_toml(headcount), encoding="utf-8")
        values = {"managers": ("console:manager",), "snapshot_interval_hours": 0}
        values.update(settings)
        keyq = await build(make_settings(**values), clock=clock)
        apps.append(keyq)
        return keyq

    yield make
    for keyq in apps:
        await keyq.close()


def cliff_edge_crowd() -> list[tuple[str, str, str, str]]:
    """Working-class shares by level 40, 37, 17, 17%: a sharp fall between Supervisor and
    Manager."""
    people = []
    for level, working in (("Entry", 24), ("Supervisor", 22), ("Manager", 10), ("Director", 10)):
        people += [("routine", level, "", "")] * working
        people += [("prof", level, "", "")] * (50 - working) + [("clerical", level, "", "")] * 10
    return people


def entry_below_crowd() -> list[tuple[str, str, str, str]]:
    """11% working class at every level, against 23% in the legal sector."""
    people = []
    for level in LEVELS:
        people += [("routine", level, "", "")] * 10 + [("prof", level, "", "")] * 60
        people += [("clerical", level, "", "")] * 20
    return people


def first_tip(person: Person) -> Tip | None:
    """The first tip shown: its "Block: Title" line."""
    g = guidance()
    for reply in person.last:
        for line in reply.text.split("\n"):
            for tip in g.tips:
                if line == f"{g.blocks[tip.block].name}: {tip.title}":
                    return tip
    return None


def first_block(person: Person) -> str:
    tip = first_tip(person)
    return tip.block if tip else ""


async def test_manager_question_gets_a_progression_tip_with_choices(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    manager = Person(keyq.engine, "manager")
    await manager.say("How do I help my frontline staff progress?")
    assert first_block(manager) == "progression"
    assert [c.label for c in manager.last[0].choices] == ["Another tip", "Why this?", "Adopt it"]
    first = manager.last[0].text
    await manager.tap("another tip")
    assert manager.last[0].text != first
    await manager.tap("why this")
    manager.expect("Why:", "Source:")


async def test_small_organisation_gets_small_variants(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=8)
    owner = Person(keyq.engine, "manager")
    await owner.say("We're 8 people and have no HR, where do we start?")
    tip = first_tip(owner)
    assert tip is not None and Audience.SMALL_ORGS in tip.suits
    await owner.say("How can we reach more local talent?")
    tip = first_tip(owner)
    assert tip is not None and Audience.SMALL_ORGS in tip.suits


async def test_nothing_relevant_offers_the_blocks(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("What will the weather be like in Paris tomorrow?")
    admin.expect("don't have guidance on that")
    assert len(admin.last[0].choices) == len(guidance().blocks)
    await admin.tap("inclusive culture")
    assert first_block(admin) == "culture"


async def test_an_admin_asking_how_we_are_doing_is_pointed_to_the_report(make_app) -> None:  # type: ignore[no-untyped-def]
    """No tip or fact answers "how are we doing?"; the core HR team's figures are one command
    away, so an admin is told it. Nobody else is pointed at a report they may not see."""
    keyq = await make_app()
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("how are we doing?")
    admin.expect("don't have guidance on that", "For your own figures, type report.")
    assert len(admin.last[0].choices) == len(guidance().blocks)
    await admin.say("report")
    admin.expect("answers in the totals")
    manager = Person(keyq.engine, "manager")
    await manager.say("how are we doing?")
    manager.expect("don't have guidance on that")
    manager.expect_not("report")


async def test_the_blocks_menu_puts_the_likeliest_block_first(make_app) -> None:  # type: ignore[no-untyped-def]
    """A question the ranker will not answer still finds its block at the top of the menu,
    and the menu still holds every block once."""
    keyq = await make_app()
    manager = Person(keyq.engine, "hr-admin")
    await manager.say("how do we make this stick beyond one year")
    manager.expect("don't have guidance on that")
    offered = [c.id.removeprefix("g:block:") for c in manager.last[0].choices]
    assert sorted(offered) == sorted(guidance().blocks)
    assert offered[0] == "plan" != next(iter(guidance().blocks))  # not the guide's own order


@pytest.mark.parametrize(
    ("text", "answered"),
    [
        ("my laptop won't turn on", False),  # "laptop" is a tag (lend kit), nothing more
        ("I need a new uniform, size large", False),  # "size": organisation size
        ("do we need a DPIA", True),  # one word, and all about the method
        ("how do I stop the reminders", True),
        ("apprenticeships", True),
    ],
)
def test_one_guidance_word_in_a_sentence_about_something_else_is_not_enough(
    text: str, answered: bool
) -> None:
    """A single word the guidance uses passes the word gate; then the sentence as a whole must
    be near something the guidance says (ONE_WORD_FLOOR, chosen by cross-validation on the
    tuning half: off-topic answers 10 -> 5 of 78, no question lost)."""
    ranker = Ranker(guidance())
    hits = ranker.search(text, Asker(role=Audience.LINE_MANAGERS))
    assert bool(hits) is answered


def test_a_question_nearer_an_off_topic_one_asked_before_is_off_topic() -> None:
    """Two of the guidance's words ("cover", "break") pass the word gate; a request like one
    already known to be off-topic (a tuning question with nothing expected) is turned away."""
    asker = Asker(role=Audience.LINE_MANAGERS)
    on_topic = tuple(q for q in questions() if q.split == "tune" and q.expect)
    known = Question(text="who is covering my break this afternoon", expect=(), split="tune")
    question = "who's covering my lunch break at 2"
    assert Ranker(guidance(), examples=on_topic).search(question, asker)
    assert not Ranker(guidance(), examples=(*on_topic, known)).search(question, asker)
    # Cued questions are not turned away: a parent's job is what keyq asks about.
    parent = Question(text="my dad drove a van for a bakery", expect=(), split="tune")
    hits = Ranker(guidance(), examples=(*on_topic, parent)).search("my dad was a van driver", asker)
    assert hits and hits[0].key == "f_working_class"


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("we're a nursery with 12 staff", "f_small_org"),  # no word of the guidance's at all
        ("team of 8, worth doing?", "f_small_org"),
        ("a print shop with 11 full-time workers", "f_small_org"),  # a word between
        ("we have 300 staff", None),  # a headcount alone is not small
        ("we have 3 questions about the survey", "data"),  # a number, but not of people
    ],
)
def test_a_small_headcount_is_a_question_for_small_organisations(
    text: str, first: str | None
) -> None:
    hits = Ranker(guidance()).search(text, Asker(role=Audience.LINE_MANAGERS))
    assert (hits[0].key if hits else None) == first


@pytest.mark.parametrize(
    "text",
    [
        "we're a company of 300, is this worth doing?",
        "firm of 200, worth setting up a network?",
        "we have 450 employees, is it worth it",
        "2,000 staff across 12 sites, is it worth doing?",  # not 000 staff
    ],
)
def test_an_organisation_of_50_or_more_is_never_told_about_small_organisations(text: str) -> None:
    """Asking whether it is worth it reads as a small employer's question, but not from one
    that names 50 people or more; a team of 8 inside a larger company is still a small team."""
    hits = Ranker(guidance()).search(text, Asker(role=Audience.LINE_MANAGERS))
    assert hits and "f_small_org" not in [h.key for h in hits]
    asker = Asker(role=Audience.LINE_MANAGERS)
    small = Ranker(guidance()).search("team of 8 in a company of 300, worth it?", asker)
    assert small and small[0].key == "f_small_org"


@pytest.mark.parametrize(
    ("text", "small"),
    [
        ("we have 2,000 staff, where do we start", False),  # not "we have 2"
        ("a firm of 1,500 in six offices", False),
        ("we have 12 staff", True),
        ("only 8 of us", True),
    ],
)
def test_the_asker_s_size_reads_thousands_whole(text: str, small: bool) -> None:
    assert infer(text, Asker(role=Audience.LINE_MANAGERS)).small_org is small


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("why do you want to know what my dad did", "f_why_parents"),  # no guidance word
        ("why do you need my parents job", "f_why_parents"),
        ("will this affect my chances of promotion", "f_who_sees"),  # not a promotion tip
        ("does this affect my pay rise", "f_who_sees"),
        ("how do I get more of my team promoted", "progression"),  # a manager's question
        ("hit the wrong button, argh", "f_delete"),  # a wrong tap told with no guidance word
        # A slip that names the right job is about changing the answer, not the job's group
        ("I ticked professional by mistake, my mum was a care worker", "f_delete"),
        ("remove me from this", "f_delete"),
        ("bin what I sent you earlier", "f_delete"),
        ("how frequently should we collect this, once a year or rolling", "data"),
    ],
)
def test_staff_asking_what_it_means_for_them_get_the_staff_side_fact(text: str, first: str) -> None:
    hits = Ranker(guidance()).search(text, Asker(role=Audience.LINE_MANAGERS))
    assert hits and hits[0].key == first


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("what are other employers doing about class", False),  # an adjective, not the answer
        ("how do other companies handle prefer not to say", False),
        ("what does other mean", True),
        ("loads of people picked other, why", True),
    ],
)
def test_other_before_a_noun_is_not_the_other_answer(text: str, other: bool) -> None:
    hits = Ranker(guidance()).search(text, Asker(role=Audience.LINE_MANAGERS))
    assert bool(hits) and (hits[0].key == "f_other") == other


async def test_staff_small_talk_still_reaches_the_survey(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")
    await staff.say("what is this?")
    staff.expect("one short question")


async def test_next_without_data_says_start_asking(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("next")
    admin.expect("enough answers to report on yet", "Ask the key question")


async def test_asking_what_the_building_blocks_are_lists_them_to_browse(make_app) -> None:  # type: ignore[no-untyped-def]
    """No tip or fact is about the blocks as a whole: the answer names them and offers each as
    a button (it got "The three groups" before); asking which to start with is still ranked."""
    keyq = await make_app()
    manager = Person(keyq.engine, "manager-1")
    await manager.say("hi")
    await manager.tap("Not now")
    for question in ("what are the building blocks?", "explain the five building blocks"):
        await manager.say(question)
        manager.expect("five building blocks", "Source: The building blocks guide")
        manager.expect_not("The three groups")
        labels = [c.label for r in manager.last for c in r.choices]
        assert labels == [b.name for b in guidance().blocks.values()]
    await manager.tap("Progression")
    manager.expect("Progression:")
    await manager.say("which building block should we start with")
    manager.expect_not("five building blocks")


async def test_next_with_low_response_rate(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=1000)
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in ("prof", "routine")] * 5)
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("what should we do next?")
    admin.expect("response rate is 4%", "under your 67% target", "Raise a low response rate")


async def test_a_fact_about_a_figure_comes_with_the_organisations_own(make_app) -> None:  # type: ignore[no-untyped-def]
    """The response-rate target and the benchmarks are facts for everyone; to admins (the core
    HR team) they come with the organisation's own figure from the latest protected report, so
    "how are we doing on response rate?" is answered too. Everyone else gets the fact alone,
    and so does everyone before a report exists."""
    keyq = await make_app(headcount=1000)
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("what response rate should we aim for?")
    admin.expect("two-thirds")
    admin.expect_not("Your latest report")  # none yet
    options = ("prof", "clerical", "routine", "routine")
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in options] * 5)
    await admin.say("what response rate should we aim for?")
    admin.expect("two-thirds", "Your latest report: 8% answered, against a target of 67%.")
    await admin.say("what's the benchmark for law firms?")
    admin.expect(
        "Legal: 59% professional",
        "Your latest report: 25% professional, 25% intermediate, 50% working class.",
    )
    # A manager in KEYQ_MANAGERS gets data-led tips, not figures: only the core HR team sees
    # totals (the promise made to staff before they answer).
    for name in ("manager", "someone"):
        other = Person(keyq.engine, name)
        await other.say("hi")
        await other.tap("Not now")
        await other.say("what response rate should we aim for?")
        other.expect("two-thirds")
        other.expect_not("Your latest report", "8%")


async def test_asking_what_a_cliff_edge_is_also_says_which_shape_the_report_shows(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=200)
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("what is a cliff edge?")
    admin.expect("A cliff edge is one sudden drop")
    admin.expect_not("Your latest report")
    await add(keyq, cliff_edge_crowd())
    await admin.say("what is a cliff edge?")
    admin.expect(
        "A cliff edge is one sudden drop",
        "Your latest report: Cliff edge: the working-class share falls sharply between "
        "Supervisor and Manager",
    )


async def test_asking_about_prefer_not_to_say_answers_gives_their_share(make_app) -> None:  # type: ignore[no-untyped-def]
    """Their count only where the report shows it: with no "Other" and no intermediate answers,
    20 "prefer not to say" would let the small ones be worked out, so the report hides it
    (protecting) and no line is shown."""
    keyq = await make_app(headcount=200)
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in ("prof", "routine", "pnts")] * 5)
    admin = Person(keyq.engine, "hr-admin")
    question = "lots of people chose prefer not to say, what should we do"
    await admin.say(question)
    admin.expect('"I prefer not to say" answers')
    admin.expect_not("Your latest report")
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in ("clerical", "other")] * 5, 60)
    await admin.say(question)  # the latest report is still the first: a newer one is published
    admin.expect_not("Your latest report")
    await keyq.reports_settled()
    await admin.say(question)
    admin.expect('"I prefer not to say" answers', "Your latest report: 20 of 100 answers (20%)")
    await admin.say('what does "other" mean?')
    admin.expect('What "Other" means', 'Your latest report: 20 of 100 answers (20%) were "Other".')


async def test_without_a_headcount_the_response_rate_fact_says_how_to_get_one(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "keyq.toml").write_text('[organisation]\nname = "Acme"\n', encoding="utf-8")
    keyq = await build(make_settings(snapshot_interval_hours=0), clock=clock)
    try:
        await add(keyq, [(o, "", "", "") for o in ("prof", "routine")] * 10)
        admin = Person(keyq.engine, "hr-admin")
        await admin.say("what response rate should we aim for?")
        admin.expect(
            "Your latest report: 20 answers. Set your headcount in keyq.toml to see your "
            "response rate."
        )
    finally:
        await keyq.close()


async def test_own_figures_beside_a_fact_are_never_hidden_ones(make_app) -> None:  # type: ignore[no-untyped-def]
    """A share the report hides (a group under the threshold, or one hidden to protect it) is
    never shown beside the benchmark: no line at all rather than a partial one."""
    keyq = await make_app(headcount=190)
    await add(
        keyq, [("prof", lvl, "", "") for lvl in LEVELS] * 4 + [("routine", "Entry", "", "")] * 3
    )
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("what response rate should we aim for?")  # the report is there
    admin.expect("Your latest report: 10% answered")
    await admin.say("what's the benchmark for law firms?")
    admin.expect("Legal")
    admin.expect_not("Your latest report")


async def test_a_manager_gets_the_tip_the_data_calls_for_without_its_figures(make_app) -> None:  # type: ignore[no-untyped-def]
    """Managers in KEYQ_MANAGERS get the same data-led tip as an admin, with a reason that
    carries no figure: only the core HR team sees totals."""
    keyq = await make_app(headcount=1000)
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in ("prof", "routine")] * 5)
    manager = Person(keyq.engine, "manager")
    await manager.say("what should we do next?")
    manager.expect("Your response rate is under your target.", "Raise a low response rate")
    manager.expect_not("4%", "67%")


async def test_next_with_a_cliff_edge(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=200)
    await add(keyq, cliff_edge_crowd())
    manager = Person(keyq.engine, "manager")
    await manager.say("next")
    manager.expect("cliff edge", "between Supervisor and Manager")
    assert first_block(manager) == "progression"


async def test_next_with_entry_below_the_benchmark(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=400)
    await add(keyq, entry_below_crowd())
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("next")
    admin.expect("At Entry", "below the Legal benchmark")
    assert first_block(admin) == "talent"
    manager = Person(keyq.engine, "manager")  # the same tip, without the share behind it
    await manager.say("next")
    manager.expect("At Entry, the working-class share is well below the Legal benchmark.")
    manager.expect_not("11%", "points below")
    assert first_block(manager) == "talent"


@pytest.mark.parametrize(
    ("question", "routed"),
    [
        ("what should we do next?", True),
        ("where do we start, we have done nothing on this", True),
        ("figures landed on my desk this morning, where do I go from here", True),  # batch 30
        ("where next?", True),
        ("where do we go next with recruitment", False),
        ("what should we do next with our plan", True),
        ("what should i do with the numbers once we have them", False),
        ("lots of people chose prefer not to say, what now", False),
        ("what should we do next to get more people applying from local schools", False),
    ],
)
def test_what_next_goes_to_the_data_only_when_it_names_nothing_else(
    question: str, routed: bool
) -> None:
    """ "What now?" after a topic is a question about that topic: ranked as asked."""
    ranker, asker = Ranker(guidance()), Asker(role=Audience.HR)
    assert is_next(question, asker, with_data=True, search=ranker.search) is routed


async def test_what_now_about_a_fact_gets_the_fact_not_the_data(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app(headcount=1000)
    await add(keyq, [(o, lvl, "", "") for lvl in LEVELS for o in ("prof", "routine")] * 5)
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("lots of people chose prefer not to say, what now")
    admin.expect('"I prefer not to say" answers')
    admin.expect_not("response rate is 4%")
    await admin.say("what should we do next?")  # nothing named: the data's strongest signal
    admin.expect("response rate is 4%")


@pytest.mark.parametrize(
    "question",
    [
        "the md thinks this is woke nonsense. how do i get him on side",
        "our managing director is sceptical, how do we get her on board",
    ],
)
def test_winning_over_the_top_of_the_organisation_is_leadership(question: str) -> None:
    hits = Ranker(guidance()).search(question, Asker(role=Audience.LINE_MANAGERS))
    assert hits and hits[0].key == "vision"


async def test_adopt_list_complete_and_check_in(make_app, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")
    await staff.say("tips how do I run fair interviews")
    await staff.tap("adopt it")
    staff.expect("Only admins and managers")
    admin = Person(keyq.engine, "hr-admin")
    await admin.say("advice how should we write promotion criteria")
    adopt = admin.choice_id("adopt it")
    await admin.send(choice=adopt)
    admin.expect("Added", "as #1")
    await admin.send(choice=adopt)  # a double tap adds nothing
    admin.expect("already in your plan as #1")
    await admin.say("plan")
    admin.expect("#1", "open since")
    clock.advance(days=31)
    await admin.say("help")
    admin.expect("Checking in on your plan", "Is it done?")
    await admin.tap("not yet")
    admin.expect("ask again later")
    await admin.say("help")
    admin.expect_not("Checking in")
    await admin.say("done 1")
    admin.expect("Marked #1 as done")
    await admin.say("done 1")
    admin.expect("no open action #1")
    await admin.say("plan")
    admin.expect("done")


def test_evaluation_set_is_honest_and_the_ranker_holds_its_floor() -> None:
    import hashlib

    qs = questions()
    on_topic = [q for q in qs if q.expect]
    assert len(on_topic) >= 150 and len([q for q in qs if not q.expect]) >= 30
    held = [q for q in on_topic if q.split == "held"]
    assert len(held) >= 75
    new = [
        q for q in qs if q.batch >= 2 or not q.text.startswith(tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ]
    for q in new:  # the halves were drawn once, by a hash of the text
        want = "tune" if hashlib.sha256(q.text.encode()).digest()[0] % 2 == 0 else "held"
        assert q.split == want, q.text
    ranker = Ranker(guidance())
    asker = Asker(role=Audience.LINE_MANAGERS)

    def top(q_list: list[Question], n: int) -> float:
        keys = [[h.key for h in ranker.search(q.text, asker)[:n]] for q in q_list]
        return sum(bool(set(k) & set(q.expect)) for k, q in zip(keys, q_list, strict=True)) / len(
            q_list
        )

    # Floors against regressions, not the targets (see README for the measured figures).
    # 85.5% / 94.4% measured with the sentence model; 81.9% / 93.9% with WordLlama before it;
    # 83.5% / 93.3% once batch 7 (harder, in other voices) joined, with the classifier;
    # 83.0% / 92.8% with batch 8; 83.9% / 93.0% with batch 9; 83.5% / 93.1% with batch 10;
    # 85.9% / 94.6% with the sentence model fine-tuned on the tuning half; 85.0% / 94.2% once
    # batch 11 joined; 83.8% / 93.5% with off-topic questions drawn together in the fine-tuning
    # and the off-topic neighbour check (off-topic answers 22 -> 4 of 166); 82.2% / 92.9% once
    # batch 12 joined; 81.9% / 93.3% with the model fine-tuned again, batch 12's part in.
    assert top(held, 1) >= 0.81
    assert top(held, 3) >= 0.92
    off = [q for q in qs if not q.expect]
    false = [bool(ranker.search(q.text, asker)) for q in off]
    first_30 = [f for f, q in zip(false, off, strict=True) if q.batch == 1]
    assert len(first_30) == 30 and sum(first_30) / 30 <= 0.1  # the target, on the first 30
    # Short inputs and workplace requests came later and are harder: floors, not the target.
    before = [f for f, q in zip(false, off, strict=True) if q.batch < 5]
    assert sum(before) / len(before) <= 0.15
    fifth = [f for f, q in zip(false, off, strict=True) if q.batch == 5]
    # 6 (40%) when the batch was written; 4 once one guidance word needs the sentence's
    # meaning near the guidance too; 3 once that meant a tip's or fact's meaning.
    assert len(fifth) == 15 and sum(fifth) <= 3
    sixth = [f for f, q in zip(false, off, strict=True) if q.batch == 6]
    # 7 (47%) when the batch was written; 2 once a tip's or fact's meaning had to be near
    # (a question asked before, nearer still).
    assert len(sixth) == 15 and sum(sixth) <= 2
    seventh = [f for f, q in zip(false, off, strict=True) if q.batch == 7]
    assert len(seventh) == 16 and sum(seventh) <= 2  # 1 when the batch was written
    eighth = [f for f, q in zip(false, off, strict=True) if q.batch == 8]
    assert len(eighth) == 15 and sum(eighth) <= 2  # 1 when the batch was written
    ninth = [f for f, q in zip(false, off, strict=True) if q.batch == 9]
    # 5 (33%) when the batch was written: a request with two of the guidance's words in it
    # ("are we getting a pay rise in april") passes the gate. A floor against it getting worse.
    assert len(ninth) == 15 and sum(ninth) <= 5
    tenth = [f for f, q in zip(false, off, strict=True) if q.batch == 10]
    # 2 when the batch was written; 3 with the fine-tuned sentence model (all 150 requests and
    # off-topic questions together: 17 false answers before it, 15 with it).
    assert len(tenth) == 15 and sum(tenth) <= 3
    eleventh = [f for f, q in zip(false, off, strict=True) if q.batch == 11]
    # 7 (44%) when the batch was written; 1 once a request nearer an off-topic question asked
    # before than anything keyq answers is off-topic too.
    assert len(eleventh) == 16 and sum(eleventh) <= 2
    twelfth = [f for f, q in zip(false, off, strict=True) if q.batch == 12]
    assert len(twelfth) == 16 and sum(twelfth) <= 2  # 1 when the batch was written


@pytest.mark.parametrize(
    ("question", "answered"),
    [
        ("we're out of milk in the kitchen", False),  # near a tuning question's style only
        ("need cover for my late on sunday", False),
        ("locked out of the expenses system", False),
        ("accent jokes in office", True),  # one word, and a question like it was asked before
        ("apprenticeships", True),
    ],
)
def test_one_word_of_the_guidance_needs_its_meaning_too(question: str, answered: bool) -> None:
    hits = Ranker(guidance()).search(question, Asker(role=Audience.LINE_MANAGERS))
    assert bool(hits) is answered, [h.key for h in hits[:3]]


@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        ("what's the benchmark for law firms?", ["Legal: 59% professional", "23% working class"]),
        ("what is a cliff edge?", ["one sudden drop", "pyramid"]),
        ("what response rate should we aim for?", ["two-thirds", "70%", "online toolkit"]),
        ("is this GDPR compliant?", ["Not legal advice", "GDPR"]),
        ("can I see which of my team said working class?", ["No. Nobody can"]),
        ("what counts as working class? my dad was an electrician", ["electrician"]),
        ("only 8 staff, can we still do this?", ["applicants", "trend"]),
        ("can I delete my answer", ["cannot be changed or deleted", "forget me"]),
        ("meant to pick working class but hit professional", ["cannot be changed"]),
        ("who will see this?", ["Nobody sees your answer"]),
        ("do I have to answer", ["It is your choice", "full reply"]),
        ("is this compulsory?", ["It is your choice"]),
        ("whats SMC", ["Social Mobility Commission", "Act of Parliament"]),
        ("my dad was a carpenter", ['Carpenter: the "Technical or craft" answer']),
        ("mum was a nurse, what group is that", ['Nurse: the "Professional" answer']),
        (
            "nurse mum and builder dad, which one",
            ['Nurse: the "Professional"', 'Builder: the "Technical or craft"', "main earner"],
        ),
    ],
)
async def test_facts_answer_where_a_manager_asks(
    make_app, question: str, fragments: list[str]
) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    manager = Person(keyq.engine, "new-manager")
    await manager.say("hello")  # the greeting is open: its buttons are showing
    await manager.say(question)
    manager.expect(*fragments)
    manager.expect("Source:")
    assert manager.last[-1].text == "When you're ready, carry on here:"
    assert manager.last[-1].choices[0].label == "Answer now"  # the open step is still there


REOFFER = "When you're ready, carry on here:"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # A manager keyq was not told about, as `keyq chat --as manager` plays one.
        ("what should we do next?", ["Making a plan:"]),
        ("next steps", ["Making a plan:"]),
        ("law firm benchmark", ["Legal: 59% professional"]),
        ("cliff edge meaning", ["one sudden drop"]),
        ("gdpr ok", ["Not legal advice"]),
        ("response rate target", ["two-thirds"]),
        ("help my team develop", ["Progression:"]),
        ("apprenticeships", ["apprentice"]),
    ],
)
async def test_short_and_unpunctuated_questions_are_answered_at_the_greeting(
    make_app, text: str, fragments: list[str]
) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    manager = Person(keyq.engine, "new-manager")
    await manager.say("hi")
    await manager.say(text)
    manager.expect(*fragments)
    manager.expect_not("didn't catch that")
    assert manager.last[-1].text == REOFFER
    assert manager.last[-1].choices[0].label == "Answer now"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("help me", "I ask one anonymous question"),
        ("help please", "I ask one anonymous question"),
        ("privacy policy", "How your answer is protected"),
        ("plan please", "action plan is empty"),
    ],
)
async def test_a_command_with_words_the_guide_cannot_use_is_still_the_command(
    make_app, text: str, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    manager = Person(keyq.engine, "manager")  # listed as a manager: may see the plan
    await manager.say(text)
    manager.expect(fragment)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "report shows fewer working class people at senior grades than the benchmark, "
            "next steps?",
            "Progression:",
        ),
        ("dashboard says fewer than 10 for our Leeds office, why no number", "threshold of 10"),
        ("remind me, which buckets do the answers end up in", "The three groups"),
        # Not asked as a question, but a fact clearly answers it
        ("remind me of the precise question staff get asked", "The key question"),
        ("dashboard leaves the Leeds team empty though they replied", "threshold of 10"),
    ],
)
async def test_a_question_starting_with_a_command_the_asker_may_not_use_is_a_question(
    make_app, text: str, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")  # not an admin, not a listed manager
    await staff.say(text)
    staff.expect(fragment)
    staff.expect_not("only for the core HR team")
    await staff.say("report")  # the command alone is still the command
    staff.expect("only for the core HR team")
    await staff.say("remind me to water the plants")  # not a question the guide can answer
    staff.expect("only for the core HR team")
    await staff.say("report for my team please")  # asks for the command: no fact answers it
    staff.expect("only for the core HR team")


async def test_stop_on_its_own_says_how_to_stop_reminders_or_be_forgotten(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")
    await staff.say("stop")
    staff.expect("stop reminders", "forget me")


async def test_small_talk_at_a_step_gets_the_step_again(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")
    await staff.say("hi")
    for text in ("ok", "thanks", "hello"):
        await staff.say(text)
        staff.expect("didn't catch that")
        assert staff.last[0].choices[0].label == "Answer now"


async def test_an_unanswerable_question_says_so_and_keeps_the_step(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    staff = Person(keyq.engine, "someone")
    await staff.say("hi")
    await staff.say("how many days holiday do I have left")
    staff.expect("don't have guidance on that")
    assert staff.last[-1].text == REOFFER


@pytest.mark.parametrize(
    ("text", "block"),
    [
        ("how do I convince my CEO this matters", "vision"),
        ("nobody from the warehouse ever becomes a manager", "progression"),
    ],
)
async def test_a_question_naming_a_job_at_the_key_question_is_a_question(
    make_app, text: str, block: str
) -> None:  # type: ignore[no-untyped-def]
    manager = await at_the_key_question((await make_app()).engine, "new-manager")
    await manager.say(text)
    manager.expect_not("Did you mean")
    assert first_block(manager) == block
    assert manager.last[-1].text == REOFFER
    assert manager.last[-1].choices[0].label == "Professional"


@pytest.mark.parametrize(
    "text",
    [
        "whats the point of asking about someones dad's job in 2026",  # batch 19
        "whats my dad's job got to do with my work",
        "hows my mum's job relevant",
        "whys my dad's job matter",
    ],
)
async def test_a_question_typed_without_its_apostrophe_is_still_a_question(
    make_app, text: str
) -> None:  # type: ignore[no-untyped-def]
    """ "whats", "whys", "hows": as people text. Naming a parent, it was taken for an answer in
    their own words that matched no option, and they got the options again."""
    person = await at_the_key_question((await make_app()).engine, "texter")
    await person.say(text)
    person.expect_not("can't tell which answer")
    assert "Source:" in person.last[0].text
    assert person.last[-1].text == REOFFER
    assert person.last[-1].choices[0].label == "Professional"


async def test_two_parents_jobs_at_the_key_question_say_whose_counts(make_app) -> None:  # type: ignore[no-untyped-def]
    """Two jobs in different groups are not guessed between (the longer word won before):
    where each falls and that the main earner's counts, then the question again."""
    keyq = await make_app()
    person = await at_the_key_question(keyq.engine, "two-earners")
    await person.say("my mum was a nurse and my dad a builder")
    person.expect_not("Did you mean")
    person.expect('Nurse: the "Professional" answer', "Builder:", "main earner's job")
    person.expect("whoever brought in the most money")
    assert person.last[-1].text == REOFFER
    assert person.last[-1].choices[0].label == "Professional"
    assert await keyq.store.counts("workforce") == (0, 0)


async def test_a_few_words_while_an_answer_is_expected_are_taken_as_an_answer(make_app) -> None:  # type: ignore[no-untyped-def]
    """At a follow-up, "team leader" is someone's level in their own words, not a question for
    the guide (which has tips on team leaders): they get the step again, and how to ask."""
    worker = await at_the_key_question((await make_app()).engine, "worker")
    await worker.tap("Professional")
    worker.expect("Level?")
    # "from home" brushes a fact (how answers are protected), as own words typed for a
    # follow-up often do: only a clear match is a question about the method.
    for text in ("team leader", "apprentice", "warehouse", "from home", "driver"):
        await worker.say(text)
        worker.expect("didn't catch that")
        assert [c.label for c in worker.last[-1].choices][:2] == ["Entry", "Supervisor"]
        # How to ask, where the guide has something on the words ("warehouse" is nearer the
        # off-topic requests than anything the guidance says). A lone "driver" sits on the
        # line (the working-class fact names drivers; so do tuning questions), either way.
        if text == "warehouse":
            worker.expect_not("question mark")
        elif text != "driver":
            worker.expect("question mark")
    await worker.say("team leader?")  # asked: answered, and the step comes back
    assert first_tip(worker) is not None
    assert worker.last[-1].text == REOFFER
    await worker.say("cliff edge meaning")  # about the method: no answer would say that
    worker.expect("one sudden drop")


async def test_a_topic_at_the_key_question_is_answered_but_own_words_are_not(make_app) -> None:  # type: ignore[no-untyped-def]
    """At the key question, answers in someone's own words name a job or a workplace: a few
    words that name none and that a tip or a fact matches well enough ("apprenticeships",
    "retail norms") ask for guidance, as they do at the greeting (before, they got the
    question again with how to ask). Own words still get the question again or "did you
    mean", never a tip or a fact, and nothing is stored either way."""
    keyq = await make_app()
    person = await at_the_key_question(keyq.engine, "topics")
    # "grad scheme" and "posh culture" match their tips less strongly than a fact's phrase
    # (3.2 and 3.9 against 4.0): enough where own words name a job, not at a follow-up.
    topics = (("apprenticeships", "talent"), ("grad scheme", "talent"), ("posh culture", "culture"))
    for text, block in topics:
        await person.say(text)
        person.expect_not("didn't catch that")
        assert first_block(person) == block
        assert person.last[-1].text == REOFFER
        assert person.last[-1].choices[0].label == "Professional"
    await person.say("retail norms")  # a fact about the method, not only a tip
    person.expect("Benchmarks", "UK workforce: 37% professional")
    assert person.last[-1].text == REOFFER
    own_words = (
        "warehouse",
        "factory",
        "own business",
        "not sure",
        "apprentice",
        "office job",
        "team leader",
        "middle management",
    )
    for n, text in enumerate(own_words):
        other = await at_the_key_question(keyq.engine, f"own-words-{n}")
        await other.say(text)
        assert first_tip(other) is None, text
        assert all(reply.text != REOFFER for reply in other.last), text
        other.expect_not("Source:")
    assert await keyq.store.counts("workforce") == (0, 0)


async def test_a_question_half_way_through_keeps_the_answer_so_far(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    worker = await at_the_key_question(keyq.engine, "worker", greeting="start")
    await worker.say("who will see this?")
    worker.expect("Nobody sees your answer")
    await worker.tap("Routine")
    await worker.say("who will see this?")  # half-way through the follow-ups
    worker.expect("Nobody sees your answer")
    await worker.tap("prefer not")
    worker.expect("thank you")
    assert await keyq.store.counts("workforce") == (1, 1)
    await worker.say("can I delete my answer")
    worker.expect("forget me")
    worker.expect_not("Explain why you ask")


async def test_a_fact_asked_half_way_through_answering_offers_no_managers_tip(make_app) -> None:  # type: ignore[no-untyped-def]
    """Someone answering who asks how their answer is kept gets the fact and the open step, not
    the offer of a tip written for managers; at the greeting, and for a known manager, the
    offer stays."""
    keyq = await make_app()

    def offers_a_tip(person: Person) -> bool:
        return any(c.label == "A tip on this" for r in person.last for c in r.choices)

    worker = await at_the_key_question(keyq.engine, "worker")
    await worker.say("be honest, is it properly anonymous?")
    worker.expect("How answers are protected")
    assert not offers_a_tip(worker)
    assert worker.last[-1].text == REOFFER
    await worker.tap("Routine")
    await worker.say("what is a cliff edge?")  # a follow-up open
    worker.expect("one sudden drop")
    assert not offers_a_tip(worker)
    at_greeting = Person(keyq.engine, "someone")
    await at_greeting.say("hi")
    await at_greeting.say("what is a cliff edge?")
    at_greeting.expect("one sudden drop")
    assert offers_a_tip(at_greeting)
    manager = await at_the_key_question(keyq.engine, "manager")
    await manager.say("what is a cliff edge?")
    manager.expect("one sudden drop")
    assert offers_a_tip(manager)


async def test_a_tips_buttons_keep_the_open_step_underneath(make_app) -> None:  # type: ignore[no-untyped-def]
    """With a step open, "Another tip", "Why this?", "Adopt it" and "A tip on this" each answer
    and offer the step again underneath, as the first answer did: before, the step was gone
    after the first tap, and the person had to find the old message to answer."""
    keyq = await make_app()
    manager = await at_the_key_question(keyq.engine, "manager")
    await manager.say("how do I help my team progress?")
    first = manager.last[0].text
    for label in ("Another tip", "Why this?", "Adopt it"):
        await manager.tap(label)
        assert manager.last[-1].text == REOFFER, label
        assert manager.last[-1].choices[0].label == "Professional", label
    assert manager.last[0].text != first and "action plan" in manager.last[0].text
    await manager.tap("Professional")  # the answer after the tips counts
    assert await keyq.store.counts("workforce") == (1, 1)
    at_greeting = Person(keyq.engine, "someone")
    await at_greeting.say("hi")
    await at_greeting.say("what is a cliff edge?")
    await at_greeting.tap("A tip on this")
    assert first_tip(at_greeting) is not None
    assert at_greeting.last[-1].text == REOFFER
    assert at_greeting.last[-1].choices[0].label == "Answer now"
    await at_greeting.tap("Not now")  # nothing open: a tip comes alone
    await at_greeting.say("what is a cliff edge?")
    await at_greeting.tap("A tip on this")
    assert first_tip(at_greeting) is not None and at_greeting.last[-1].text != REOFFER


async def test_forget_me_removes_the_contact_record(make_app) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    person = Person(keyq.engine, "leaver", channel=Channel.TELEGRAM)
    await person.send(text="start")
    await person.say("forget me")
    person.expect("removed")


def test_every_block_has_tips_for_each_audience_somewhere() -> None:
    g = guidance()
    assert set(g.blocks) == {"vision", "talent", "culture", "progression", "data", "plan"}
    for block in g.blocks:
        assert [t for t in g.tips if t.block == block]
    for audience in Audience:
        assert [t for t in g.tips if audience in t.suits]


def test_sentence_vectors_load_from_the_package_and_mean_something() -> None:
    """The model and tokenizer are keyq's own files (no download); an empty text gets a zero
    vector, others unit length, and related phrasings sit closer than unrelated ones."""
    from guidance import dense

    assert dense.MODEL.is_file() and dense.TOKENIZER.is_file()
    vectors = dense.embed(
        ["", "how do I get my team promoted", "help staff move up into senior roles", "bananas"]
    )
    assert not vectors[0].any()
    assert np.allclose(np.linalg.norm(vectors[1:], axis=1), 1.0, atol=1e-5)
    assert vectors[1] @ vectors[2] > vectors[1] @ vectors[3] + 0.2
    # A text's vector is its own, whatever it is embedded with (no batch-wide scaling).
    dense.forget()
    alone = dense.embed(["help staff move up into senior roles"])[0]
    dense.forget()
    beside = dense.embed(["bananas", "help staff move up into senior roles", "x " * 300])[1]
    assert np.array_equal(alone, beside)
    # What people type is not kept once its vector is made; the guidance's own texts are.
    Ranker(guidance()).search(
        "my dad was a lighthouse keeper, is that working class?", Asker(role=Audience.LINE_MANAGERS)
    )
    assert not any("lighthouse" in text for text in dense._remembered)
    assert any(tip.title in text for tip in guidance().tips for text in dense._remembered)


def test_the_shipped_model_files_are_the_ones_documented() -> None:
    """guidance/model/SOURCE.md records each file's sha256: a truncated or swapped model (or a
    Git LFS pointer in its place) fails here, not as odd rankings."""
    import hashlib
    import re

    from guidance import dense

    recorded = dict(
        (name, digest)
        for digest, name in re.findall(
            r"^([0-9a-f]{64})  (\S+)$", (dense.FOLDER / "SOURCE.md").read_text(), re.M
        )
    )
    for path in (dense.MODEL, dense.TOKENIZER):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name]


def test_the_ranker_leaves_logging_to_keyq() -> None:
    """Building the ranker (and so loading the sentence model) adds no logging handler: what
    keyq keeps at WARNING is not logged at INFO by a library that configured the root logger."""
    import subprocess
    import sys

    code = (
        "import logging, sys; from guidance.ranker import Ranker; "
        "from guidance.content import guidance; Ranker(guidance()); "
        "print(len(logging.getLogger().handlers), logging.getLogger().level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", str(logging.WARNING)]
    assert not out.stderr


@pytest.mark.parametrize(
    ("question", "jobs"),
    [
        ("my mum was a nursery nurse", [("nursery nurse", "clerical")]),  # not "nurse"
        ("nurse mum and bus driver dad", [("nurse", "prof"), ("bus driver", "routine")]),
        ("dad ran a pub", [("ran a pub", "smallbiz")]),
        ("how do we get more nurses into management", []),  # no job named as listed
        # The asker's own job or a colleague is not a parent's.
        ("I'm a nurse, my dad was a builder, which group", [("builder", "craft")]),
        ("telecoms engineer here. why does my employer care what my mum did", []),
        ("would my supervisor ever get told which option I chose", []),
        ("as a teacher, why ask about my parents", []),
        ("my dad worked as a plumber", [("plumber", "craft")]),
        ("my nurse mum and my builder dad", [("nurse", "prof"), ("builder", "craft")]),
        # An owner is named by what they did, not a listed word ("hairdresser" is not said)
        ("mum ran her own hairdressing salon", [("own business", "smallbiz")]),
        ("dad had a shop job", []),  # a job in a shop, not one's own
        ("dad ran his own plumbing firm", [("own business", "smallbiz")]),  # no plumber
        ("mother did night cleaning at a hospital", [("cleaning", "routine")]),
    ],
)
def test_the_jobs_a_question_names_are_found_in_its_order(
    question: str, jobs: list[tuple[str, str]]
) -> None:
    from guidance.ranker import named_jobs

    assert [(word, option.id) for word, option in named_jobs(question)] == jobs


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("is a shop manager working class?", "f_groups"),
        ("electrician working class", "f_working_class"),
        ("my dad was a carpenter", "f_working_class"),
        ("which group is a nurse", "f_groups"),
        ("where does a taxi driver fit", "f_working_class"),  # where it goes, not which
        ("where would a shop manager go", "f_groups"),
        ("coach driver, which bracket", "f_working_class"),  # a bracket or a box is a group
        ("postman, which box", "f_working_class"),
        ("does my line manager get told which box i ticked", None),  # someone's answer
        ("where do our drivers go after a year", None),  # no job of the key question's
        ("more working class managers", None),  # about people to promote, not a job's group
        ("working class share falls off at manager level", None),
        ("my dad owned a small shop", "f_groups"),  # an owner: intermediate, not a trade
        ("dad had his own plumbing firm, which group", "f_groups"),
        ("mum ran the shop floor at a supermarket", None),
        # Two parents' jobs in different groups: whose job counts is the question
        ("my mum was a nurse and my dad was unemployed, what do i choose", "f_key_question"),
        ("nurse mum and builder dad, which one", "f_key_question"),
        ("mum was a teacher and dad a nurse, which group", "f_groups"),  # the same group
    ],
)
def test_a_job_goes_to_its_group_only_when_its_group_is_asked(
    question: str, fact: str | None
) -> None:
    from guidance.ranker import parent_job

    assert parent_job(question) == fact


@pytest.mark.parametrize(
    ("question", "definition_first"),
    [
        ("what counts as working class", True),
        ("working class", True),
        # Not in the evaluation set (whose tuning half the ranker also learns from).
        ("sponsoring working class juniors", False),
        ("working class colleagues feel left out", False),
        ("how do we keep working class talent", False),
    ],
)
def test_working_class_points_at_the_definition_only_when_asked_what_it_means(
    question: str, definition_first: bool
) -> None:
    hits = Ranker(guidance()).search(question, Asker(role=Audience.LINE_MANAGERS))
    assert hits
    if definition_first:
        assert hits[0].key == "f_working_class"
    else:  # a tip, not a fact that merely says "working class" too
        assert hits[0].tip is not None, hits[0].key


@pytest.mark.parametrize(
    ("question", "shown"),
    [
        ("in film and tv what's the split", "Film, TV, video, radio, photography: 49%"),
        ("what should an architecture practice expect", "Architecture: 50% professional"),
        ("what does good look like for a bank", "Financial services: 45% professional"),
        ("typical figures for accountancy firms?", "Accounting: 39% professional"),
        # After one benchmark, another sector's, asked the way people follow up.
        ("what about the NHS?", "no published sector figure"),
        ("and banks?", "Financial services: 45% professional"),
        ("how about publishers", "Publishing: 50% professional"),
        # A sector with no published figure, named by its shops (batch 22)
        ("supermarket chain here, is our split typical", "no published sector figure"),
    ],
)
async def test_a_sector_and_a_figure_asked_for_get_the_benchmark(
    make_app, question: str, shown: str
) -> None:  # type: ignore[no-untyped-def]
    """A sector's own words are no guidance words: naming one and asking for a figure is
    enough to be answered with its benchmark."""
    keyq = await make_app()
    manager = Person(keyq.engine, "new-manager")
    await manager.say("hi")
    await manager.say(question)
    manager.expect("Benchmarks", shown, "UK workforce: 37% professional")


@pytest.mark.parametrize(
    "question",
    [
        "our trainee intake is 90% from private schools",  # a figure given, not asked for
        "should we publish our figures externally",  # publishing, the verb
        "what time does the bank open",  # a sector, no figure asked for
        "what about the bank holiday rota",  # "what about", but no sector after it
    ],
)
def test_a_sector_word_alone_is_not_a_benchmark_question(question: str) -> None:
    hits = Ranker(guidance()).search(question, Asker(role=Audience.LINE_MANAGERS))
    assert not hits or hits[0].key != "f_benchmark"


@pytest.mark.parametrize(
    ("question", "first"),
    [
        # Taking back one's own answer, in words no tip or fact uses: not a workplace request
        # (by its meaning it was nearer a workplace request asked before than any tip or fact).
        ("can i change what i put last week", "f_delete"),
        # A report's hidden figure as it looks
        ("the dashboard shows a dash instead of a number for our IT team", "f_threshold"),
        ("the report has a dash where my team should be", "f_threshold"),
        # Going for promotion, and the jobs it is going for, in words no tip uses
        ("quieter staff don't put themselves forward, what can I do", "progression"),
        ("how do we open up internal vacancies to shop floor staff", "progression"),
        # Rising to a grade, named as people in a trade name it (batch 19)
        ("porters never become head porter here", "progression"),
        ("our care assistants hardly ever become senior carers, why", "progression"),
        ("clear criteria for making senior associate, where do i start", "progression"),
        (
            "nobody from a state school has made partner in ten years, what would help",
            "progression",
        ),
        # Too few answers to show, counted by the asker: not a headcount (batch 19)
        ("if only 6 people in our lab answered, can I see their split?", "f_threshold"),
        ("just 4 of us replied in accounts, will it show our figures", "f_threshold"),
        # Being left out is what inclusion is about (batch 20)
        ("our golf society is excluding the apprentices, what do I do", "culture"),
        # Rising to a grade by a route (batch 20)
        ("sales managers come up through knowing the owner, how do we change that", "progression"),
        # A figure to hope for is a target ("should we be hoping for", batch 20)
        ("what percentage back should we be hoping for in year one", "f_response_rate"),
        # Getting to a grade is rising to it (batch 21)
        (
            "police force, constables from working class backgrounds rarely get to inspector. "
            "advice",
            "progression",
        ),
        # A leadership or management programme is a step up, not the leaders (batch 22)
        ("our management programme only takes graduates, how do we open it up", "progression"),
        # A parent as people say it in the north, Scotland and Ireland (batch 23)
        ("my mam was a cleaner", "f_working_class"),
        # What answering does for the person asked is why we ask (batch 23)
        (
            "council children's services, social workers keep asking whats in it for them",
            "f_why_parents",
        ),
        # A supervisor introducing themselves is not asking about promotion (batch 23)
        (
            "courier hub supervisor: lads laugh at anyone who talks posh. how do i handle it",
            "culture",
        ),
        # A share given as so many in every 100 is a rate (batch 23)
        ("only 55 in every 100 filled it in. can we rely on that", "f_response_rate"),
        # The chair of the board is its leader (batch 23)
        ("the chairwoman wants a slide on this for the AGM, what do we say", "vision"),
        ("our chair says class is a political thing. how do i handle that", "vision"),
        # A ceiling hit is a barrier to rising (batch 24)
        ("technicians without degrees hit a ceiling at senior tech. what can we do", "progression"),
        ("is there a class ceiling in our branch network", "progression"),
        # What a family has to do with the job, or none of our business: why we ask (batch 24)
        ("whats my family background got to do with stacking shelves", "f_why_parents"),
        ("what has my upbringing got to do with driving a forklift", "f_why_parents"),
        ("drivers say the question is none of the company's business", "f_why_parents"),
        ("cleaners reckon this is none of HR's business", "f_why_parents"),
        # The "Other" answer, chosen (batch 24)
        ("loads of people ticked other. how do we treat those in the figures", "f_other"),
        ("half my shift went for 'other', what happens to those", "f_other"),
        # Words that only stress leave a fact's phrase whole (batch 24)
        ("hang on who actually reads these answers", "f_who_sees"),
        # Rather not answering, said first, asks whether one must (batch 25)
        ("dont want to do it, is that ok", "f_voluntary"),
        ("i really don't fancy answering this", "f_voluntary"),
        ("staff dont want to do the training, ideas", "culture"),  # not about answering
        # A few staff in each of many sites: too few to report a site on, not a small firm
        ("we have 40 branches with about 6 people each, can we see each branch", "f_threshold"),
        ("small bakery, 8 staff, worth doing?", "f_small_org"),
        # What keyq keeps about someone, wanted gone (batch 25)
        ("pls take my number off this thing", "f_delete"),
        ("can you get rid of my details", "f_delete"),
        # Rather not, put politely (batch 30)
        ("id sooner pass on this", "f_voluntary"),
        ("I'll pass thanks", "f_voluntary"),
        # Another go at the question is changing one's answer (batch 31)
        ("can i have another go at the question", "f_delete"),
    ],
)
def test_questions_in_words_no_tip_uses_are_still_answered(question: str, first: str) -> None:
    """Asked of a ranker that has learnt from every tuning question but this one, as a new
    question would be."""
    examples = tuple(q for q in questions() if q.split == "tune" and q.text != question)
    hits = Ranker(guidance(), examples=examples).search(
        question, Asker(role=Audience.LINE_MANAGERS)
    )
    assert hits and hits[0].key == first


@pytest.mark.parametrize(
    ("text", "rise"),
    [
        ("reporters leave before making editor", True),  # batch 31
        ("hardly any of our PCs made sergeant", True),
        ("sous chefs rarely make head chef", False),  # "head chef": not a grade named alone
        ("make managers accountable for it", False),  # plural: managers are what is made
        ("how do i make manager aware of this", False),
    ],
)
def test_making_a_grade_named_alone_is_rising_to_it(text: str, rise: bool) -> None:
    from guidance.ranker import RISE

    assert (RISE.search(text) is not None) is rise


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("loads of people ticked other.", True),
        ("what if i put 'other'", True),
        ("most chose other or prefer not to say", True),
        ("we picked other providers for the survey", False),  # another noun: not the answer
        ("they said other things too", False),
        ("i ticked other by mistake", True),  # chosen; a slip is what the ranker answers
    ],
)
def test_the_other_answer_chosen_is_told_apart_from_other_things(text: str, chosen: bool) -> None:
    from guidance.ranker import CHOSE_OTHER

    assert (CHOSE_OTHER.search(text) is not None) is chosen


def test_a_slip_onto_other_is_about_changing_the_answer() -> None:
    hits = Ranker(guidance()).search(
        "i ticked other by mistake", Asker(role=Audience.LINE_MANAGERS)
    )
    assert hits and hits[0].key == "f_delete"


@pytest.mark.parametrize(
    ("text", "rise"),
    [
        ("constables rarely get to inspector", True),
        ("porters never get to be supervisors", True),
        ("nobody here got to partner", True),
        ("lab techs never make it to scientist grade", True),
        ("few cleaners make it to band 4", True),
        ("most applicants never make it to the interview stage", False),
        ("the night shift never get to head office", False),
        ("staff can't get to the managers with ideas", False),
        ("new starters should get to know the directors", False),
    ],
)
def test_getting_or_making_it_to_a_grade_reads_as_rising_and_elsewhere_does_not(
    text: str, rise: bool
) -> None:
    from guidance.ranker import normal

    assert ("progression" in normal(text).split()) is rise


@pytest.mark.parametrize(
    ("question", "left"),
    [
        ("courier hub supervisor: lads laugh at posh talk", ": lads laugh at posh talk"),
        ("hotel supervisor here, my team think it's a trick", " here, my team think it's a trick"),
        ("as a team leader, can I see who answered", ", can I see who answered"),
        # Becoming one is what promotion is about: kept
        ("promoted to supervisor, now what", "promoted to supervisor, now what"),
        ("i want to be a team leader. how", "i want to be a team leader. how"),
        (
            "our supervisor keeps asking, what do i say",
            "our supervisor keeps asking, what do i say",
        ),
    ],
)
def test_a_supervisor_introducing_themselves_is_not_a_question_about_promotion(
    question: str, left: str
) -> None:
    from guidance.ranker import OWN_ROLE

    assert OWN_ROLE.sub("", question) == left


@pytest.mark.parametrize(
    ("text", "earner"),
    [
        ("my mam was a cleaner", True),
        ("me da drove buses", True),
        ("my old man was a joiner", True),
        ("can my pa see my answer", False),  # a PA is a job
        ("my old manager was a joiner", False),
        ("my manager asked me to fill it in", False),
    ],
)
def test_a_parent_is_named_in_dialect_too(text: str, earner: bool) -> None:
    from survey.content import NAMES_EARNER

    assert (NAMES_EARNER.search(text) is not None) is earner


def test_a_headcount_is_read_from_the_size_named_and_not_from_those_who_answered() -> None:
    from guidance.ranker import small_headcount

    for sized in (
        "we're a translation agency of 9",
        "a consultancy of 40, worth it?",
        "a trawler co-op with 22 crew",  # a crew, or hands, is a headcount too (batch 22)
        "12 hands on the farm",
    ):
        assert small_headcount(sized), sized
    for not_sized in ("a practice of 30 years' standing", "a firm of 2,000", "a firm of 120"):
        assert not small_headcount(not_sized), not_sized
    # Six who answered is why figures are hidden, not the size of the organisation
    hits = Ranker(guidance()).search(
        "only 6 people in the lab answered, what will the report show",
        Asker(role=Audience.HR),
    )
    assert hits and hits[0].key == "f_threshold"


@pytest.mark.parametrize(
    ("word", "question", "blocks"),
    [
        # A secondment is a stretch assignment by another name (batch 17)
        (
            "secondment",
            "the interesting secondments keep landing with whoever shouts loudest",
            {"progression"},
        ),
        # A quota is an objective a plan sets, and whether to set one a leader's call
        ("quota", "should we set quotas", {"plan", "vision"}),
        # A job the options do not list is what "Other" is for (batch 20)
        ("army", "grandad was in the army, theres no option for that", {"f_other"}),
    ],
)
def test_a_word_no_tip_uses_is_read_as_the_one_it_means(
    word: str, question: str, blocks: set[str]
) -> None:
    """Asked of a ranker that learnt from no question using the word, each got nothing."""
    examples = tuple(q for q in questions() if q.split == "tune" and word not in q.text)
    hits = Ranker(guidance(), examples=examples).search(
        question, Asker(role=Audience.LINE_MANAGERS)
    )
    assert hits and hits[0].key in blocks


def test_a_mistake_that_is_not_a_wrong_tap_is_not_about_changing_an_answer() -> None:
    question = "most of our managers became managers by accident"
    hits = Ranker(guidance()).search(question, Asker(role=Audience.LINE_MANAGERS))
    assert hits and hits[0].key != "f_delete"


@pytest.mark.parametrize(
    ("question", "shown", "not_shown"),
    [
        ("benchmark for finance", "Financial services: 45% professional", "no published"),
        ("what about insurers", "Financial services: 45% professional", "no published"),
        ("benchmark for our law firm", "Legal: 59% professional", "no published"),
        ("retail benchmark", "no published sector figure", "name yours"),
        ("NHS benchmark", "no published sector figure", "name yours"),
        ("media industry benchmark", "Creative industries: 52% professional", "no published"),
        ("benchmark for a PR firm", "Advertising and marketing: 60%", "no published"),
        ("newspaper benchmark", "Publishing:", "no published"),
        ("benchmark for the big four", "Accounting: 39% professional", "no published"),
        ("magic circle benchmark", "Legal: 59% professional", "no published"),
        ("hedge fund benchmark", "Financial services: 45% professional", "no published"),
        ("building society benchmark", "Financial services: 45% professional", "name yours"),
        ("airline benchmark", "no published sector figure", "name yours"),
        ("benchmark for a games studio", "no published sector figure", "name yours"),
        ("housing association benchmark", "no published sector figure", "name yours"),
        ("broadcasters benchmark", "Film, TV, video, radio, photography:", "no published"),
        ("benchmark for professional services", "Financial and professional", "Advertising"),
        ("median benchmark for progression", "name yours", "Creative"),
        ("benchmark", "name yours", "no published"),
    ],
)
def test_a_named_sector_gets_its_figure_or_is_told_there_is_none(
    question: str, shown: str, not_shown: str
) -> None:
    from bot.guide import benchmark_text

    text = benchmark_text(question)
    assert "UK workforce: 37% professional" in text
    assert shown in text and not_shown not in text


def test_a_question_about_ones_own_answer_gets_the_staff_side_fact() -> None:
    hits = Ranker(guidance()).search(
        "will my supervisor see my response", Asker(role=Audience.LINE_MANAGERS)
    )
    assert hits[0].key == "f_who_sees"  # not the managers' "can a manager see who said what"


@pytest.mark.parametrize("question", ["who will see this?", "can I delete my answer", "why ask"])
async def test_a_staff_side_fact_offers_no_managers_tip(make_app, question: str) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    worker = Person(keyq.engine, "worker")
    await worker.say("hi")
    await worker.say(question)
    assert "Source:" in worker.last[0].text
    assert not worker.last[0].choices  # no "A tip on this" leading to a manager's tip


def test_a_misspelt_word_is_read_as_the_word_it_misspells() -> None:
    ranker = Ranker(guidance())
    asker = Asker(role=Audience.LINE_MANAGERS)
    assert ranker.correct("reccomend how to improve progresion") == (
        "reccomend how to improve progression"
    )
    assert ranker.search("recruting from diffrent backgrounds", asker)[0].key == "talent"
    assert ranker.search("responce rate", asker)[0].key in ("data", "f_response_rate")
    # Real words stay as they are, however close to a word of the guidance's ("project" is
    # one letter from "protect"; "uniform" is near "inform"), so nothing becomes relevant.
    # Nor is another form of a word it knows, which may mean something else to it: "he was a
    # solicitor" is an answer to the key question, not a question about law firms.
    for real in (
        "recommend a good project management tool",
        "I need a new uniform",
        "he was a solicitor",
        "our cleaners and porters",
    ):
        assert ranker.correct(real) == real
    assert ranker.search("new uniform", asker) == []


async def test_a_question_is_searched_once_to_judge_and_answer_it(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    keyq = await make_app()
    searched: list[str] = []
    search = Ranker.search

    def counted(self: Ranker, question: str, asker: Asker) -> list[object]:
        searched.append(question)
        return search(self, question, asker)  # type: ignore[return-value]

    monkeypatch.setattr(Ranker, "search", counted)
    manager = Person(keyq.engine, "new-manager")
    await manager.say("hello")
    searched.clear()
    await manager.say("cliff edge meaning")  # short: judged by what the guide would answer
    manager.expect("one sudden drop")
    assert searched == ["cliff edge meaning"]
    await manager.say("law firm benchmark")  # a new question is searched afresh
    manager.expect("Legal: 59% professional")
    assert searched[1:] == ["law firm benchmark"]
    searched.clear()
    await manager.say("hiring, what now")  # a "what next?" naming a topic: ranked as asked
    manager.expect("Widening the talent pool")
    assert len(searched) == len(set(searched)) == 2  # what it names, then the question


def test_the_classifier_learns_which_label_a_vector_is_for() -> None:
    from guidance.classifier import learn

    rng = np.random.default_rng(7)
    centres = np.eye(3, 384, dtype=np.float32)

    def near(label: int, n: int) -> np.ndarray:
        points = centres[label] + 0.3 * rng.standard_normal((n, 384)).astype(np.float32) / 20
        return points / np.linalg.norm(points, axis=1, keepdims=True)

    vectors = np.vstack([near(label, 12) for label in range(3)])
    learnt = learn(vectors, ["culture"] * 12 + ["data"] * 12 + ["f_groups"] * 12)
    for label, name in enumerate(["culture", "data", "f_groups"]):
        probability = learnt.probabilities(near(label, 1)[0])
        assert max(probability, key=lambda k: probability[k]) == name
        assert abs(sum(probability.values()) - 1) < 1e-5


def test_the_classifier_lifts_cross_validated_answers_and_never_answers_off_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import guidance.ranker as ranker_module
    from bench.guidance_tune import halves

    folds, off_topic = halves()
    rankers = [Ranker(guidance(), examples=tuple(folds[1 - k])) for k in (0, 1)]
    asker = Asker(role=Audience.LINE_MANAGERS)

    def right() -> int:
        return sum(
            bool(hits := rankers[k].search(q.text, asker)) and hits[0].key in q.expect
            for k in (0, 1)
            for q in folds[k]
        )

    def answered() -> list[bool]:
        return [bool(r.search(q.text, asker)) for q in off_topic for r in rankers]

    monkeypatch.setattr(ranker_module, "CLASSIFIER_WEIGHT", 0.0)
    without, answered_without = right(), answered()
    monkeypatch.setattr(ranker_module, "CLASSIFIER_WEIGHT", 0.5)
    # 81.2% -> 84.8% when it was chosen: each fold ranked by what learnt from the other.
    assert right() >= without + 8
    # However much it counts, it only reorders what the ranker found relevant.
    monkeypatch.setattr(ranker_module, "CLASSIFIER_WEIGHT", 100.0)
    assert answered() == answered_without
