"""Free-text search over articles: the one module views call to search.

Queries are written the way people type into a web search box: words must
all match, "quoted phrases" match as written, and -word excludes. Matching is
case- and accent-insensitive (`muller` finds Müller) because both the query
and `Article.search_text` are folded the same way, so SQLite and PostgreSQL
give the same answers.

>>> parse_query('cryo "nerve block" -rat')
SearchQuery(include=['cryo', 'nerve block'], exclude=['rat'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, QuerySet, Value, When

from catalogue.bibtex.text import fold
from catalogue.models import Article

# A quoted phrase (closed or not) or a run of non-space characters, either
# optionally preceded by "-" to exclude it.
TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
MAX_TERMS = 12


@dataclass
class SearchQuery:
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)


def parse_query(text: str) -> SearchQuery:
    query = SearchQuery()
    for match in TOKEN.finditer(text[:1000]):
        negated = bool(match.group(1) or match.group(3))
        term = " ".join(
            fold(match.group(2) if match.group(2) is not None else match.group(4)).split()
        )
        term = term.strip("-")
        if not term:
            continue
        (query.exclude if negated else query.include).append(term)
    query.include = query.include[:MAX_TERMS]
    query.exclude = query.exclude[:MAX_TERMS]
    return query


def search_articles(queryset: QuerySet[Article], text: str) -> QuerySet[Article]:
    """Articles of `queryset` that match the search box text `text`."""
    query = parse_query(text)
    for term in query.include:
        queryset = queryset.filter(search_text__contains=term)
    for term in query.exclude:
        queryset = queryset.exclude(search_text__contains=term)
    return queryset


def rank_by_title(queryset: QuerySet[Article], text: str) -> QuerySet[Article]:
    """Annotate `title_hits`: how many of the search words the title holds.

    A plain stand-in for relevance ranking, the same on SQLite and
    PostgreSQL: a paper about the words usually has them in its title.
    """
    hits = Value(0)
    for term in parse_query(text).include:
        hits += Case(When(title__icontains=term, then=1), default=0, output_field=IntegerField())
    return queryset.annotate(title_hits=hits)
