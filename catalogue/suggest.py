"""Suggestions: "did you mean" for typos, and names to complete as one types.

Both draw on the names of keywords, authors and journals, the words people
search the catalogue with. `did_you_mean` is asked only when a search finds
nothing, so its cost (a fuzzy match against every name word, cached for a
few minutes) is not paid on every page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Model
from django.urls import reverse
from rapidfuzz import fuzz, process

from catalogue.bibtex.text import fold
from catalogue.models import Author, Journal, Keyword
from catalogue.search import parse_query

# Names are matched word by word: "cryotherapy" in "Cryotherapy, Whole-body".
_WORD = re.compile(r"\w{3,}")
SIMILARITY = 80  # rapidfuzz ratio, 0-100, for a word to count as the one meant
CACHE_SECONDS = 600
COMPLETIONS_PER_KIND = 5


def _words() -> frozenset[str]:
    """Every word of three letters or more in a keyword, journal or author's family name."""
    words = cache.get("catalogue:suggest:words")
    if words is None:
        names = [
            *Keyword.objects.values_list("normalised", flat=True).iterator(chunk_size=5000),
            *Journal.objects.values_list("normalised", flat=True).iterator(chunk_size=5000),
            # Many authors share a family name: read each once.
            *Author.objects.values_list("family", flat=True)
            .order_by()
            .distinct()
            .iterator(chunk_size=5000),
        ]
        words = frozenset(word for name in names for word in _WORD.findall(fold(name)))
        cache.set("catalogue:suggest:words", words, CACHE_SECONDS)
    return words


def did_you_mean(query_text: str) -> str | None:
    """The query with each unknown word replaced by the nearest known one, or None.

    >>> did_you_mean("cryotherapyy")  # doctest: +SKIP
    'cryotherapy'
    """
    query = parse_query(query_text)
    words = [w for term in query.terms for w in term.words]
    if not words:
        return None
    known = _words()
    corrected = []
    for word in words:
        if word in known or len(word) < 4:
            corrected.append(word)
            continue
        best = process.extractOne(word, known, scorer=fuzz.ratio, score_cutoff=SIMILARITY)
        corrected.append(best[0] if best else word)
    return " ".join(corrected) if corrected != words else None


def nearest_slug(model: type[Model], slug: str) -> Model | None:
    """The keyword, journal or author whose slug is nearest to one that does not exist."""
    slugs = cache.get(f"catalogue:suggest:slugs:{model._meta.model_name}")
    if slugs is None:
        slugs = list(
            model._default_manager.values_list("slug", flat=True).iterator(chunk_size=5000)
        )
        cache.set(f"catalogue:suggest:slugs:{model._meta.model_name}", slugs, CACHE_SECONDS)
    best = process.extractOne(slug, slugs, scorer=fuzz.ratio, score_cutoff=SIMILARITY)
    return model._default_manager.filter(slug=best[0]).first() if best else None


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword, author or journal
    url: str


def completions(text: str) -> list[Completion]:
    """Keywords, authors and journals whose names start with `text` (folded)."""
    start = " ".join(fold(text).split())[:100]
    if len(start) < 2:
        return []
    found: list[Completion] = []
    for model, kind in ((Keyword, "keyword"), (Author, "author"), (Journal, "journal")):
        rows = model._default_manager.filter(normalised__startswith=start).order_by("normalised")
        for row in rows[:COMPLETIONS_PER_KIND]:
            label = row.display_name if isinstance(row, Author) else row.name
            found.append(
                Completion(label, kind, reverse(f"catalogue:{kind}-detail", args=[row.slug]))
            )
    return found
