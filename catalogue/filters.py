"""The list page's filters, built on django-filter.

Keywords combine with AND (each one narrows the list), journals with OR (a
reader picks the journals they trust), as the query string repeats them:
`?keyword=pain&keyword=analgesia&journal=radiology&journal=pain-medicine`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import django_filters
from django import forms
from django.core.validators import validate_slug
from django.db import connection
from django.db.models import F, QuerySet

from catalogue.models import Article, ArticleKeyword, Authorship
from catalogue.search import is_broad, parse_query, search_articles, with_relevance

SORTS = {
    # Full-text rank, the title weighing most (see catalogue.search), then newest.
    "relevance": ("-relevance", "-year", "-month", "title", "pk"),
    "newest": ("-year", "-month", "title", "pk"),
    "oldest": ("year", "month", "title", "pk"),
    "title": ("title", "pk"),
    # Articles without a count (not from Scopus) last, on both databases.
    "cited": (F("cited_by").desc(nulls_last=True), "-year", "title", "pk"),
    "added": ("-created_at", "-pk"),
}

SORT_LABELS = {"cited": "Most cited"}
# SQLite's FTS5 score weighs by length and rarely ties, so its ties go by id:
# then the order needs no column of the article, and search.ranked_ids reads
# it from the FTS5 table alone. PostgreSQL's ts_rank ties often: newest first.
SQLITE_RELEVANCE = ("-relevance", "pk")


class SlugListField(forms.Field):
    """Every value of a repeated query parameter, each a valid slug."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))[:20]

    def validate(self, value: list[str]) -> None:
        for slug in value:
            validate_slug(slug)


class SlugListFilter(django_filters.Filter):
    field_class = SlugListField


class ArticleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    keyword = SlugListFilter(method="filter_keywords")
    journal = SlugListFilter(field_name="journal__slug", lookup_expr="in")
    author = SlugListFilter(method="filter_authors")
    year_min = django_filters.NumberFilter(
        field_name="year", lookup_expr="gte", label="From year", min_value=0, max_value=9999
    )
    year_max = django_filters.NumberFilter(
        field_name="year", lookup_expr="lte", label="To year", min_value=0, max_value=9999
    )
    type = django_filters.CharFilter(field_name="entry_type", label="Type", max_length=50)
    sort = django_filters.ChoiceFilter(
        method="sort_by",
        choices=[(name, SORT_LABELS.get(name, name.capitalize())) for name in SORTS],
        empty_label=None,
    )

    class Meta:
        model = Article
        fields: list[str] = []

    def filter_search(
        self, queryset: QuerySet[Article], name: str, value: str
    ) -> QuerySet[Article]:
        return search_articles(queryset, value)

    def filter_keywords(
        self, queryset: QuerySet[Article], name: str, value: list[str]
    ) -> QuerySet[Article]:
        return _linked_to_each(queryset, ArticleKeyword, "keyword__slug", value)

    def filter_authors(
        self, queryset: QuerySet[Article], name: str, value: list[str]
    ) -> QuerySet[Article]:
        return _linked_to_each(queryset, Authorship, "author__slug", value)

    def sort_by(self, queryset: QuerySet[Article], name: str, value: str) -> QuerySet[Article]:
        # Ordering is applied in `qs`, so that it also applies when no sort
        # was asked for, and not to `matching` (for counting).
        return queryset

    @property
    def matching(self) -> QuerySet[Article]:
        """The articles that pass the filters, in no particular order."""
        return super().qs

    # Whether the search is too broad to rank by words (search.is_broad), when
    # the caller knows already (from the facet index); otherwise counted here.
    broad_search: bool | None = None

    @property
    def qs(self) -> QuerySet[Article]:
        """The articles that pass the filters, sorted."""
        return self.ordered(self.matching)

    def ordered(self, queryset: QuerySet[Article]) -> QuerySet[Article]:
        """`queryset` (articles that pass the filters) in the list's order."""
        query = (self.form.cleaned_data.get("q") or "") if self.is_valid() else ""
        sort = self.effective_sort
        if sort == "relevance":
            broad = self.broad_search
            if broad is None:
                found = search_articles(Article.objects.all(), query).count()
                broad = is_broad(found, Article.objects.count())
            ranked = with_relevance(queryset, query, broad=broad)
            by_id = connection.vendor == "sqlite" and not broad
            return ranked.order_by(*(SQLITE_RELEVANCE if by_id else SORTS[sort]))
        return queryset.order_by(*SORTS[sort])

    @cached_property  # the template asks once per choice of the sort menu
    def effective_sort(self) -> str:
        """The sort asked for, else relevance when searching and newest when not."""
        data = self.form.cleaned_data if self.is_valid() else {}
        searching = bool(parse_query(data.get("q") or "").groups)
        sort = data.get("sort") or ("relevance" if searching else "newest")
        return "newest" if sort == "relevance" and not searching else sort


def _linked_to_each(
    queryset: QuerySet[Article],
    link: type[ArticleKeyword] | type[Authorship],
    lookup: str,
    slugs: list[str],
) -> QuerySet[Article]:
    """Articles with a `link` row to every one of `slugs` (AND).

    `pk IN (links of the keyword)` rather than `EXISTS (a link of this
    article)`: the database reads the keyword's links along their index
    instead of probing once for every article in the catalogue.
    """
    for slug in slugs:
        queryset = queryset.filter(pk__in=link.objects.filter(**{lookup: slug}).values("article"))
    return queryset
