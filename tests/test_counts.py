"""`article_count` on keywords, authors and journals, kept by database triggers.

Each test changes links a different way and then compares every stored count
with one counted from the links themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from catalogue import importer
from catalogue.importer import undo_batch
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    CatalogueVersion,
    ImportBatch,
    Journal,
    Keyword,
)
from tests.conftest import entry, trigger_names

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


def stored_and_counted(model: type[Keyword] | type[Author] | type[Journal]) -> tuple[dict, dict]:
    stored = dict(model.objects.values_list("slug", "article_count"))
    counted = dict(
        model.objects.annotate(n=Count("articles", distinct=True)).values_list("slug", "n")
    )
    return stored, counted


def assert_counts_are_exact() -> None:
    for model in (Keyword, Author, Journal):
        stored, counted = stored_and_counted(model)
        assert stored == counted, model.__name__


def two_articles() -> str:
    return entry(
        "one",
        title="Cryoanalgesia for knee pain",
        author="Filippiadis, D. and Kelekis, A.",
        journal="Pain Medicine",
        year="2020",
        author_keywords="pain; cryoanalgesia",
        keywords="Pain; Humans",
    ) + entry(
        "two",
        title="Cryoablation of bone tumours",
        author="Kelekis, A. and Prologo, J.D.",
        journal="Pain Medicine",
        year="2021",
        author_keywords="cryoablation",
        keywords="Humans",
    )


def test_import_counts_each_article_once_per_keyword_author_and_journal(
    import_text: Importer,
) -> None:
    import_text(two_articles())

    assert_counts_are_exact()
    # "pain" is both an author keyword and an indexing term of the first article.
    assert ArticleKeyword.objects.filter(keyword__slug="pain").count() == 2
    assert Keyword.objects.get(slug="pain").article_count == 1
    assert Keyword.objects.get(slug="humans").article_count == 2
    assert Author.objects.get(family="Kelekis").article_count == 2
    assert Journal.objects.get().article_count == 2


def test_import_raises_the_catalogue_version(import_text: Importer) -> None:
    """On SQLite the importer raises it itself for the rows it counts (migration 0017)."""
    before = CatalogueVersion.objects.get().number
    import_text(two_articles())
    assert CatalogueVersion.objects.get().number > before


def test_import_that_fails_mid_chunk_leaves_the_triggers_counting(
    import_text: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_text(entry("old", title="Kept", keywords="Humans", author="Kelekis, A."))
    insert_links = importer._insert_links

    def insert_then_fail(articles: list) -> None:
        insert_links(articles)
        raise OSError("the disk went away")

    monkeypatch.setattr(importer, "_insert_links", insert_then_fail)
    with pytest.raises(OSError, match="the disk went away"):
        import_text(two_articles())
    monkeypatch.undo()

    assert list(Article.objects.values_list("citation_key", flat=True)) == ["old"]
    assert_counts_are_exact()
    # Links written afterwards, outside any import, are counted by the triggers.
    article = Article.objects.create(citation_key="later", title="Later")
    ArticleKeyword.objects.create(article=article, keyword=Keyword.objects.get(slug="humans"))
    Authorship.objects.create(article=article, author=Author.objects.get(), position=1)
    assert_counts_are_exact()
    assert Keyword.objects.get(slug="humans").article_count == 2
    assert Author.objects.get().article_count == 2


def test_seed_import_counts_its_keywords_authors_and_journal(seeded: ImportBatch) -> None:
    assert_counts_are_exact()
    assert Journal.objects.get().article_count == 1
    assert set(Keyword.objects.values_list("article_count", flat=True)) == {1}


def test_deleting_an_article_takes_it_off_every_count(import_text: Importer) -> None:
    import_text(two_articles())
    Article.objects.get(citation_key="one").delete()

    assert_counts_are_exact()
    assert Keyword.objects.get(slug="pain").article_count == 0
    assert Keyword.objects.get(slug="humans").article_count == 1
    assert Journal.objects.get().article_count == 1


def test_undoing_an_import_takes_its_articles_off_the_counts(import_text: Importer) -> None:
    import_text(entry("old", title="Kept", keywords="Humans", journal="Pain Medicine"))
    batch = import_text(two_articles())
    undo_batch(batch, user=None)

    assert_counts_are_exact()
    assert Keyword.objects.get(slug="humans").article_count == 1
    assert Journal.objects.get().article_count == 1


def test_re_import_that_changes_keywords_moves_the_counts(import_text: Importer) -> None:
    import_text(two_articles())
    import_text(
        entry(
            "one",
            title="Cryoanalgesia for knee pain",
            author="Filippiadis, D.",
            journal="Knee Surgery",
            year="2020",
            keywords="Cryotherapy",
        )
    )

    assert_counts_are_exact()
    assert Keyword.objects.get(slug="pain").article_count == 0
    assert Keyword.objects.get(slug="cryotherapy").article_count == 1


def test_moving_links_and_journals_by_update_moves_the_counts(import_text: Importer) -> None:
    import_text(two_articles())
    pain, humans, cryoanalgesia = (
        Keyword.objects.get(slug=slug) for slug in ("pain", "humans", "cryoanalgesia")
    )
    one = Article.objects.get(citation_key="one")

    # The author-keyword link moves to a keyword the article has already;
    # "pain" keeps the article through its indexing-term link.
    ArticleKeyword.objects.filter(keyword=pain, kind="author").update(keyword=humans)
    assert_counts_are_exact()
    pain.refresh_from_db()
    humans.refresh_from_db()
    assert (pain.article_count, humans.article_count) == (1, 2)
    ArticleKeyword.objects.filter(keyword=pain).update(keyword=cryoanalgesia)
    assert_counts_are_exact()
    assert Keyword.objects.get(slug="pain").article_count == 0
    assert_counts_are_exact()
    # Merging two authors the way a curator would: repoint the authorships.
    kelekis, prologo = Author.objects.get(family="Kelekis"), Author.objects.get(family="Prologo")
    Authorship.objects.filter(author=prologo).update(author=kelekis)
    assert_counts_are_exact()
    Article.objects.filter(pk=one.pk).update(journal=Journal.objects.create(name="Knee"))
    assert_counts_are_exact()
    Article.objects.update(journal=None)
    assert_counts_are_exact()
    # An update that leaves the link where it was changes nothing.
    ArticleKeyword.objects.filter(keyword__slug="cryoablation").update(kind="indexed")
    assert_counts_are_exact()


def test_links_written_one_by_one_and_in_bulk_are_counted(import_text: Importer) -> None:
    import_text(two_articles())
    article = Article.objects.create(citation_key="three", title="Three")
    humans = Keyword.objects.get(slug="humans")
    ArticleKeyword.objects.create(article=article, keyword=humans)
    ArticleKeyword.objects.bulk_create(
        [
            ArticleKeyword(article=article, keyword=humans, kind=ArticleKeyword.Kind.INDEXED),
            ArticleKeyword(article=article, keyword=Keyword.objects.create(name="Knee")),
        ]
    )
    assert_counts_are_exact()
    assert Keyword.objects.get(slug="humans").article_count == 3

    ArticleKeyword.objects.filter(article=article, kind=ArticleKeyword.Kind.AUTHOR).delete()
    assert_counts_are_exact()
    assert Keyword.objects.get(slug="humans").article_count == 3


def test_count_triggers_are_in_place() -> None:
    """A migration that rebuilds one of these tables on SQLite drops its triggers."""
    names = trigger_names()
    expected = {
        f"{table}_count_{event}"
        for table in ("catalogue_articlekeyword", "catalogue_authorship")
        for event in ("insert", "delete", "update")
    } | {f"catalogue_article_journal_count_{event}" for event in ("insert", "delete", "update")}
    assert expected <= names


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's row triggers only")
def test_insert_triggers_leave_an_imports_new_rows_to_it() -> None:
    """Migration 0017: the importer counts the links of the articles it creates."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_insert'"
            " AND sql LIKE '%catalogue_linkcountpause%'"
        )
        paused = {name for (name,) in cursor.fetchall()}
        cursor.execute("SELECT paused FROM catalogue_linkcountpause")
        assert cursor.fetchall() == [(0,)]
    assert paused == {
        "catalogue_articlekeyword_count_insert",
        "catalogue_authorship_count_insert",
        "catalogue_article_bump_insert",
        "catalogue_articlekeyword_bump_insert",
        "catalogue_authorship_bump_insert",
    }


def test_generated_catalogue_is_counted(db: None) -> None:
    """generate_catalogue writes with executemany (SQLite) or COPY (PostgreSQL)."""
    call_command("generate_catalogue", 300, seed=2, stdout=StringIO(), stderr=StringIO())
    assert_counts_are_exact()
    assert Keyword.objects.filter(article_count__gt=100).exists()
