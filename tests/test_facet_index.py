"""The facet index: counts from bitmaps equal counts in SQL, and it is never stale.

A generated catalogue of a few hundred articles, with the index holding only
the top 25 keywords and authors, so that lists reach below its floor.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.http import QueryDict
from django.test import Client
from pyroaring import BitMap

from catalogue import facet_index, search
from catalogue.browse import profile
from catalogue.facets import build_facets
from catalogue.filters import SORTS
from catalogue.management.commands.generate_catalogue import MEDIUM_TERM, MOST_COMMON_KEYWORD
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    CatalogueVersion,
    FacetBitmap,
    Journal,
    Keyword,
)
from catalogue.paging import SortedArticles
from catalogue.search import search_articles, title_matches
from tests.conftest import trigger_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facet_index, "KEEP", {"keyword": 25, "author": 25})
    monkeypatch.setattr("catalogue.facets.SMALL_SET", 0)
    monkeypatch.setattr("catalogue.browse.SMALL_SET", 0)
    call_command("generate_catalogue", 400, seed=5, stdout=StringIO(), stderr=StringIO())


def facets(params: str, *, from_index: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    with monkeypatch.context() as patch:
        if not from_index:
            patch.setattr(facet_index, "current", lambda: None)
        return [
            (facet.name, [(v.value, v.count, v.selected) for v in facet.values])
            for facet in build_facets(QueryDict(params))
        ]


def busiest_keyword_id() -> int:
    return Keyword.objects.get(slug=MOST_COMMON_KEYWORD).pk


def busiest(model: type[Keyword] | type[Journal] | type[Author], rank: int = 0) -> str:
    return model.objects.order_by("-article_count", "pk")[rank].slug


def test_build_holds_every_year_type_and_journal_and_the_top_keywords(catalogue: None) -> None:
    index = facet_index.build()

    assert index is not None
    assert len(index.all) == Article.objects.count() == 400
    assert set(index.values["journal"]) == set(
        Journal.objects.filter(article_count__gt=0).values_list("pk", flat=True)
    )
    assert sum(len(a) for a in index.values["year"].values()) == 400
    floor = index.floors["keyword"]
    assert floor > 1
    held = set(index.values["keyword"])
    assert held == set(
        Keyword.objects.filter(article_count__gte=floor).values_list("pk", flat=True)
    )
    human = Keyword.objects.get(slug=MOST_COMMON_KEYWORD)
    assert set(index.values["keyword"][human.pk]) == set(
        ArticleKeyword.objects.filter(keyword=human).values_list("article", flat=True)
    )


@pytest.mark.parametrize(
    "params",
    [
        "",
        f"keyword={MOST_COMMON_KEYWORD}",
        f"q={MEDIUM_TERM}",
        "q=study",
        "q=study+-results",
        "year_min=2010&year_max=2020",
        "type=inproceedings",
        "year_min=2015",
        "keyword=no-such-keyword",
        "journal=no-such-journal",
        "q=zzzznothing",
    ],
)
def test_facets_from_the_index_equal_facets_counted_in_sql(
    catalogue: None, params: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert facet_index.build() is not None
    assert facet_index.current() is not None

    from_index = facets(params, from_index=True, monkeypatch=monkeypatch)
    in_sql = facets(params, from_index=False, monkeypatch=monkeypatch)

    assert from_index == in_sql
    assert any(values for _, values in in_sql) or "no-such" in params or "zzzz" in params


def test_facets_for_combined_and_small_filters_equal_sql(
    catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journals and keywords below the floor are read from the links."""
    assert facet_index.build() is not None
    journal, rare = busiest(Journal), Keyword.objects.filter(article_count=2).first().slug
    author = busiest(Author, rank=40)  # below the floor of 25 held
    for params in [
        f"journal={journal}",
        f"journal={journal}&journal={busiest(Journal, 1)}",
        f"keyword={MOST_COMMON_KEYWORD}&keyword={busiest(Keyword, 1)}",
        f"keyword={rare}",
        f"author={author}",
        f"author={busiest(Author)}&keyword={MOST_COMMON_KEYWORD}",
        f"q={MEDIUM_TERM}&keyword={MOST_COMMON_KEYWORD}&year_min=2000&year_max=2026",
    ]:
        from_index = facets(params, from_index=True, monkeypatch=monkeypatch)
        assert from_index == facets(params, from_index=False, monkeypatch=monkeypatch), params


def test_top_gives_up_when_values_below_the_floor_could_be_in_the_list(catalogue: None) -> None:
    index = facet_index.build()
    assert index is not None
    rare = Keyword.objects.filter(article_count=1).first()
    one_article = ArticleKeyword.objects.filter(keyword=rare).values_list("article", flat=True)
    from pyroaring import BitMap

    # A single article's keywords are mostly below the floor.
    assert index.top("keyword", BitMap(one_article), 12) is None
    # The whole catalogue's top twelve are all held.
    top = index.top("keyword", None, 12)
    assert top == list(
        Keyword.objects.order_by("-article_count", "pk").values_list("pk", "article_count")[:12]
    )


@pytest.mark.parametrize("share", [0.0, 0.02, 0.3, 0.7, 1.0])
def test_counts_within_a_few_or_many_articles_are_exact(share: float) -> None:
    """A small set is counted through the articles outside it: the counts are the same."""
    chance = random.Random(7)
    everything = range(1, 200_001)
    sizes = [1, 40, 40, 3_000, 70_000, 200_000]
    values = {value: BitMap(chance.sample(everything, size)) for value, size in enumerate(sizes)}
    values[len(sizes)] = BitMap(range(1, 200_001, 3))  # dense, in every container
    index = facet_index.FacetIndex(1, uuid.uuid4(), BitMap(everything), {"keyword": values})
    among = BitMap(chance.sample(everything, int(share * 200_000)))
    exact = {value: len(articles & among) for value, articles in values.items()}

    assert index.counts("keyword", among) == {value: n for value, n in exact.items() if n}
    assert (
        index.top("keyword", among, 4)
        == sorted(
            [(value, n) for value, n in exact.items() if n], key=lambda item: (-item[1], item[0])
        )[:4]
    )


def test_each_articles_authors_are_held_once_each_across_gaps_in_the_ids() -> None:
    # Articles 2, 5 and 6, with 3 and 4 deleted; article 5 lists author 9 twice.
    pairs = [(2, 7), (2, 8), (5, 9), (5, 9), (5, 10), (6, 7)]
    links = facet_index.ArticleLinks.from_pairs(pairs)
    again = facet_index.ArticleLinks.deserialize(links.serialize())

    for held in (links, again):
        assert held.counts(BitMap([1, 2, 3, 4, 5, 6, 7, 1000])) == {7: 2, 8: 1, 9: 1, 10: 1}
        assert held.counts(BitMap([5])) == {9: 1, 10: 1}
        assert held.counts(BitMap()) == {}
    assert facet_index.ArticleLinks.from_pairs([]).counts(BitMap([1])) == {}


def test_authors_counted_article_by_article_rank_as_sql_does_ties_to_the_lower_id() -> None:
    pairs = [(1, 5), (1, 3), (2, 5), (2, 3), (3, 9), (3, 1), (4, 7)]
    index = facet_index.FacetIndex(
        1,
        uuid.uuid4(),
        BitMap([1, 2, 3, 4]),
        {"author": {}},
        floors={"author": 5},  # none held: the bitmaps cannot answer
        by_article={"author": facet_index.ArticleLinks.from_pairs(sorted(pairs))},
    )

    assert index.top("author", BitMap([1, 2, 3, 4]), 3) == [(3, 2), (5, 2), (1, 1)]
    assert index.top("author", BitMap([3]), 3) == [(1, 1), (9, 1)]
    assert index.top("author", BitMap(), 3) == []


def test_narrow_sets_count_their_authors_article_by_article(
    catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(facet_index.KEEP, "author", 3)  # a floor of several articles
    index = facet_index.build()
    assert index is not None
    medium = index.search(MEDIUM_TERM) & index.articles_of("keyword", busiest_keyword_id())
    assert 0 < len(medium) <= facet_index.BY_ARTICLE_MOST

    top = index.top("author", medium, 12)

    counts = Author.objects.filter(articles__in=list(medium)).annotate(n=Count("articles"))
    exact = sorted(((a.pk, a.n) for a in counts), key=lambda item: (-item[1], item[0]))
    assert top == exact[:12]
    # The authors' bitmaps alone cannot say: some of the twelve are below their floor.
    assert dataclasses.replace(index, by_article={}).top("author", medium, 12) is None


@pytest.mark.parametrize("kind", ["keyword", "journal", "author"])
def test_browse_profile_from_the_index_equals_sql(
    catalogue: None, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert facet_index.build() is not None
    model = {"keyword": Keyword, "journal": Journal, "author": Author}[kind]
    row = model.objects.get(slug=busiest(model))
    articles = Article.objects.filter(**{f"{kind}s" if kind != "journal" else kind: row})

    def counted() -> Any:
        result = profile(
            articles.values("pk"),
            list_params=f"{kind}={row.slug}",
            index=facet_index.current(),
            leave_out={kind: row},
        )
        return (
            [(bar.year, bar.count) for bar in result.years.bars],
            result.keywords,
            result.authors,
            result.journals,
        )

    from_index = counted()
    with monkeypatch.context() as patch:
        patch.setattr(facet_index, "current", lambda: None)
        assert counted() == from_index
    assert from_index[1]


def test_any_change_to_what_facets_count_makes_the_index_stale(catalogue: None) -> None:
    assert facet_index.build() is not None
    assert facet_index.current() is not None
    article = Article.objects.first()

    article.title = "A new title changes no count"
    article.save()
    assert facet_index.current() is not None

    article.year = 1901
    article.save()
    assert facet_index.version() != FacetBitmap.objects.get(facet="all").version

    facet_index.build()
    ArticleKeyword.objects.create(article=article, keyword=Keyword.objects.create(name="Newer"))
    assert facet_index.version() != FacetBitmap.objects.get(facet="all").version

    facet_index.build()
    article.delete()
    assert facet_index.version() != FacetBitmap.objects.get(facet="all").version


def test_a_stale_index_is_not_used_and_a_build_is_asked_for(
    catalogue: None, client: Client
) -> None:
    """Tests run background tasks at once, so asking builds it before the next request."""
    assert facet_index.build() is not None
    Article.objects.filter(pk=Article.objects.first().pk).delete()
    before = FacetBitmap.objects.get(facet="all").version

    response = client.get("/")  # counted in SQL; asks for a build
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 399

    after = FacetBitmap.objects.get(facet="all").version
    assert after != before
    assert after == facet_index.version()
    assert len(facet_index.current().all) == 399


def test_a_build_that_saw_the_catalogue_change_is_thrown_away(
    catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor = facet_index._floor

    def floor_while_an_article_arrives(model: Any) -> int:
        Article.objects.create(citation_key=f"during-{model.__name__}", title="Meanwhile")
        return floor(model)

    monkeypatch.setattr(facet_index, "_floor", floor_while_an_article_arrives)
    assert facet_index.build() is None
    assert not FacetBitmap.objects.exists()


def test_without_its_version_row_the_index_is_never_used(catalogue: None) -> None:
    """`flush` empties every table; the triggers then have no row to count in."""
    CatalogueVersion.objects.all().delete()
    assert facet_index.current() is None

    assert facet_index.build() is not None  # puts the row back
    assert facet_index.current() is not None


def test_version_triggers_are_in_place() -> None:
    names = trigger_names()
    tables = ("catalogue_article", "catalogue_articlekeyword", "catalogue_authorship")
    expected = {f"{t}_bump_{e}" for t in tables for e in ("insert", "delete", "update")}
    assert expected <= names


def listed(client: Client, url: str) -> tuple[int, list[int]]:
    page = client.get(url).context["page"]
    return page.paginator.count, [article.pk for article in page.object_list]


@pytest.mark.parametrize("sort", ["", "newest", "oldest", "title", "cited", "added", "relevance"])
@pytest.mark.parametrize(
    "filters",
    [
        "",
        f"keyword={MOST_COMMON_KEYWORD}",
        "q=study",
        "q=study+-results",
        f"q=study+OR+{MEDIUM_TERM}&keyword={MOST_COMMON_KEYWORD}",
        # A prefix, and a phrase or a rare word: ranked by their own query
        # on PostgreSQL too (search.ranked_ids), with the title weighed apart.
        f"q={MEDIUM_TERM[:6]}*",
        f"q=%22{MEDIUM_TERM}%22+OR+zwitterionic&year_min=2000",
        "year_min=2010&type=article",
    ],
)
def test_list_pages_from_the_index_equal_pages_from_sql(
    catalogue: None,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
    filters: str,
) -> None:
    """Counts from bitmaps, and date orders walked along the index with bitmap lookups."""
    assert facet_index.build() is not None
    url = f"/?{filters}&sort={sort}&page=3"

    from_index = listed(client, url)
    with monkeypatch.context() as patch:
        patch.setattr(facet_index, "current", lambda: None)
        assert listed(client, url) == from_index
    count, shown = from_index
    # Page 3, or the last page of a shorter list.
    assert len(shown) == (25 if count >= 75 else count - (count - 1) // 25 * 25)


# An author's few articles are sorted in SQL from their ids, not walked to.
@pytest.mark.parametrize(("kind", "page"), [("keyword", 2), ("journal", 2), ("author", 1)])
def test_browse_pages_from_the_index_equal_pages_from_sql(
    catalogue: None, client: Client, monkeypatch: pytest.MonkeyPatch, kind: str, page: int
) -> None:
    assert facet_index.build() is not None
    model = {"keyword": Keyword, "journal": Journal, "author": Author}[kind]
    url = f"/{kind}s/{busiest(model)}/?page={page}"

    from_index = listed(client, url)
    with monkeypatch.context() as patch:
        patch.setattr(facet_index, "current", lambda: None)
        assert listed(client, url) == from_index
    assert from_index[1]


def test_a_walk_reads_on_when_its_first_stretch_falls_short(catalogue: None) -> None:
    """The oldest half of the articles, listed newest first: the first stretch holds few."""
    oldest = list(Article.objects.order_by(*SORTS["oldest"]).values_list("pk", flat=True)[:200])
    queryset = Article.objects.filter(pk__in=oldest).order_by(*SORTS["newest"])
    articles = SortedArticles(
        queryset, sort="newest", members=BitMap(oldest), out_of=Article.objects.count()
    )

    assert [article.pk for article in articles[25:50]] == list(
        queryset.values_list("pk", flat=True)[25:50]
    )


def test_a_few_scattered_articles_are_listed_in_order(catalogue: None) -> None:
    """Too few to walk to: SQL sorts their ids."""
    few = list(Article.objects.order_by("pk").values_list("pk", flat=True)[::37])
    queryset = Article.objects.filter(pk__in=few).order_by(*SORTS["oldest"])
    articles = SortedArticles(
        queryset,
        sort="oldest",
        members=BitMap(few),
        out_of=Article.objects.count(),
        order=lambda queryset: queryset.order_by(*SORTS["oldest"]),
    )

    assert [article.pk for article in articles[0:25]] == list(
        queryset.values_list("pk", flat=True)[:25]
    )


@pytest.mark.parametrize("page", [1, 4, 11])
def test_a_broad_search_lists_title_matches_first_then_the_rest_newest_first(
    catalogue: None, client: Client, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """A word in most articles: ranked by title and date, from bitmaps or in SQL alike."""
    monkeypatch.setattr("catalogue.search.BROAD_FROM", 0)
    assert facet_index.build() is not None
    matching = search_articles(Article.objects.all(), "study")
    assert matching.count() * 2 > Article.objects.count()
    in_title = set(title_matches(Article.objects.all(), "study").values_list("pk", flat=True))
    assert 0 < len(in_title) < matching.count()
    newest = list(matching.order_by(*SORTS["newest"]).values_list("pk", flat=True))
    expected = [pk for pk in newest if pk in in_title] + [pk for pk in newest if pk not in in_title]
    url = f"/?q=study&page={page}"

    from_index = listed(client, url)
    assert from_index == (len(expected), expected[(page - 1) * 25 : page * 25])
    with monkeypatch.context() as patch:
        patch.setattr(facet_index, "current", lambda: None)
        assert listed(client, url) == from_index


def test_a_search_ranked_among_articles_low_in_its_ranking_still_fills_the_page(
    catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ranked_ids` reads only as far down the ranking as the share of the
    other filters' articles suggests; when they all rank lower, it reads on."""
    everything = search.ranked_ids("study", slice(0, 1000))
    assert everything is not None
    assert len(everything) > 200
    bottom = everything[len(everything) // 2 :]
    monkeypatch.setattr(search, "RANK_SLACK", 0)

    for window in (slice(0, 10), slice(10, 30)):
        ranked = search.ranked_ids("study", window, BitMap(bottom), match_count=len(everything))
        assert ranked == bottom[window]


@pytest.mark.parametrize("text", [MEDIUM_TERM, "study", "study -results", "zwitterionic OR study"])
def test_a_ranking_told_the_title_matches_equals_one_that_tests_titles_itself(
    catalogue: None, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the title matches (on SQLite), the ranking sorts by score alone
    and takes them first, reading no further than it must; same ids."""
    index = facet_index.build()
    assert index is not None
    matches, titles = index.search(text), index.search_titles(text)
    keyword = index.articles_of("keyword", busiest_keyword_id())
    monkeypatch.setattr(search, "RANK_SLACK", 0)
    monkeypatch.setattr(search, "RANK_FETCH", 3)  # stops part way, as at a million

    for among in (None, matches & keyword):
        members = matches if among is None else among
        titled = titles & members
        for window in (slice(0, 1), slice(0, 20), slice(15, 40), slice(0, 1000)):
            told = search.ranked_ids(text, window, among, match_count=len(matches), titled=titled)
            assert told == search.ranked_ids(text, window, among), (among is None, window)
    assert 0 < len(titles & matches) < len(matches) or text == MEDIUM_TERM
