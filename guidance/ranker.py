"""Ranks tips for a free question with BM25 (rank-bm25), then fits them to who is asking."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from guidance.content import Audience, Guidance, Tip

STOPWORDS = frozenset(
    """
    a an and are as at be but by can do does for from have how i if in into is it its me my of
    on or our should so than that the their them there these they this to us was we what when
    where which who why will with would you your im we're were i'm about any get got just more
    most much no not only some such too very still already ever like been being tomorrow today
    """.split()
)
KEEP = frozenset({"no", "not"})  # "no HR" matters for small organisations
SMALL_WORDS = (
    "no hr",
    "small business",
    "small firm",
    "small company",
    "sme",
    "few of us",
    "tiny",
    "just me",
    "micro",
)
LINE_MANAGER_WORDS = (
    "my team",
    "my staff",
    "i manage",
    "my direct reports",
    "my people",
    "team member",
    "my shift",
    "my crew",
)
LEADER_WORDS = (
    "board",
    "ceo",
    "chief executive",
    "senior leader",
    "leadership team",
    "as a leader",
    "exec",
)
MINIMUM_SCORE = 1.2
"""Below this BM25 score nothing in the guidance is about the question."""


def stem(word: str) -> str:
    """A light suffix stripper so "promoted", "promotion" and "promotions" meet."""
    for suffix in ("ations", "ation", "ions", "ion", "ings", "ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.casefold())
    return [stem(w) for w in words if w in KEEP or w not in STOPWORDS]


@dataclass(frozen=True)
class Asker:
    """Who is asking, as far as guidance needs to know."""

    role: Audience
    small_org: bool = False


@dataclass(frozen=True)
class Ranked:
    tip: Tip
    score: float


class Ranker:
    """BM25 over each tip's title, text, tags (counted twice) and block name."""

    def __init__(self, guidance: Guidance) -> None:
        self.guidance = guidance
        self._tips = guidance.tips
        documents = []
        for tip in self._tips:
            block = guidance.blocks[tip.block]
            words = " ".join((tip.title, tip.text, " ".join(tip.tags) * 2, block.name))
            documents.append(tokens(words))
        self._bm25 = BM25Okapi(documents)

    def rank(self, question: str, asker: Asker) -> list[Ranked]:
        """Tips best first; empty when nothing is relevant to the question."""
        query = tokens(question)
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        role = infer(question, asker)
        ranked = []
        for tip, score in zip(self._tips, scores, strict=True):
            if score <= 0:
                continue
            boost = 1.0
            if role.role in tip.suits:
                boost += 0.25
            if role.small_org and Audience.SMALL_ORGS in tip.suits:
                boost += 0.35
            elif not role.small_org and tip.suits == (Audience.SMALL_ORGS,):
                boost -= 0.3
            ranked.append(Ranked(tip, float(score) * boost))
        ranked.sort(key=lambda r: (-r.score, r.tip.id))
        if not ranked or ranked[0].score < MINIMUM_SCORE:
            return []
        return ranked

    def by_block(self, block: str, asker: Asker) -> list[Tip]:
        """A block's tips, those suiting the asker first."""
        tips = [t for t in self._tips if t.block == block]
        return sorted(
            tips,
            key=lambda t: (
                asker.role not in t.suits,
                not (asker.small_org and Audience.SMALL_ORGS in t.suits),
            ),
        )


def infer(question: str, asker: Asker) -> Asker:
    """Refines the asker from what the question says about them."""
    text = question.casefold()
    small = asker.small_org or any(w in text for w in SMALL_WORDS)
    people = re.search(
        r"\b(?:we(?:'re| are)|we have|there are|only)\s+(\d+)\s+(?:people|staff|"
        r"employees)",
        text,
    )
    if people and int(people.group(1)) < 50:
        small = True
    role = asker.role
    if any(w in text for w in LINE_MANAGER_WORDS):
        role = Audience.LINE_MANAGERS
    elif any(w in text for w in LEADER_WORDS):
        role = Audience.LEADERS
    return Asker(role=role, small_org=small)
