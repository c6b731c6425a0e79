"""Facet counts from bitmaps: exact, and fast at a million articles.

Counting a facet in SQL reads a link row per article and value: for a filter
that half of a million articles pass, seven million keyword links. Here each
value is a roaring bitmap of its articles' ids, and a count is the size of
an intersection, which takes microseconds.

What is held (`build`):

- all articles, and the articles of every year, type and journal;
- the articles of each keyword and author with at least `floor` articles,
  the floor chosen so that about `KEEP` of each are held;
- the other way round, each article's authors (`ArticleLinks`).

The rest are small. A filter on one of them is answered by SQL quickly, and
`top` stops at the floor: if the counts it ranks fall below it, a value not
held might belong in the list, so it says it cannot answer and the caller
counts in SQL. Except for authors: the authors of up to `BY_ARTICLE_MOST`
articles are counted from each article's list, whatever their counts.

The bitmaps are stored in `FacetBitmap` with the `CatalogueVersion` number
they were made at; triggers raise the number on every change that facets
count. `current()` hands them out while the number is unchanged, loading
them once per process. Otherwise it returns None (facets are then counted in
SQL: as exact, only slower) and asks the background worker to build them
again, unless an import is running: one that ends changes the number anyway.
"""

from __future__ import annotations

import heapq
import logging
import struct
import sys
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django_tasks import task
from pyroaring import BitMap

from catalogue.models import (
    Article,
    Author,
    CatalogueVersion,
    FacetBitmap,
    ImportBatch,
    Keyword,
    lock_catalogue_writes,
)
from catalogue.search import matching_ids

logger = logging.getLogger(__name__)

# How many keywords and authors are held (and all tied with the last). At
# 100,000 generated articles these are keywords with 18 articles or more and
# authors with 5 or more: a narrow search's top values have only a few
# articles each, and below the floor `top` cannot answer.
KEEP = {"keyword": 10_000, "author": 20_000}
# Facets whose every value is held, and those held down to a floor.
WHOLE = ("year", "type", "journal")
FLOORED = {"keyword": Keyword, "author": Author}
# The `FacetBitmap.facet` of an `ArticleLinks` (its value: the facet it counts).
BY_ARTICLE = "by_article"
FETCH_SIZE = 50_000
# Up to this many articles, their authors can be counted from each article's
# list (`ArticleLinks`) when the authors' bitmaps cannot rank them. At a
# million generated articles on PostgreSQL, the authors of 6,700 articles
# took 9 ms so, against 60-80 ms in SQL; of 40,000, 56-80 ms.
BY_ARTICLE_MOST = 50_000
# Searches whose articles are remembered, per process (each at most 128 KB
# per million articles).
SEARCHES_KEPT = 128


@dataclass
class ArticleLinks:
    """Each article's authors, all in one array: `links[starts[pk]:starts[pk + 1]]`.

    A narrow search's top authors have a few articles each, below the floor
    of those held as bitmaps, so the bitmaps cannot rank them; SQL can, but
    it reads and groups every link row of the articles (80 ms for 6,700
    articles at a million on PostgreSQL). Here a count is a walk over the
    articles' lists. At a million articles with five authors each, the two
    arrays of 4-byte ids take about 24 MB per process.
    """

    starts: array
    links: array

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> ArticleLinks:
        """From (article, linked id) pairs sorted by article; repeated pairs count once."""
        starts, links = array(_UINT32, [0]), array(_UINT32)
        previous = None
        for pair in pairs:
            if pair == previous:
                continue
            article, linked = previous = pair
            if article >= len(starts):  # the articles before it (none or gaps) end here
                starts.extend([len(links)] * (article + 1 - len(starts)))
            links.append(linked)
        starts.append(len(links))
        return cls(starts, links)

    def counts(self, among: BitMap) -> Counter[int]:
        """How many articles of `among` each linked id has."""
        starts, links, last = self.starts, self.links, len(self.starts) - 1
        return Counter(
            chain.from_iterable(links[starts[pk] : starts[pk + 1]] for pk in among if pk < last)
        )

    def serialize(self) -> bytes:
        return struct.pack("<Q", len(self.starts)) + _little(self.starts) + _little(self.links)

    @classmethod
    def deserialize(cls, data: bytes) -> ArticleLinks:
        (length,) = struct.unpack_from("<Q", data)
        cut = 8 + length * 4
        return cls(_from_little(data[8:cut]), _from_little(data[cut:]))


# Four-byte unsigned integers on every platform CPython runs on; stored
# little-endian so that a database moved to another machine still reads.
_UINT32 = "I"


def _little(values: array) -> bytes:
    if sys.byteorder == "big":
        values = array(_UINT32, values)
        values.byteswap()
    return values.tobytes()


def _from_little(data: bytes) -> array:
    values = array(_UINT32)
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


@dataclass
class FacetIndex:
    version: int
    build: uuid.UUID
    all: BitMap
    # facet -> value (a year, a type, or a journal, keyword or author id) -> articles
    values: dict[str, dict[Any, BitMap]]
    # Every value of a facet with at least this many articles is held (0: all are).
    floors: dict[str, int] = field(default_factory=dict)
    # facet -> each article's values, for the facets counted article by article
    by_article: dict[str, ArticleLinks] = field(default_factory=dict)
    _ranked: dict[str, list[tuple[int, Any, BitMap]]] = field(default_factory=dict, repr=False)

    def articles_of(self, facet: str, value: Any) -> BitMap | None:
        """The articles of one value; None if the value is not held (it may still exist)."""
        found = self.values[facet].get(value)
        if found is None and self.floors.get(facet, 0) == 0:
            return BitMap()
        return found

    def counts(self, facet: str, among: BitMap | None) -> dict[Any, int]:
        """How many articles of `among` (None: of all) each value has, for a whole facet."""
        if among is None:
            counts = {value: len(articles) for value, articles in self.values[facet].items()}
        else:
            count, outside = self._counting(among)
            counts = {
                value: len(articles) - count(articles) if outside else count(articles)
                for value, articles in self.values[facet].items()
            }
        return {value: n for value, n in counts.items() if n}

    def _counting(self, among: BitMap) -> tuple[Callable[[BitMap], int], bool]:
        """How to count a value's articles that are in `among`: (intersect with, outside).

        Either the size of their intersection with `among` (outside False),
        or their number less the size of their intersection with the
        articles *not* in `among` (outside True). Roaring intersects two
        sparse bitmaps (array containers) about ten times as slowly as a
        sparse one and a dense one (bitset containers). A search's or an
        author's articles are sparse, and so are most values', so those are
        counted through the complement, which is dense: at a million
        articles, counting 8,600 authors within 40,000 matches took 82 ms,
        through the complement 9 ms. Roaring keeps a stretch of 65,536 ids
        as an array up to 4,096 of them, so a set of more than a sixteenth
        of the catalogue is dense already. Every value's articles are among
        `all` (one build reads both), so none are outside both.
        """
        if len(among) * 16 >= len(self.all):
            return among.intersection_cardinality, False
        return (self.all - among).intersection_cardinality, True

    def top(self, facet: str, among: BitMap | None, size: int) -> list[tuple[Any, int]] | None:
        """The `size` values with the most articles of `among`: (value, count), most first.

        Ties go to the lower id, as SQL's `ORDER BY count DESC, id` does.
        None when a value that is not held might belong in the list and the
        articles' own lists (`ArticleLinks`) cannot say either.
        """
        by_article = self._by_article(facet, among)
        found = None
        if not by_article or self._held_may_answer(facet, among, size):
            found = self._top_held(facet, among, size)
        if found is None and by_article:
            # The bitmaps count 40,000 articles' authors at a million in about
            # 9 ms, the articles' lists in 60 ms, so they come second.
            found = _most(self.by_article[facet].counts(among), size)
        return found

    def may_answer(self, facet: str, among: BitMap | None, size: int) -> bool:
        """Whether `top` is likely to answer for `among`, rather than end in None."""
        return self._by_article(facet, among) or self._held_may_answer(facet, among, size)

    def _top_held(
        self, facet: str, among: BitMap | None, size: int
    ) -> list[tuple[Any, int]] | None:
        """`top` from the held values' bitmaps; None if one not held might belong in the list."""
        worst_first: list[tuple[int, Any]] = []  # (count, -id): the heap's root drops out next
        ranking = self._ranking(facet)
        # Locals, and the count written out in the loops: they run up to
        # KEEP times per facet and page. Without `among`, nothing is outside.
        intersect, outside = ((lambda _: 0), True) if among is None else self._counting(among)
        filled = 0  # values of the ranking looked at until the list was full
        for total, value, articles in ranking:
            if len(worst_first) == size:
                break
            filled += 1
            count = total - intersect(articles) if outside else intersect(articles)
            if count:
                heapq.heappush(worst_first, (count, -value))
        replace, least = heapq.heapreplace, worst_first[0][0] if worst_first else 0
        for total, value, articles in ranking[filled:] if len(worst_first) == size else ():
            if total < least:
                break  # neither this value nor any after it can reach the list
            count = total - intersect(articles) if outside else intersect(articles)
            if count >= least and (count, -value) > worst_first[0]:
                replace(worst_first, (count, -value))
                least = worst_first[0][0]
        else:
            floor = self.floors.get(facet, 0)
            full = len(worst_first) == size
            if floor and not (full and worst_first[0][0] >= floor):
                return None
        return [(-negated, count) for count, negated in sorted(worst_first, reverse=True)]

    def _held_may_answer(self, facet: str, among: BitMap | None, size: int) -> bool:
        """Whether `_top_held` is likely to answer for `among`, rather than end in None.

        A guess, only to spare a loop over thousands of values: the `size`-th
        value's articles, scaled down to the share of the catalogue that
        `among` is, should come near the floor. Either way counts are exact.
        """
        floor, ranking = self.floors.get(facet, 0), self._ranking(facet)
        if among is None or not floor or len(ranking) < size:
            return True
        expected = ranking[size - 1][0] * len(among) / max(1, len(self.all))
        return expected * 2 >= floor

    def _by_article(self, facet: str, among: BitMap | None) -> bool:
        return facet in self.by_article and among is not None and len(among) <= BY_ARTICLE_MOST

    def search(self, text: str) -> BitMap:
        """The articles a search matches (see `catalogue.search`)."""
        return _searched(self.build, "all", text)

    def search_titles(self, text: str) -> BitMap:
        """The articles with every search word in their title."""
        return _searched(self.build, "title", text)

    def _ranking(self, facet: str) -> list[tuple[int, Any, BitMap]]:
        """(articles, value, its articles) of every held value, most articles first."""
        if facet not in self._ranked:
            self._ranked[facet] = sorted(
                (
                    (len(articles), value, articles)
                    for value, articles in self.values[facet].items()
                ),
                key=lambda item: (-item[0], item[1]),
            )
        return self._ranked[facet]


def _most(counts: Counter[int], size: int) -> list[tuple[int, int]]:
    """The `size` (id, count) with the highest counts, ties to the lower id.

    Only the ids that reach the `size`-th highest count are sorted: for the
    28,800 authors of 6,700 articles, 1.1 ms rather than 3.8 through
    `heapq.nsmallest` with a key function.
    """
    least = min(heapq.nlargest(size, counts.values()), default=0)
    reaching = [(-count, value) for value, count in counts.items() if count >= least]
    return [(value, -negated) for negated, value in sorted(reaching)[:size]]


@lru_cache(maxsize=SEARCHES_KEPT)
def _searched(build: uuid.UUID, where: str, text: str) -> BitMap:
    """A search's articles, for as long as the index built as `build` is current.

    A search on a word in most articles reads most of the index: at a million
    articles, a second or more. The same search again is then free, until
    the catalogue changes.
    """
    return BitMap(matching_ids(text, in_title=where == "title"))


def version() -> int | None:
    """The catalogue's version number; None if its row is gone (a `flush` removes it)."""
    return CatalogueVersion.objects.values_list("number", flat=True).filter(pk=1).first()


# Reading ----------------------------------------------------------------------

_held: FacetIndex | None = None


def current() -> FacetIndex | None:
    """The bitmaps for the catalogue as it is now, or None (and a build asked for)."""
    global _held
    now = version()
    stored = FacetBitmap.objects.filter(facet="all").values_list("version", "build").first()
    if now is None or stored is None or stored[0] != now:
        _ask_for_build(now)
        return None
    if _held is None or (_held.version, _held.build) != stored:
        _held = _load(*stored)
    return _held


def _load(version_number: int, build: uuid.UUID) -> FacetIndex:
    values: dict[str, dict[Any, BitMap]] = {facet: {} for facet in (*WHOLE, *FLOORED)}
    floors: dict[str, int] = {}
    by_article: dict[str, ArticleLinks] = {}
    everything = BitMap()
    rows = FacetBitmap.objects.filter(build=build).values_list(
        "facet", "value", "floor", "articles"
    )
    for facet, value, floor, articles in rows.iterator(chunk_size=500):
        if facet == BY_ARTICLE:
            by_article[value] = ArticleLinks.deserialize(bytes(articles))
            continue
        bitmap = BitMap.deserialize(bytes(articles))
        if facet == "all":
            everything = bitmap
            continue
        values[facet][_key(facet, value)] = bitmap
        floors[facet] = floor
    return FacetIndex(version_number, build, everything, values, floors, by_article)


def _key(facet: str, value: str) -> Any:
    return value if facet == "type" else int(value)


def _ask_for_build(now: int | None) -> None:
    # Once per version and process: every request would otherwise enqueue one.
    if not cache.add(f"facet-index-asked-{now}", True, timeout=3600):
        return
    if ImportBatch.objects.filter(status=ImportBatch.Status.IMPORTING).exists():
        return
    build_facet_index.enqueue()


# Building ---------------------------------------------------------------------


@task()
def build_facet_index() -> str:
    """The background job behind `current()`.

    Every web process asks once per version, so with several of them the
    queue holds several jobs for one version: the first builds, the rest
    find the stored index current and stop.
    """
    now = version()
    if FacetBitmap.objects.filter(facet="all", version=now).exists():
        return f"facet index already at version {now}"
    index = build()
    if index is None:
        return "the catalogue changed while building; left for the next request to ask again"
    return f"facet index built at version {index.version}"


def build() -> FacetIndex | None:
    """Read the bitmaps from the catalogue and store them; None if it changed meanwhile.

    No transaction: on SQLite one would hold off imports for the whole
    read. Instead the version is read before and after, and a build that
    saw it move is thrown away.
    """
    before = version()
    if before is None:
        # Without its row the triggers have been counting nothing: start again.
        CatalogueVersion.objects.get_or_create(pk=1, defaults={"number": 1})
        before = version()
    everything = BitMap()
    values: dict[str, dict[Any, BitMap]] = {facet: {} for facet in (*WHOLE, *FLOORED)}
    table = Article._meta.db_table
    columns = f"id, year, entry_type, journal_id FROM {table}"
    lists: dict[str, dict[Any, list[int]]] = {facet: {} for facet in WHOLE}
    for pk, year, entry_type, journal_id in _rows(f"SELECT {columns}"):
        everything.add(pk)
        for facet, value in (("year", year), ("type", entry_type), ("journal", journal_id)):
            if value is not None:
                lists[facet].setdefault(value, []).append(pk)
    for facet, by_value in lists.items():
        values[facet] = {value: BitMap(pks) for value, pks in by_value.items()}
    floors = {}
    for facet, model in FLOORED.items():
        floors[facet] = _floor(model)
        values[facet] = dict(_linked(facet, floors[facet]))
    pairs = _rows("SELECT article_id, author_id FROM catalogue_authorship ORDER BY 1, 2")
    by_article = {"author": ArticleLinks.from_pairs(pairs)}
    if version() != before:
        return None
    index = FacetIndex(before, uuid.uuid4(), everything, values, floors, by_article)
    _store(index)
    _refresh_statistics()
    return index


def _refresh_statistics() -> None:
    """Let SQLite's query planner know the tables' sizes again, now they have changed.

    Without statistics it guesses, and counting a few thousand articles'
    authors went along the whole authors index (1.5 s at a million articles
    instead of 45 ms). An approximate ANALYZE takes about a second at a
    million. PostgreSQL's autovacuum does this by itself.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE")


def _rows(sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
    # A server-side cursor on PostgreSQL: a plain one receives every row at
    # once, and the keyword links of a million articles took the build to
    # over 900 MB.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, list(params))
        while rows := cursor.fetchmany(FETCH_SIZE):
            yield from rows


def _floor(model: type[Keyword] | type[Author]) -> int:
    """The article count of the last value kept; 0 when every value is kept."""
    keep = KEEP[model._meta.model_name]
    counts = model.objects.filter(article_count__gt=0).order_by("-article_count")
    kept = counts.values_list("article_count", flat=True)[keep - 1 : keep]
    return max(kept, default=0)


def _linked(facet: str, floor: int) -> Iterator[tuple[int, BitMap]]:
    """(id, its articles) of every keyword or author with at least `floor` articles."""
    model = FLOORED[facet]
    link = {"keyword": "catalogue_articlekeyword", "author": "catalogue_authorship"}[facet]
    column = f"{facet}_id"
    sql = (
        f"SELECT {column}, article_id FROM {link} WHERE {column} IN"
        f" (SELECT id FROM {model._meta.db_table} WHERE article_count >= %s AND article_count > 0)"
        f" ORDER BY {column}"
    )
    current_id, articles = None, BitMap()
    for value, article in _rows(sql, [floor]):
        if value != current_id:
            if current_id is not None:
                yield current_id, articles
            current_id, articles = value, BitMap()
        articles.add(article)
    if current_id is not None:
        yield current_id, articles


def _store(index: FacetIndex) -> None:
    def row(facet: str, value: Any, articles: BitMap | ArticleLinks) -> FacetBitmap:
        return FacetBitmap(
            version=index.version,
            build=index.build,
            facet=facet,
            value=str(value),
            floor=index.floors.get(facet, 0),
            articles=articles.serialize(),
        )

    rows = [row("all", "", index.all)] + [
        row(facet, value, articles)
        for facet, by_value in index.values.items()
        for value, articles in by_value.items()
    ]
    rows += [row(BY_ARTICLE, facet, links) for facet, links in index.by_article.items()]
    with transaction.atomic():
        # Two workers can build at once. On PostgreSQL the second's delete
        # would not see the first's uncommitted rows, and its insert would
        # then fail on `one_bitmap_per_value`: one writer at a time.
        lock_catalogue_writes()
        FacetBitmap.objects.all().delete()
        FacetBitmap.objects.bulk_create(rows, batch_size=500)
    logger.info("facet index: %d bitmaps at version %d", len(rows), index.version)
