"""Guidance as a person meets it: every evaluation question typed into a keyq conversation.

Run: python bench/guidance_turns.py [--misses tune]

Each question from guidance/eval.toml is typed by a new person (a line manager keyq has not been
told about, as `keyq chat --as manager` plays one) at three points: at the greeting, with the key
question open (after "Answer now"), and after answering. keyq runs on its embedded defaults
(SQLite in a temporary folder, no organisation file). For each point it reports, by half:

- answered: keyq answered with a tip or a fact (not "Sorry, I didn't catch that", not "I don't
  have guidance on that");
- right first answer: the first tip's block or the fact is one the question expects;
- step kept: where a step was open, it is offered again underneath with its buttons;
- off-topic: the share of off-topic questions and short inputs that got a tip or a fact;
- answers in own words: at the key question ("warehouse", "retired") and at each follow-up of
  an organisation that has three ("team leader"), the share of typed answers that keyq took
  for a question (lower is better).

--misses tune lists the tuning half's misses (never the held-out half's).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import App, build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from guidance.content import LAST_BATCH, Question, facts, guidance, questions  # noqa: E402
from tests.driver import Person, at_the_key_question  # noqa: E402

REOFFER = "When you're ready, carry on here:"
OWN_WORDS = (
    "team leader",
    "warehouse",
    "apprentice",
    "shop floor",
    "factory",
    "graduate",
    "senior manager",
    "middle management",
    "head office",
    "customer service",
    "call centre",
    "finance team",
    "IT support",
    "night shift",
    "driver",
    "admin",
    "trainee",
    "store manager",
    "north west",
    "from home",
)
"""Answers to follow-ups ("Your level?", "Your area?", "Where do you work?") in people's own
words, as staff type them instead of tapping: each should get the step again, not guidance."""
KEY_OWN_WORDS = (
    *OWN_WORDS,
    "nhs",
    "council",
    "railways",
    "the mines",
    "the pits",
    "the docks",
    "steelworks",
    "shipyard",
    "army",
    "military",
    "police",
    "fire brigade",
    "farm",
    "building site",
    "office job",
    "civil service",
    "post office",
    "bank",
    "hospital",
    "school",
    "tesco",
    "market stall",
    "pub",
    "printing",
    "own business",
    "self employed",
    "retired",
    "unemployed",
    "on benefits",
    "housewife",
    "carer",
    "single mum",
    "both worked",
    "dont know",
    "not sure",
)
"""What the main earner did, in a person's own words, as typed at the key question: a job, a
workplace or a situation, never a question. The follow-ups' own words come first (a level or
an area may be the earner's job: "team leader", "store manager"; they were added when
"apprentice" and then "team leader" got a tip at the key question), then the 35 of 40 written
before keyq read short topics there that the follow-ups' list lacks ("warehouse", "factory",
"shop floor", "call centre" and "head office" are in both): 55 in all."""
ORGANISATION = """
[organisation]
name = "Acme"
[followups.level]
question = "Your level?"
options = ["Entry", "Supervisor", "Manager", "Director"]
[followups.function]
question = "Your area?"
options = ["Operations", "Sales", "Finance", "HR", "IT"]
[followups.location]
question = "Where do you work?"
options = ["London", "Leeds", "Remote"]
"""


def first_answer(person: Person) -> str | None:
    """The key of the first tip (its block) or fact keyq replied with, if any."""
    g = guidance()
    titles = {f.title: f.id for f in facts()}
    headings = {f"{g.blocks[t.block].name}: {t.title}": t.block for t in g.tips}
    for reply in person.last:
        for line in reply.text.split("\n"):
            if line in titles:
                return titles[line]
            if line in headings:
                return headings[line]
    return None


async def greeting(person: Person) -> bool:
    await person.say("hi")
    return True


async def open_step(person: Person) -> bool:
    await person.say("hi")
    await person.tap("answer now")
    return True


async def answered(person: Person) -> bool:
    await person.say("hi")
    await person.tap("answer now")
    await person.tap("prefer not")
    while any(c.label.casefold().startswith("prefer not") for r in person.last for c in r.choices):
        await person.tap("prefer not")  # the follow-ups, if the organisation has any
    return False


POINTS: dict[str, Callable[[Person], Awaitable[bool]]] = {
    "at the greeting": greeting,
    "with the key question open": open_step,
    "after answering": answered,
}


async def measure(keyq: App, misses: bool) -> None:
    people = iter(range(1_000_000))
    for point, reach in POINTS.items():
        asked: dict[str, int] = defaultdict(int)
        said: dict[str, int] = defaultdict(int)
        right: dict[str, int] = defaultdict(int)
        kept: dict[str, int] = defaultdict(int)
        wrong: list[str] = []
        for q in questions():
            person = Person(keyq.engine, f"manager-{next(people)}")
            step_open = await reach(person)
            await person.say(q.text)
            got = first_answer(person)
            half = group(q)
            asked[half] += 1
            said[half] += got is not None
            right[half] += got is not None and got in q.expect
            if step_open:
                last = person.last[-1] if person.last else None
                kept[half] += bool(last and last.choices and (last.text == REOFFER or not got))
            if q.expect and q.split == "tune" and got not in q.expect:
                wrong.append(f"  {q.text!r}: got {got}, want {list(q.expect)}")
        print(f"{point}:")
        for half in ("tune", "held", *HELD_GROUPS.values(), "off-topic", *OFF_GROUPS.values()):
            n = asked[half]
            if not n:
                continue
            line = f"  {half:>20}: {n:3d}, answered {said[half] / n:6.1%}"
            if not half.startswith("off"):
                line += f", right first answer {right[half] / n:6.1%}"
            if point != "after answering":
                line += f", step kept {kept[half] / n:6.1%}"
            print(line)
        if misses:
            print("\n".join(wrong))


def group(q: Question) -> str:
    if not q.expect:
        return OFF_GROUPS.get(q.batch, "off-topic")
    if q.split == "held" and q.batch in HELD_GROUPS:
        return HELD_GROUPS[q.batch]
    return q.split


OFF_GROUPS = {
    3: "off-topic, short",
    4: "off-topic, requests",
    **{n: f"off-topic, batch {n}" for n in range(5, LAST_BATCH + 1)},
}
HELD_GROUPS = {
    3: "held, short inputs",
    4: "held, other voices",
    **{n: f"held, batch {n}" for n in range(5, LAST_BATCH + 1)},
}


async def own_words(keyq: App) -> None:
    """Each of KEY_OWN_WORDS typed at the key question, and each of OWN_WORDS at every
    follow-up, by a new person each time."""
    people = iter(range(1_000_000))
    taken = total = 0
    for text in KEY_OWN_WORDS:
        person = await at_the_key_question(keyq.engine, f"staff-kq-{next(people)}")
        await person.say(text)
        total += 1
        taken += first_answer(person) is not None
    print(
        f"answers in own words at the key question: {total}, taken for questions "
        f"{taken / total:.1%} (the rest get the question again, or which answer fits)"
    )
    taken = total = 0
    for depth in range(3):
        for text in OWN_WORDS:
            person = await at_the_key_question(keyq.engine, f"staff-{depth}-{next(people)}")
            await person.tap("Professional")
            for _ in range(depth):
                await person.tap(person.last[-1].choices[0].label)
            await person.say(text)
            total += 1
            taken += first_answer(person) is not None
    print(
        f"answers in own words at a follow-up: {total}, taken for questions {taken / total:.1%} "
        "(the rest get the step again)"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{folder}/keyq.db",
            keys_file=Path(folder) / "keyq.keys",
            config=Path(folder) / "keyq.toml",
        )
        keyq = await build(settings)
        try:
            await measure(keyq, misses="--misses" in sys.argv and "tune" in sys.argv)
        finally:
            await keyq.close()
        (Path(folder) / "org.toml").write_text(ORGANISATION, encoding="utf-8")
        keyq = await build(settings.model_copy(update={"config": Path(folder) / "org.toml"}))
        try:
            await own_words(keyq)
        finally:
            await keyq.close()


if __name__ == "__main__":
    asyncio.run(main())
