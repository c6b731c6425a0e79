"""Facet counts for the article list: what each refinement would leave.

Each facet is counted over the articles that match every *other* active
filter, so its numbers say what picking one of its values would give. The
keyword facet is the exception that proves the rule: keywords combine with
AND, so its counts are taken within all active filters, its own included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import QueryDict

from catalogue.filters import ArticleFilter
from catalogue.models import Article, ArticleKeyword, Author, Authorship, Journal, Keyword

FACET_SIZE = 12


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    url: str  # the query string with this value toggled


@dataclass
class Facet:
    name: str  # the query parameter
    title: str
    values: list[FacetValue] = field(default_factory=list)


def without(params: QueryDict, *names: str) -> QueryDict:
    params = params.copy()
    for name in (*names, "page"):
        params.pop(name, None)
    return params


def toggled(params: QueryDict, name: str, value: str, *, single: bool = False) -> str:
    """The query string with `value` of `name` added, or removed if present."""
    params = without(params)
    values = params.getlist(name)
    if value in values:
        values.remove(value)
    elif single:
        values = [value]
    else:
        values.append(value)
    params.setlist(name, values)
    return params.urlencode()


def _matching(params: QueryDict, *ignoring: str) -> QuerySet[Article] | None:
    """Pks of the articles that pass every filter but `ignoring`; None if no filter is in force.

    None rather than every article: `article IN (every article)` would make
    the database read them all just to count links.
    """
    filterset = ArticleFilter(without(params, *ignoring, "sort"), queryset=Article.objects.all())
    values = filterset.form.cleaned_data.values() if filterset.is_valid() else [True]
    if all(value in (None, "", []) for value in values):
        return None
    return filterset.matching.order_by().values("pk")


def _among(field: str, matching: QuerySet[Article] | None) -> Q:
    """Rows whose `field` (an article's pk, or a link's article) is among `matching`."""
    return Q() if matching is None else Q(**{f"{field}__in": matching})


def top_counts(
    rows: QuerySet[Any],
    model: type[Keyword] | type[Journal] | type[Author],
    *,
    count: Count,
    label: Callable[[Any], str],
    size: int = FACET_SIZE,
) -> list[tuple[str, str, int]]:
    """(slug, label, count) of the `size` values of `rows` with the most articles.

    Grouped by the linked row's id alone, and only the winners' names read
    after: joining every link row to its author or keyword before grouping
    costs more than the counting.
    """
    field = model._meta.model_name
    top = list(
        rows.order_by().values_list(field).annotate(count=count).order_by("-count", field)[:size]
    )
    found = model._default_manager.in_bulk([pk for pk, _ in top])
    values = [(found[pk].slug, label(found[pk]), n) for pk, n in top if pk in found]
    return sorted(values, key=lambda value: (-value[2], value[1].casefold()))


def top_overall(
    model: type[Keyword] | type[Journal] | type[Author],
    *,
    label: Callable[[Any], str],
    size: int = FACET_SIZE,
) -> list[tuple[str, str, int]]:
    """What `top_counts` gives for every article, read from the kept `article_count`."""
    top = model._default_manager.filter(article_count__gt=0).order_by(
        "-article_count", "normalised"
    )[:size]
    values = [(row.slug, label(row), row.article_count) for row in top]
    return sorted(values, key=lambda value: (-value[2], value[1].casefold()))


def _top(
    links: QuerySet[Any],
    link_field: str,
    matching: QuerySet[Article] | None,
    model: type[Keyword] | type[Journal] | type[Author],
    *,
    count: Count,
    label: Callable[[Any], str],
) -> list[tuple[str, str, int]]:
    if matching is None:
        return top_overall(model, label=label)
    return top_counts(
        links.filter(**{f"{link_field}__in": matching}), model, count=count, label=label
    )


def author_label(author: Author) -> str:
    return ", ".join(p for p in (author.family, author.given) if p)


def build_facets(params: QueryDict) -> list[Facet]:
    keyword_rows = _top(
        ArticleKeyword.objects.all(),
        "article",
        _matching(params),
        Keyword,
        count=Count("article", distinct=True),
        label=lambda keyword: keyword.name,
    )
    journal_rows = _top(
        Article.objects.filter(journal__isnull=False),
        "pk",
        _matching(params, "journal"),
        Journal,
        count=Count("pk"),
        label=lambda journal: journal.name,
    )
    author_rows = _top(
        Authorship.objects.all(),
        "article",
        _matching(params, "author"),
        Author,
        count=Count("article", distinct=True),
        label=author_label,
    )
    year_rows = (
        Article.objects.filter(
            _among("pk", _matching(params, "year_min", "year_max")), year__isnull=False
        )
        .values("year")
        .annotate(count=Count("pk"))
        .order_by("-year")
    )
    type_rows = (
        Article.objects.filter(_among("pk", _matching(params, "type")))
        .values("entry_type")
        .annotate(count=Count("pk"))
        .order_by("-count", "entry_type")
    )

    def facet(name: str, title: str, rows: list[tuple[str, str, int]], single: bool) -> Facet:
        chosen = params.getlist(name)
        return Facet(
            name,
            title,
            [
                FacetValue(
                    value,
                    label,
                    count,
                    value in chosen,
                    toggled(params, name, value, single=single),
                )
                for value, label, count in rows
            ],
        )

    return [
        facet("keyword", "Keywords", keyword_rows, False),
        facet("journal", "Journals", journal_rows, False),
        facet("author", "Authors", author_rows, True),
        Facet(
            "year",
            "Years",
            [
                FacetValue(
                    str(r["year"]),
                    str(r["year"]),
                    r["count"],
                    params.get("year_min") == params.get("year_max") == str(r["year"]),
                    _year_url(params, r["year"]),
                )
                for r in year_rows
            ],
        ),
        facet(
            "type",
            "Types",
            [(r["entry_type"], r["entry_type"], r["count"]) for r in type_rows],
            True,
        ),
    ]


def _year_url(params: QueryDict, year: int) -> str:
    params = without(params, "year_min", "year_max")
    params["year_min"] = params["year_max"] = str(year)
    return params.urlencode()
