"""What the browse pages show beside a list of articles: counts per year as a
chart, and the keywords, authors and journals that occur most among them.

The list page charts its results per year; a keyword's, journal's or
author's page charts its articles and lists what most often goes with it
(an author's co-authors, a keyword's neighbouring keywords).

Every chart is plain SVG made on the server, each bar a link, with the same
numbers as a table for screen readers and for reading without the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from django.db.models import Count, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from pyroaring import BitMap

from catalogue.facet_index import FacetIndex
from catalogue.facets import IDS_IN_SQL, NAMED, SMALL_SET, labelled, top_counts, year_links
from catalogue.models import Article, ArticleKeyword, Authorship
from catalogue.search import id_list
from catalogue.templatetags.catalogue_links import urls_of

# The chart's drawing area, in SVG units (it scales to the page width).
CHART_WIDTH = 600
CHART_HEIGHT = 120
# Beyond this many years the chart starts at the latest year minus this.
CHART_MAX_YEARS = 120
TOP_SIZE = 10


@dataclass(frozen=True)
class Bar:
    year: int
    count: int
    url: str
    x: float
    width: float
    height: float

    @property
    def y(self) -> float:
        return CHART_HEIGHT - self.height


@dataclass
class YearChart:
    bars: list[Bar] = field(default_factory=list)
    first_year: int = 0
    last_year: int = 0
    most: int = 0  # the highest count
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    @classmethod
    def from_counts(
        cls, counts: Iterable[tuple[int, int]], link: Callable[[int], str]
    ) -> YearChart:
        """A bar per year from the first to the last with articles; empty years stay gaps."""
        by_year = {year: count for year, count in counts if year is not None and count}
        if not by_year:
            return cls()
        last = max(by_year)
        first = max(min(by_year), last - CHART_MAX_YEARS + 1)
        most = max(by_year.values())
        step = CHART_WIDTH / (last - first + 1)
        bars = [
            Bar(
                year=year,
                count=count,
                url=link(year),
                x=round((year - first) * step, 2),
                width=round(max(step - 1, step * 0.8), 2),
                # At least a sliver, so that a year with one article shows.
                height=round(max(2.0, count / most * CHART_HEIGHT), 2),
            )
            for year, count in sorted(by_year.items())
            if year >= first
        ]
        return cls(bars=bars, first_year=first, last_year=last, most=most)

    # The bars' markup is made here rather than in the template: a century of
    # bars is some 1,500 template variables, a tenth of a list page's time.
    # Numbers are not localised: SVG wants "12.5" in any language.

    def svg_bars(self) -> SafeString:
        """Each bar a link to its year, its numbers as its tooltip."""
        return mark_safe(  # noqa: S308 - the only text, the links, is escaped
            "".join(
                f'<a href="{escape(bar.url)}"><rect x="{bar.x}" y="{bar.y}"'
                f' width="{bar.width}" height="{bar.height}">'
                f"<title>{bar.year}: {bar.count} article{_s(bar.count)}</title></rect></a>"
                for bar in self.bars
            )
        )

    def table_rows(self) -> SafeString:
        """The same numbers as rows of a table, for screen readers and without the chart."""
        return mark_safe(  # noqa: S308 - the only text, the links, is escaped
            "".join(
                f'<tr><td><a href="{escape(bar.url)}">{bar.year}</a></td><td>{bar.count}</td></tr>'
                for bar in self.bars
            )
        )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@dataclass(frozen=True)
class Counted:
    label: str
    url: str
    count: int


@dataclass
class Profile:
    """What goes with a set of articles: per year, and its top keywords, authors, journals."""

    years: YearChart
    keywords: list[Counted]
    authors: list[Counted]
    journals: list[Counted]


def profile(
    articles: QuerySet[Article],
    *,
    list_params: str,
    index: FacetIndex | None,
    leave_out: dict[str, Any] | None = None,
) -> Profile:
    """Count what goes with `articles` (a queryset of their pks).

    `list_params` is the list page's query string for these articles
    (`keyword=pain`), to which a bar's year range is added. `leave_out`
    names the page's own row (`{"keyword": k}`) so it is not among its top
    co-occurring ones; while the facet index is current (`index`, from
    `facet_index.current()`), its bitmap is the set counted in.
    """
    leave_out = leave_out or {}
    among = _bitmap(leave_out, index)
    if among is not None:
        index, bitmap = among
        years = list(index.counts("year", bitmap).items())
    else:
        years = list(
            Article.objects.filter(pk__in=articles, year__isnull=False)
            .values_list("year")
            .annotate(count=Count("pk"))
            .order_by()
        )

    def top(name: str, rows: QuerySet[Any], links_field: str) -> list[Counted]:
        facet = NAMED[name]
        values = None
        index, bitmap = among if among is not None else (None, None)
        # One more than shown: the page's own row is among them.
        if (
            index is not None
            and len(bitmap) >= SMALL_SET
            and index.may_answer(name, bitmap, TOP_SIZE + 1)
        ):
            found = index.top(name, bitmap, TOP_SIZE + 1)
            if found is not None:
                own = getattr(leave_out.get(name), "pk", None)
                values = labelled(
                    facet.model, [v for v in found if v[0] != own][:TOP_SIZE], facet.label
                )
        if values is None:
            # The ids, when few, rather than the query that finds them run again.
            known = among is not None and len(among[1]) <= IDS_IN_SQL
            ids = id_list(among[1]) if known else articles
            rows = _without(rows.filter(**{f"{links_field}__in": ids}), name, leave_out)
            values = top_counts(
                rows, facet.model, count=facet.count(), label=facet.label, size=TOP_SIZE
            )
        url = urls_of(name)
        return [Counted(label, url(slug), n) for slug, label, n in values]

    list_url = reverse("catalogue:article-list")
    in_year = year_links(QueryDict(list_params))
    return Profile(
        years=YearChart.from_counts(years, lambda year: f"{list_url}?{in_year(year)}"),
        keywords=top("keyword", ArticleKeyword.objects.all(), "article"),
        authors=top("author", Authorship.objects.all(), "article"),
        journals=top("journal", Article.objects.filter(journal__isnull=False), "pk"),
    )


def _bitmap(
    leave_out: dict[str, Any], index: FacetIndex | None
) -> tuple[FacetIndex, BitMap] | None:
    """The facet index and the articles of the page's row, if it is held."""
    if len(leave_out) != 1:
        return None
    [(name, row)] = leave_out.items()
    articles = None if index is None else index.articles_of(name, row.pk)
    return None if articles is None else (index, articles)


def _without(queryset: QuerySet[Any], name: str, leave_out: dict[str, Any]) -> QuerySet[Any]:
    return queryset.exclude(**{name: leave_out[name]}) if name in leave_out else queryset
