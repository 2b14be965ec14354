"""The words people use for the sectors the Commission publishes figures for, and for some it
does not: for the benchmark answer (bot/guide.py) and the ranker's cue for it."""

from __future__ import annotations

import re

SECTOR_WORDS = {  # the start of a word, as a regular expression (\b ends a whole word)
    "financial_professional_services": ("financial and professional", "professional services"),
    "management_consultancies": ("consultanc", "consulting", "consultant"),
    "legal": ("law", "legal", "solicitor", "barrister", "lawyer", "chambers", "magic circle"),
    "financial_services": (
        "bank",
        "financial services",
        "insur",
        "finance",
        "fintech",
        "investment",
        "asset manag",
        "fund manag",
        "hedge fund",
        "wealth manag",
        "private equity",
        "stockbrok",
        "building societ",
    ),
    "accounting": ("accountan", "accounting", "audit", "big four", r"big 4\b"),
    # The creative industries as the government counts them take in media, PR, broadcasting
    # and the press, so those words find the figures the Commission publishes for them.
    "creative_industries": ("creative", r"media\b"),
    "advertising_marketing": (
        "advertis",
        "marketing",
        "agency",
        "agencies",
        r"pr\b",
        "public relations",
    ),
    "architecture": ("architect",),
    "design": ("design",),
    "film_tv_radio_photography": (
        "film",
        "tv",
        "television",
        "radio",
        "photograph",
        "video",
        "broadcast",
    ),
    "museums_galleries_libraries": ("museum", "galler", "librar", "heritage"),
    "music_performing_visual_arts": ("music", "perform", "theatre", "visual arts", "arts"),
    "publishing": ("publishing", "publisher", "books", "newspaper", "magazine", "journalis"),
}


UNLISTED_SECTORS = (
    "retail",
    "supermarket",
    "high street",
    "tech",
    "software",
    "nhs",
    "health",
    "hospital",
    "social care",
    "construction",
    "engineering",
    "manufactur",
    "hospitality",
    "charit",
    "education",
    "school",
    "universit",
    "civil service",
    "public sector",
    "local government",
    "council",
    "police",
    "logistics",
    "transport",
    "energy",
    "telecom",
    "pharma",
    "airline",
    "aviation",
    "aerospace",
    "defence",
    "rail",
    "hotel",
    "farming",
    "agricultur",
    "mining",
    "utilit",
    "water compan",
    "housing association",
    "care home",
    "gambling",
    "betting",
    "bookmak",
    "games studio",
    "video games",
)
"""Sectors people name that the Commission's toolkits publish no figure for here."""


def names(text: str, words: tuple[str, ...]) -> bool:
    """Whether casefolded text has a word starting with one of ``words`` (regular
    expressions, as in SECTOR_WORDS)."""
    return any(re.search(rf"\b{w}", text) for w in words)


_ANY_SECTOR = re.compile(
    r"\b(?:"
    + "|".join(
        [w for w in UNLISTED_SECTORS if w != "school"]
        + [w for words in SECTOR_WORDS.values() for w in words]
    )
    + ")"
)
"""Every sector word as one pattern, built once (the ranker asks it of every question)."""


def names_sector(text: str) -> bool:
    """Whether casefolded text names a sector, listed or not (schools apart: "from private
    schools" is where people come from more often than where they work)."""
    return _ANY_SECTOR.search(text) is not None


_SECTOR_WORD = re.compile(_ANY_SECTOR.pattern + r"[^ ]*")
"""A sector named, to the end of its last word ("banks", "social care")."""
FOLLOW_UP = re.compile(r"^(?:and |so |ok |okay )?(?:(?:what|how) about|and(?: for| in)?)\s+(.+)$")
FILLER = frozenset(
    "the a an and our us in for then too firms firm companies company sector sectors industry "
    "organisations organizations employers businesses ones like of uk trusts trust "
    "practices practice".split()
)


def sector_follow_up(text: str) -> bool:
    """Whether casefolded text asks "what about <a sector>?" and nothing more ("what about
    the NHS?", "and banks?", "how about tech companies"), as people follow one benchmark
    with another's; "what about the bank holiday rota" is about something else."""
    found = FOLLOW_UP.match(text.strip())
    if found is None:
        return False
    rest = " ".join(w for w in re.findall(r"[a-z&]+", found.group(1)) if w not in FILLER)
    return bool(rest) and not _SECTOR_WORD.sub("", rest).strip()
