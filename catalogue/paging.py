"""Pages of a sorted list of articles that stay quick deep into a million.

A page is found in two steps: the ids of its articles, then those articles.
Skipping to page 2,000 then reads 50,000 entries of an index rather than
50,000 whole articles with their journals.

When the facet index gives the list's articles as a bitmap (`members`), the
count is its size, and a list in date order walks the date index, keeping
the ids in the bitmap, instead of letting the database collect and sort
every article of, say, a keyword on a fifth of the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from pyroaring import BitMap

from catalogue.filters import SORTS
from catalogue.models import Article

# Sorts that an index of catalogue_article serves (article_newest_first,
# read forwards or backwards).
INDEXED_SORTS = ("newest", "oldest")
# Walk at most this many index entries for one page, else ask SQL.
WALK_LIMIT = 200_000


class SortedArticles:
    """The articles of `queryset` (sorted by `sort`), for Django's Paginator."""

    def __init__(
        self,
        queryset: QuerySet[Article],
        *,
        sort: str,
        members: BitMap | None = None,
        out_of: int = 0,
    ) -> None:
        """`members`: the ids of `queryset`, if known; `out_of`: how many articles there are."""
        self.queryset = queryset
        self.sort = sort
        self.members = members
        self.out_of = out_of
        self.ordered = True  # for Paginator's check

    def count(self) -> int:
        return len(self.members) if self.members is not None else self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Article]:
        ids = self._walked(window)
        if ids is None:
            ids = list(self.queryset.values_list("pk", flat=True)[window])
        found = Article.objects.for_listing().in_bulk(ids)
        return [found[pk] for pk in ids if pk in found]

    def _walked(self, window: slice) -> list[int] | None:
        """The window's ids by walking the date index, if that is quick; else None."""
        members = self.members
        if members is None or self.sort not in INDEXED_SORTS or not members:
            return None
        start, stop = window.start or 0, window.stop
        share = len(members) / max(1, self.out_of)
        if stop is None or stop / share > WALK_LIMIT:
            return None
        kept: list[int] = []
        expected = int(stop / share * 1.2) + 100  # rows to read, fetched in one go
        for pk in _in_order(self.sort, chunk_size=min(expected, WALK_LIMIT)):
            if pk in members:
                kept.append(pk)
                if len(kept) == stop:
                    break
        return kept[start:stop]


def _in_order(sort: str, *, chunk_size: int) -> Iterator[int]:
    ids = Article.objects.order_by(*SORTS[sort]).values_list("pk", flat=True)
    return ids.iterator(chunk_size=chunk_size)
