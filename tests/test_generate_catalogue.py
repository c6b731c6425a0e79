"""generate_catalogue: a large realistic catalogue written straight to the database."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.utils.text import slugify

from catalogue import search
from catalogue.bibtex.identifiers import normalise_doi
from catalogue.bibtex.text import fold
from catalogue.importer import dedupe_block
from catalogue.management.commands.generate_catalogue import (
    BUSIEST_JOURNAL,
    COMMON_TERMS,
    MEDIUM_TERM,
    MOST_COMMON_KEYWORD,
    MOST_PROLIFIC_AUTHOR,
    RARE_ARTICLES,
    RARE_TERMS,
)
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    ImportBatch,
    Journal,
    Keyword,
)

pytestmark = pytest.mark.django_db
N = 400


def generate(count: int = N, **options: Any) -> str:
    out = StringIO()
    call_command("generate_catalogue", count, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def generated(db: None) -> None:
    generate(seed=3)


def snapshot() -> list[tuple[Any, ...]]:
    """Everything generated, in a form that compares across runs."""
    articles = Article.objects.order_by("pk").values_list(
        "pk", "citation_key", "title", "abstract", "year", "doi", "journal__slug", "source_bibtex"
    )
    authors = Authorship.objects.order_by("article", "position").values_list(
        "article", "position", "author__slug", "author__normalised"
    )
    keywords = ArticleKeyword.objects.order_by("article", "keyword__slug", "kind").values_list(
        "article", "keyword__slug", "kind"
    )
    return [*articles, *authors, *keywords, *index_rows()]


def index_rows(ids: list[int] | None = None) -> list[tuple[Any, ...]]:
    """The full-text index's rows (of these articles), as the database holds them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT id, search_document::text FROM catalogue_article ORDER BY id")
        else:
            cursor.execute(f"SELECT rowid, * FROM {search.FTS_TABLE} ORDER BY rowid")
        rows = cursor.fetchall()
    return [r for r in rows if ids is None or r[0] in ids]


def empty_catalogue() -> None:
    Article.objects.all().delete()
    for model in (Author, Keyword, Journal):
        model.objects.all().delete()


def found(text: str) -> int:
    return search.search_articles(Article.objects.all(), text).count()


def test_it_creates_the_articles_asked_for_and_reports_the_rate() -> None:
    output = generate(250)

    assert Article.objects.count() == 250
    assert "Generated 250 articles" in output
    assert "articles/s" in output


def test_every_article_has_authors_in_order_from_position_one(generated: None) -> None:
    positions: dict[int, list[int]] = {}
    for article, position in Authorship.objects.order_by("article", "position").values_list(
        "article", "position"
    ):
        positions.setdefault(article, []).append(position)

    assert len(positions) == N
    assert all(p == list(range(1, len(p) + 1)) for p in positions.values())
    assert 3.5 < Authorship.objects.count() / N < 6.5


def test_every_article_has_about_fifteen_keywords_of_both_kinds(generated: None) -> None:
    per_article = Counter(ArticleKeyword.objects.values_list("article", flat=True))
    kinds = set(ArticleKeyword.objects.values_list("kind", flat=True))

    assert len(per_article) == N
    assert 12 < sum(per_article.values()) / N < 18
    assert min(per_article.values()) >= 5
    assert kinds == {ArticleKeyword.Kind.AUTHOR, ArticleKeyword.Kind.INDEXED}


@pytest.mark.parametrize("batch_size", [2000, 37])
def test_the_same_seed_gives_the_same_catalogue_whatever_the_batch_size(batch_size: int) -> None:
    generate(seed=5)
    first = snapshot()
    empty_catalogue()

    generate(seed=5, batch_size=batch_size)

    assert snapshot() == first


def test_another_seed_gives_another_catalogue() -> None:
    generate(seed=5)
    first = snapshot()
    empty_catalogue()

    generate(seed=6)

    assert snapshot() != first


def test_the_most_common_keyword_covers_a_large_share(generated: None) -> None:
    counts = (
        ArticleKeyword.objects.values("keyword__slug")
        .annotate(articles=Count("article", distinct=True))
        .order_by("-articles")
    )
    top = counts[0]

    assert top["keyword__slug"] == MOST_COMMON_KEYWORD
    assert 0.3 <= top["articles"] / N <= 0.6
    # And the long tail: most keywords are on a handful of articles.
    assert sum(1 for c in counts if c["articles"] <= 3) > len(counts) / 2


def test_the_busiest_journal_and_most_prolific_author_lead(generated: None) -> None:
    journals = Article.objects.values("journal__name").annotate(n=Count("pk")).order_by("-n")
    family, given = MOST_PROLIFIC_AUTHOR
    prolific = Authorship.objects.filter(author__family=family, author__given=given).count()
    most = Authorship.objects.values("author").annotate(n=Count("pk")).order_by("-n")[0]["n"]

    assert [j["journal__name"] for j in journals if j["journal__name"]][0] == BUSIEST_JOURNAL
    assert prolific >= 0.8 * most


def test_search_terms_are_as_common_as_documented(generated: None) -> None:
    for term in COMMON_TERMS:
        assert found(term) > 0.9 * N, term
    assert 0.015 * N < found(MEDIUM_TERM) < 0.07 * N
    for term in RARE_TERMS:
        assert found(term) == RARE_ARTICLES, term


def test_names_are_normalised_and_slugged_as_the_models_do(generated: None) -> None:
    for model in (Author, Keyword, Journal):
        rows = list(model.objects.all())
        limit = model._meta.get_field("normalised").max_length
        assert rows, model
        for row in rows:
            assert row.normalised == row.normalised_form()[:limit]
            base = slugify(fold(row.slug_source()))[:200].strip("-")
            assert row.slug == base or row.slug.startswith(f"{base}-"), row.slug


def test_articles_are_filled_as_the_importer_fills_them(generated: None) -> None:
    articles = Article.objects.for_detail().order_by("pk")
    keys = [a.citation_key for a in articles]
    dois = [a.doi for a in articles if a.doi]

    assert len(set(keys)) == N
    assert 0.8 * N < len(dois) == len(set(dois))
    for article in articles[:50]:
        first = article.ordered_authors[0]
        assert article.dedupe_block == dedupe_block(article.year, first.family)
        assert article.source_key == article.citation_key
        assert normalise_doi(article.doi) == article.doi
        assert article.source_bibtex.startswith(f"@{article.entry_type}{{{article.citation_key},")
        assert 1970 <= article.year <= 2026
        article.full_clean()


def words(row: tuple[Any, ...]) -> list[list[str]]:
    """An index row's words (PostgreSQL: lexemes with their weights), in any order:
    `search.reindex` reads keywords in database order, imports in the entry's."""
    return [sorted(re.sub(r"\d+", "", str(column)).split()) for column in row]


def test_the_search_index_holds_what_reindexing_would_write(generated: None) -> None:
    ids = list(Article.objects.order_by("pk").values_list("pk", flat=True)[:50])
    written = index_rows(ids)

    search.reindex(ids)

    assert len(written) == len(ids)
    assert [words(r) for r in index_rows(ids)] == [words(r) for r in written]


def test_browse_pages_of_generated_rows_render(client: Client, generated: None) -> None:
    article = Article.objects.order_by("pk")[N // 2]
    keyword = Keyword.objects.get(slug=MOST_COMMON_KEYWORD)
    journal = Journal.objects.get(name=BUSIEST_JOURNAL)
    author = Authorship.objects.filter(article=article, position=1).get().author
    urls = [
        "/",
        f"/?q={COMMON_TERMS[0]}",
        f"/?q={MEDIUM_TERM}&keyword={keyword.slug}&year_min=2000&year_max=2020",
        f"/?journal={journal.slug}",
        "/?page=3",
        keyword.get_absolute_url(),
        journal.get_absolute_url(),
        author.get_absolute_url(),
        article.get_absolute_url(),
        "/keywords/",
        "/authors/?order=count",
    ]

    for url in urls:
        assert client.get(url).status_code == 200, url


def test_it_refuses_a_catalogue_that_already_has_articles(generated: None) -> None:
    with pytest.raises(CommandError, match="already holds 400 articles"):
        generate(10)

    assert Article.objects.count() == N


def test_append_adds_articles_and_reuses_names(generated: None) -> None:
    keywords = Keyword.objects.count()

    generate(100, seed=4, append=True)

    assert Article.objects.count() == N + 100
    assert Keyword.objects.count() < keywords + 100 * 15
    assert Keyword.objects.filter(normalised=MOST_COMMON_KEYWORD).count() == 1
    assert Article.objects.filter(citation_key__endswith="g").count() == 0


def test_an_import_after_generating_gets_fresh_ids(
    generated: None, import_text: Callable[..., ImportBatch], seed_bytes: bytes
) -> None:
    top = Article.objects.order_by("-pk").values_list("pk", flat=True)[0]

    batch = import_text(seed_bytes, "seed.bib")

    assert batch.created_count == 1
    assert Article.objects.order_by("-pk").values_list("pk", flat=True)[0] > top
