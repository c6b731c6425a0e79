"""Splitting keyword fields into keywords."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .records import Keyword, KeywordKind

_WHITESPACE = re.compile(r"\s+")
# Small words MeSH headings leave in lower case ("Randomized Controlled
# Trials as Topic"); any other lower-case word marks an EMTREE term.
_MESH_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "without",
        "via",
        "vs",
    ]
)


def normalise_keyword(name: str) -> str:
    """The form keywords are matched on: NFKC, case-folded, single spaces.

    >>> normalise_keyword("  Pain,   Postoperative ")
    'pain, postoperative'
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


# The same keywords come back entry after entry: share one object each.
_keyword = lru_cache(maxsize=65536)(Keyword)


def _is_emtree_term(text: str) -> bool:
    """Whether a Scopus term reads as EMTREE (lower case) rather than MeSH (Title Case).

    EMTREE writes terms in lower case ("nitrous oxide", "Alzheimer disease");
    MeSH capitalises every word but a few small ones ("Pain", "Diabetes Mellitus").
    """
    for word in text.split():
        first = next((c for c in word if c.isalpha()), "")
        if first.islower() and word.lower() not in _MESH_SMALL_WORDS:
            return True
    return False


def _split_scopus_groups(pieces: list[str]) -> list[tuple[int, str]]:
    """Undo Scopus joining its vocabularies with ", " inside one `;` piece.

    Returns (group number, term) pairs. "nitrous oxide, abdominal tumor" is the
    end of one group and the start of the next; "Diabetes Mellitus, Type 2"
    is one MeSH heading.
    """
    group = 0
    terms: list[tuple[int, str]] = []
    for piece in pieces:
        parts = piece.strip().split(", ")
        terms.append((group, parts[0]))
        for part in parts[1:]:
            if _is_emtree_term(terms[-1][1]):
                group += 1
                terms.append((group, part))
            else:
                terms[-1] = (group, f"{terms[-1][1]}, {part}")
    return terms


def split_keywords(value: str, kind: KeywordKind) -> tuple[Keyword, ...]:
    """Split a decoded keyword field into keywords, trimmed and deduplicated.

    Splits on `;` when there is one, else on `,`. For Scopus indexed keywords
    ("indexed"), a `;` piece is also split at ", " after an EMTREE term: that
    is where Scopus joins its vocabularies (EMTREE drug terms, EMTREE medical
    terms, MeSH). Duplicates are dropped case-insensitively within a
    vocabulary, keeping the first spelling; EMTREE "analgesia" and MeSH
    "Analgesia" both stay (`normalise_keyword` makes them match later).

    >>> value = "pain; nitrous oxide, Analgesia; Pain, Postoperative"
    >>> [k.name for k in split_keywords(value, "indexed")]
    ['pain', 'nitrous oxide', 'Analgesia', 'Pain, Postoperative']
    >>> [k.name for k in split_keywords("open hardware, Arduino, arduino", "author")]
    ['open hardware', 'Arduino']
    """
    value = _WHITESPACE.sub(" ", value)
    if ";" not in value:
        terms = [(0, piece) for piece in value.split(",")]
    elif kind == "indexed" and ", " in value:
        terms = _split_scopus_groups(value.split(";"))
    else:
        terms = [(0, piece) for piece in value.split(";")]
    seen: set[tuple[int, str]] = set()
    keywords: list[Keyword] = []
    for group, term in terms:
        name = term.strip()
        key = (group, name.casefold())
        if name and key not in seen:
            seen.add(key)
            keywords.append(_keyword(name, kind))
    return tuple(keywords)
