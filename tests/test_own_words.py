"""Everything keyq says is in our own words: no run of 7 words is lifted from the sources."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from survey.content import messages, question
from tests.conftest import SHARED

RUN = 7


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.casefold().replace("\u2019", "'"))


def runs(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + RUN]) for i in range(len(w) - RUN + 1)}


@pytest.fixture(scope="module")
def source_runs() -> set[tuple[str, ...]]:
    seeds = SHARED / "seeds"
    if not seeds.is_dir():
        raise AssertionError("tests/data/seeds is missing")
    found: set[tuple[str, ...]] = set()
    for path in seeds.glob("*.txt"):
        found |= runs(path.read_text(encoding="utf-8"))
    return found


def test_messages_are_not_copied_from_the_guide(source_runs: set[tuple[str, ...]]) -> None:
    dumped = messages().model_dump()
    texts = {**dumped.pop("reactions"), **dumped}  # the reactions' texts too
    assert len(texts) > len(dumped)
    for name, text in texts.items():
        copied = runs(text) & source_runs
        assert not copied, f"{name} repeats the guide: {' '.join(sorted(copied)[0])}"


def test_guidance_is_not_copied_from_the_sources(source_runs: set[tuple[str, ...]]) -> None:
    from guidance.content import guidance

    for tip in guidance().tips:
        for field in (tip.title, tip.text, tip.why):
            copied = runs(field) & source_runs
            assert not copied, f"tip {tip.id} repeats the sources: {' '.join(sorted(copied)[0])}"


def test_facts_are_not_copied_from_the_sources(source_runs: set[tuple[str, ...]]) -> None:
    from guidance.content import facts

    question_runs = runs(question().text)  # the standard wording may be quoted
    for fact in facts():
        for field in (fact.title, fact.answer):
            copied = (runs(field) & source_runs) - question_runs
            assert not copied, f"{fact.id} repeats the sources: {' '.join(sorted(copied)[0])}"


def test_the_check_catches_a_copied_sentence(source_runs: set[tuple[str, ...]]) -> None:
    lifted = "Make sure people understand why you are asking the question."
    assert runs(lifted) & source_runs


def test_question_wording_is_the_standard_one(source_runs: set[tuple[str, ...]]) -> None:
    # The one place the sources' wording must carry over unchanged.
    q = question()
    assert runs(q.text) <= source_runs
    assert runs(q.detail(q.options[0])) & source_runs


def test_survey_files_parse() -> None:
    root = Path(__file__).resolve().parents[1] / "survey"
    for path in root.glob("*.toml"):
        tomllib.loads(path.read_text(encoding="utf-8"))
