"""Full-text search over articles: the one module views call to search.

Queries are written the way people type into a web search box:

- words must all match, in any field; `"quoted phrases"` match as written;
- `cryo*` matches words starting with "cryo";
- `pain OR analgesia` matches either; `-rat` excludes.

Matching is case- and accent-insensitive (`muller` finds Müller, `cafe`
finds café) and stems English words (`treatments` finds treatment). Results
rank by relevance with the title weighted highest, then authors and
keywords, then the journal, then the abstract. Whatever is typed, the query
handed to the database is built here from plain words, so no input is a
syntax error.

Each database has its own index, kept by `index_articles` and `reindex`:

- SQLite: an FTS5 table, `catalogue_article_fts`, one row per article
  (rowid = article id), with the porter stemmer; a trigger removes the row
  when the article is deleted.
- PostgreSQL: a weighted `tsvector` column, `catalogue_article.search_document`
  (English configuration), with a GIN index; it goes with its row.

Both index the text folded by `catalogue.bibtex.text.fold`, as queries are,
so that both databases give the same answers. The migration that creates
them is `0006_full_text_search`.

>>> query = parse_query('cryo* "nerve block" pain OR analgesia -rat')
>>> _fts_match(query.groups), query.exclude
('("cryo" *) AND ("nerve block") AND ("pain" OR "analgesia")', [Term(words=('rat',), prefix=False)])
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import snowballstemmer
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    FloatField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from catalogue.bibtex.text import fold
from catalogue.models import Article, ArticleKeyword, Authorship

# A quoted phrase (closed or not) or a run of non-space characters, either
# optionally preceded by "-" to exclude it.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
_WORD = re.compile(r"\w+")
MAX_TERMS = 12
MAX_QUERY_CHARS = 1000

FTS_TABLE = "catalogue_article_fts"
# bm25 weights of the FTS columns, in order: title, people (authors and
# keywords), journal, abstract.
FTS_COLUMNS = ("title", "people", "journal", "abstract")
_FTS_WEIGHTS = "10.0, 5.0, 2.0, 1.0"
# Added to the score of an article whose title has every search word: more
# than either database's score ever reaches.
TITLE_BONUS = 1000.0
# Catalogues from this size rank a search that most articles match by title
# and date (`is_broad`).
BROAD_FROM = 20_000
# Rows more than twice the expected number that a ranking among other
# filters' articles reads before it gives up guessing (`ranked_ids`).
RANK_SLACK = 100
# Rows of a ranking read at a time, checking after each batch whether the page is full.
RANK_FETCH = 1000
# PostgreSQL weights A to D, the same order.
_TSV_WEIGHTS = "ABCD"


@dataclass(frozen=True)
class Term:
    """Words that must come together (one word, or a phrase); a prefix of the last if `prefix`."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass
class SearchQuery:
    # Every group must match; within a group, any term (they were joined by OR).
    groups: list[list[Term]] = field(default_factory=list)
    exclude: list[Term] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.groups or self.exclude)

    @property
    def terms(self) -> list[Term]:
        return [term for group in self.groups for term in group]


def parse_query(text: str) -> SearchQuery:
    """Read search box text; anything at all gives a (perhaps empty) query."""
    query = SearchQuery()
    join_next = False
    for match in _TOKEN.finditer(text[:MAX_QUERY_CHARS]):
        phrase, bare = match.group(2), match.group(4)
        if bare == "OR":
            join_next = bool(query.groups)
            continue
        negated = bool(match.group(1) or match.group(3))
        raw = phrase if phrase is not None else bare
        words = tuple(_WORD.findall(fold(raw)))
        if not words:
            continue
        term = Term(words, prefix=phrase is None and raw.endswith("*"))
        if negated:
            query.exclude.append(term)
        elif join_next:
            query.groups[-1].append(term)
        else:
            query.groups.append([term])
        join_next = False
    query.groups = [group[:MAX_TERMS] for group in query.groups[:MAX_TERMS]]
    query.exclude = query.exclude[:MAX_TERMS]
    return query


def search_articles(queryset: QuerySet[Article], text: str) -> QuerySet[Article]:
    """Articles of `queryset` that match the search box text `text`."""
    query = parse_query(text)
    if query.groups:
        queryset = queryset.filter(_matches(query.groups))
    if query.exclude:
        # Any excluded word or phrase removes an article, as in a web search.
        queryset = queryset.exclude(_matches([query.exclude]))
    return queryset


def with_relevance(
    queryset: QuerySet[Article], text: str, *, broad: bool = False
) -> QuerySet[Article]:
    """Annotate `relevance` (higher is better; 0 without search words).

    Articles whose title holds every search word come first, then the
    database's own score. Its weights alone would not do: both scores
    shrink with the length of the whole article, so a long abstract would
    sink a paper with the words in its title below short records that
    only have them as a keyword. A `broad` search (`is_broad`) has no
    score: only the title counts, and ties go by date.
    """
    groups = parse_query(text).groups
    if not groups:
        return queryset.annotate(relevance=Value(0.0, output_field=FloatField()))
    if broad:
        in_title = Case(When(_title_matches(groups), then=1.0), default=0.0)
        return queryset.annotate(relevance=ExpressionWrapper(in_title, FloatField()))
    if connection.vendor == "postgresql":
        return queryset.annotate(relevance=_postgresql_score(groups))
    # FTS5 scores a match only in a query that has its table in the FROM
    # clause: a subquery per article would run the whole match again for
    # each one. The ORM has no join to a table without a model, hence extra().
    match = _fts_match(groups)
    return queryset.extra(
        tables=[FTS_TABLE],
        where=[f"{FTS_TABLE}.rowid = {Article._meta.db_table}.id", f"{FTS_TABLE} MATCH %s"],
        params=[match],
        select={
            "relevance": f"-bm25({FTS_TABLE}, {_FTS_WEIGHTS}) + {TITLE_BONUS} * ("
            f"{FTS_TABLE}.rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s))"
        },
        select_params=[_fts_in_title(groups)],
    )


def title_matches(queryset: QuerySet[Article], text: str) -> QuerySet[Article]:
    """Articles of `queryset` whose title has every search word of `text`."""
    groups = parse_query(text).groups
    if not groups:
        return queryset.none()
    return queryset.filter(_title_matches(groups))


def matching_ids(text: str, *, in_title: bool = False) -> Iterator[int]:
    """Ids of the articles that `search_articles` finds for `text` (`in_title`:
    that `title_matches` finds).

    On SQLite, read from the FTS5 table alone when there are words to match:
    the same ids (deleting an article deletes its row there) without looking
    each up in catalogue_article. At a million articles, a word in 990,000
    of them took 0.7 s rather than 4.6, one in 40,000 15 ms rather than 97.
    """
    query = parse_query(text)
    if connection.vendor == "sqlite" and query.groups:
        match = _fts_in_title(query.groups) if in_title else _fts_search(query)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])
            while rows := cursor.fetchmany(10_000):
                yield from (pk for (pk,) in rows)
        return
    articles = Article.objects.all()
    found = title_matches(articles, text) if in_title else search_articles(articles, text)
    yield from found.values_list("pk", flat=True)


def ranked_ids(
    text: str,
    window: slice,
    among: Collection[int] | None = None,
    *,
    match_count: int = 0,
    titled: Collection[int] | None = None,
) -> list[int] | None:
    """Ids `window` of the articles matching `text`, in the order of `with_relevance`.

    With `among`, only matches that are in it count (other filters'
    articles, say); `match_count`, if known, is how many articles match `text`;
    `titled`, if known, the matches in `among` with every word in their
    title (the facet index keeps both). None when there is nothing to rank.
    """
    query = parse_query(text)
    if not query.groups:
        return None
    if connection.vendor == "postgresql":
        return _ranked_ids_postgresql(text, query.groups, window, among)
    if connection.vendor != "sqlite":
        return None
    return _ranked_ids_sqlite(query, window, among, match_count, titled)


def ranking_uses_titles() -> bool:
    """Whether `ranked_ids` is quicker for being given the title matches (`titled`)."""
    return connection.vendor == "sqlite"


def _ranked_ids_sqlite(
    query: SearchQuery,
    window: slice,
    among: Collection[int] | None,
    match_count: int,
    titled: Collection[int] | None,
) -> list[int]:
    """`ranked_ids` on SQLite: the order of filters.SQLITE_RELEVANCE (score, then id).

    From the FTS5 table alone: at a million articles, the ORM's query spends
    as long reading each match's article row as scoring it. The score is
    the title bonus, then bm25. When the matches with their words in the
    title (`titled`) are known, FTS5 sorts by bm25 alone and the title
    matches are taken first here, which spares it a second search for the
    title test: the medium term at a million articles was ranked in 54 ms
    rather than 78, among a keyword and years in 61 rather than 80.
    """
    start, stop = window.start or 0, window.stop
    if titled is None:
        sql = (
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
            f" ORDER BY -bm25({FTS_TABLE}, {_FTS_WEIGHTS}) + {TITLE_BONUS} * (rowid IN"
            f" (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)) DESC, rowid"
        )
        params: list[Any] = [_fts_search(query), _fts_in_title(query.groups)]
    else:
        sql = (
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
            f" ORDER BY bm25({FTS_TABLE}, {_FTS_WEIGHTS}), rowid"
        )
        params = [_fts_search(query)]
    with connection.cursor() as cursor:
        if among is None and titled is None:
            cursor.execute(f"{sql} LIMIT %s OFFSET %s", [*params, stop - start, start])
            return [pk for (pk,) in cursor.fetchall()]
        # Not `rowid IN (...)` in the query: FTS5 would run the whole search
        # once per id. The sort scores every match anyway, but under a LIMIT
        # SQLite keeps only the top rows rather than sorting them all: at a
        # million articles, 65 ms instead of 83 for the medium term. The
        # LIMIT is twice the rows expected to hold the window if the matches
        # wanted are spread evenly over the ranking; if that falls short, the
        # whole ranking is read after all.
        ranking = _Tiers(among, titled, stop)
        wanted = ranking.rows_wanted(match_count)
        limit = int(2 * wanted) + RANK_SLACK if wanted else -1
        while True:
            cursor.execute(f"{sql} LIMIT %s", [*params, limit])
            ranking.clear()
            read = 0
            while not ranking.full() and (rows := cursor.fetchmany(RANK_FETCH)):
                read += len(rows)
                ranking.add(pk for (pk,) in rows)
            if ranking.full() or read < limit or limit < 0:
                return ranking.ids()[start:stop]
            limit = -1


class _Tiers:
    """The first `stop` ids of a ranking read in bm25 order: those in `among`,
    and of them those in `titled` first (every id is in the first tier
    without `titled`)."""

    def __init__(self, among: Collection[int] | None, titled: Collection[int] | None, stop: int):
        self.among, self.titled, self.stop = among, titled, stop
        # How many ids the first tier has in the whole ranking (None: one tier).
        self.first_total = None if titled is None else len(titled)
        self.clear()

    def clear(self) -> None:
        self.first: list[int] = []
        self.rest: list[int] = []

    def add(self, pks: Iterable[int]) -> None:
        among, titled = self.among, self.titled
        for pk in pks:
            if among is not None and pk not in among:
                continue
            (self.first if titled is None or pk in titled else self.rest).append(pk)

    def full(self) -> bool:
        """Whether the first `stop` ids are known, whatever the rows not read yet hold."""
        if len(self.first) >= self.stop:
            return True
        return self.first_total == len(self.first) and len(self.first) + len(self.rest) >= self.stop

    def ids(self) -> list[int]:
        return self.first + self.rest

    def rows_wanted(self, match_count: int) -> float:
        """About how many rows of the ranking hold the first `stop` ids; 0 if not known."""
        if not match_count:
            return 0
        wanted = len(self.among) if self.among is not None else match_count
        if self.first_total is not None:
            if self.first_total < self.stop:
                return 0  # every title match is needed, and they may be anywhere
            wanted = self.first_total
        return self.stop * match_count / wanted if wanted else 0


def _ranked_ids_postgresql(
    text: str, groups: list[list[Term]], window: slice, among: Collection[int] | None
) -> list[int]:
    """`ranked_ids` on PostgreSQL: filters.SORTS["relevance"] with `with_relevance`'s score.

    JIT compilation is turned off for this query alone: the
    planner's estimate for ranking tens of thousands of matches passes
    `jit_above_cost`, and compiling took longer than it saved (the medium
    term at a million articles: 109 ms without, 121 with, medians of 25).
    """
    articles = Article.objects.all()
    if among is None:
        articles = search_articles(articles, text)
    else:
        articles = articles.filter(pk__in=id_list(among))
    ranked = (
        articles.annotate(relevance=_postgresql_score(groups))
        .order_by("-relevance", "-year", "-month", "title", "pk")
        .values_list("pk", flat=True)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        return list(ranked[window])


def _postgresql_score(groups: list[list[Term]]) -> RawSQL:
    """`with_relevance`'s score on PostgreSQL.

    In double precision throughout: the literal 1000.0 alone is numeric, and
    numeric arithmetic on every match took a fifth of the ranking (the
    medium term at a million articles: 147 ms rather than 120).
    """
    return RawSQL(
        f"ts_rank(search_document, to_tsquery('english', %s)) + {TITLE_BONUS}::float8 * ("
        f"{_POSTGRESQL_IN_TITLE})::int",
        [_tsquery(groups), _tsquery(groups, weight="A")],
        output_field=FloatField(),
    )


# Whether the title holds the words, given `_tsquery(groups, weight="A")`: a
# query whose words match only in weight A, the title. It gives what
# `ts_filter(search_document, '{a}')` would, without copying each document
# to filter it, and the GIN index can find its candidates.
_POSTGRESQL_IN_TITLE = "search_document @@ to_tsquery('english', %s)"


def _title_matches(groups: list[list[Term]]) -> Any:
    if connection.vendor == "postgresql":
        return RawSQL(
            _POSTGRESQL_IN_TITLE, [_tsquery(groups, weight="A")], output_field=BooleanField()
        )
    sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
    return Q(pk__in=RawSQL(sql, [_fts_in_title(groups)]))


def is_broad(matches: int, catalogue: int) -> bool:
    """Whether a search matching `matches` of `catalogue` articles is too broad to rank by words.

    BM25 gives a word found in most articles no weight (FTS5 a token one),
    so its score says little about which of them matter most, and scoring
    hundreds of thousands of them takes seconds. In a large catalogue such a
    search lists the articles with the words in their title first, then the
    rest, each newest first. A small one scores them all as usual.
    """
    return catalogue >= BROAD_FROM and matches * 2 > catalogue


def _matches(groups: list[list[Term]]) -> Any:
    """A filter for articles matching every group."""
    if connection.vendor == "postgresql":
        return RawSQL(
            "search_document @@ to_tsquery('english', %s)",
            [_tsquery(groups)],
            output_field=BooleanField(),
        )
    sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
    return Q(pk__in=RawSQL(sql, [_fts_match(groups)]))


def _fts_search(query: SearchQuery) -> str:
    """The FTS5 query for the whole search: its groups, NOT any excluded term."""
    match = _fts_match(query.groups)
    return f"({match}) NOT {_fts_match([query.exclude])}" if query.exclude else match


def _fts_in_title(groups: list[list[Term]]) -> str:
    """An FTS5 query matching `groups` in the title column only."""
    return f"{{title}} : ({_fts_match(groups)})"


def _fts_match(groups: list[list[Term]]) -> str:
    """An FTS5 query: `("pain" OR "analgesia") AND ("nerve block")`; words only, quoted."""

    def term(t: Term) -> str:
        return '"' + " ".join(t.words) + '"' + (" *" if t.prefix else "")

    return " AND ".join("(" + " OR ".join(term(t) for t in group) + ")" for group in groups)


def _tsquery(groups: list[list[Term]], *, weight: str = "") -> str:
    """A to_tsquery text: `('pain' | 'analgesia') & ('nerve' <-> 'block')`; words only, quoted.

    With a `weight`, each word matches only where it has that weight:
    `('nerve':A <-> 'block':A)`, `('cryo':*A)`.
    """

    def term(t: Term) -> str:
        marks = [weight] * len(t.words)
        if t.prefix:
            marks[-1] = "*" + weight
        lexemes = [
            f"'{w}':{mark}" if mark else f"'{w}'" for w, mark in zip(t.words, marks, strict=True)
        ]
        return "(" + " <-> ".join(lexemes) + ")"

    return " & ".join("(" + " | ".join(term(t) for t in group) + ")" for group in groups)


def id_list(ids: Collection[int]) -> RawSQL | list[int]:
    """`ids` for a `field__in=` lookup, sent to the database as one parameter.

    Given a list, Django makes and checks a parameter per id: for the 6,700
    articles of a search with a keyword, 25 ms, more than the database then
    takes to count their authors.
    """
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(ids))])
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
    return list(ids)


# Keeping the index ------------------------------------------------------------


@dataclass
class IndexText:
    """What the index holds for one article, before folding."""

    article_id: int
    title: str
    people: Sequence[str]  # author names and keywords
    journal: str
    abstract: str

    def folded(self) -> tuple[str, str, str, str]:
        return (
            fold(self.title),
            fold(" ".join(self.people)),
            fold(self.journal),
            fold(self.abstract),
        )


@dataclass(frozen=True)
class ArticleColumn:
    """A column of catalogue_article that is not a model field, and the SQL that fills it."""

    column: str
    sql: str  # with one %s per value of `IndexText.folded()`


def column_of_new_articles() -> ArticleColumn | None:
    """On PostgreSQL, the index is a column: new articles get it as they are inserted.

    Set afterwards, it would cost an UPDATE of every new row, a second
    version of it in every index. On SQLite, None: the index is a table of
    its own (`index_articles`).
    """
    if connection.vendor != "postgresql":
        return None
    return ArticleColumn("search_document", _TSVECTOR)


_TSVECTOR = " || ".join(
    f"setweight(to_tsvector('english', %s), '{weight}')" for weight in _TSV_WEIGHTS
)


def index_articles(texts: Iterable[IndexText]) -> None:
    """(Re)write the index rows of these articles."""
    write_index((text.article_id, *text.folded()) for text in texts)


def write_index(folded_rows: Iterable[tuple[int, str, str, str, str]]) -> None:
    """(Re)write index rows given folded: (article id, *IndexText.folded())."""
    rows = list(folded_rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                f"UPDATE catalogue_article SET search_document = {_TSVECTOR} WHERE id = %s",
                [(*folded, article_id) for article_id, *folded in rows],
            )
            return
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            cursor.execute(
                f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({', '.join(['%s'] * len(part))})", part
            )
        columns = ", ".join(FTS_COLUMNS)
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (rowid, {columns}) VALUES (%s, %s, %s, %s, %s)", rows
        )


def reindex(article_ids: Iterable[int], *, batch_size: int = 1000) -> int:
    """Rebuild the index rows of these articles from the database; returns how many."""
    ids = list(article_ids)
    for start in range(0, len(ids), batch_size):
        index_articles(_texts(ids[start : start + batch_size]))
    return len(ids)


def _texts(ids: list[int]) -> list[IndexText]:
    people: dict[int, list[str]] = {i: [] for i in ids}
    for article_id, given, prefix, family, suffix in (
        Authorship.objects.filter(article_id__in=ids)
        .order_by("article_id", "position")
        .values_list(
            "article_id", "author__given", "author__prefix", "author__family", "author__suffix"
        )
    ):
        people[article_id].append(" ".join(p for p in (given, prefix, family, suffix) if p))
    for article_id, name in ArticleKeyword.objects.filter(article_id__in=ids).values_list(
        "article_id", "keyword__name"
    ):
        people[article_id].append(name)
    return [
        IndexText(pk, title, people[pk], journal or "", abstract)
        for pk, title, journal, abstract in Article.objects.filter(pk__in=ids).values_list(
            "pk", "title", "journal__name", "abstract"
        )
    ]


# Showing where the words matched ----------------------------------------------

# A stemmer keeps the word it works on in itself: two threads sharing one
# (gunicorn's threads) garble each other's words, or fail outright.
_stemmers = threading.local()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    """Stemming is slow in pure Python, and the same words recur on every page."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


@lru_cache(maxsize=128)
def _marked(query_text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The stems and the prefixes that `highlight` marks: read once for a page's rows."""
    query = parse_query(query_text)
    stems = frozenset(_stem(w) for t in query.terms for w in t.words)
    return stems, tuple(t.words[-1] for t in query.terms if t.prefix)


def highlight(text: str, query_text: str, *, length: int = 0) -> SafeString:
    """`text`, escaped, with the words the query matched in <mark>.

    With `length`, only a window of about that many characters around the
    first run of matches, with "…" where text was left out. Matching here
    follows the index's rules (folded, stemmed, prefixes), word by word.
    """
    stems, prefixes = _marked(query_text)
    windowed = bool(length) and len(text) > length
    spans: list[tuple[int, int]] = []
    reach = len(text)  # matches from here on are not shown
    for match in _WORD.finditer(text):
        if match.start() >= reach:
            break
        word = fold(match.group(0))
        if _stem(word) in stems or (prefixes and word.startswith(prefixes)):
            spans.append(match.span())
            if windowed and len(spans) == 1:
                reach = match.start() + length  # the window ends before it
    start, end = 0, len(text)
    if windowed:
        first = spans[0][0] if spans else 0
        start = max(0, first - length // 4)
        start = text.rfind(" ", 0, start) + 1 if start else 0
        end = min(len(text), start + length)
        cut = text.rfind(" ", start, end)
        end = cut if end < len(text) and cut > start else end
    pieces = ["…" if start else ""]
    position = start
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        pieces.append(escape(text[position:span_start]))
        pieces.append(f"<mark>{escape(text[span_start:span_end])}</mark>")
        position = span_end
    pieces.append(escape(text[position:end]))
    pieces.append("…" if end < len(text) else "")
    return mark_safe("".join(pieces))  # noqa: S308 - every piece of text is escaped above
