"""Undoing an import, and resuming one that stopped part way."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from catalogue.importer import (
    CHUNK_SIZE,
    _fingerprint,
    _Links,
    _snapshot,
    import_file,
    undo_batch,
)
from catalogue.models import Article, ArticleChange, Author, ImportBatch, Journal, Keyword
from catalogue.search import search_articles
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


def test_undo_removes_what_the_import_created(import_text: Importer) -> None:
    batch = import_text(entry("a", title="A", author="Solo, Han", keywords="x", journal="J"))
    undo_batch(batch, user=None)
    assert Article.objects.count() == 0
    assert Author.objects.count() == Keyword.objects.count() == Journal.objects.count() == 0
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    assert batch.undo_report == []


def test_undo_restores_changed_fields_and_links(import_text: Importer) -> None:
    import_text(entry("a", title="Old", author="First, A", keywords="old", doi="10.1/a"))
    second = import_text(
        entry("a", title="New", author="Second, B and First, A", keywords="new", doi="10.1/a")
    )
    assert second.updated_count == 1
    undo_batch(second, user=None)
    article = Article.objects.for_detail().get()
    assert article.title == "Old"
    assert [a.family for a in article.ordered_authors] == ["First"]
    assert [k.keyword.name for k in article.article_keywords.all()] == ["old"]
    assert not search_articles(Article.objects.all(), "second").exists()
    # What only the undone import brought in is gone; what the first import made stays.
    assert list(Author.objects.values_list("family", flat=True)) == ["First"]
    assert list(Keyword.objects.values_list("name", flat=True)) == ["old"]


def test_a_created_articles_record_of_change_fingerprints_it_as_stored(
    import_text: Importer, seed_bytes: bytes
) -> None:
    """An undo tells edits since the import by this fingerprint: it must be of
    the article as stored, not only as the importer meant to store it."""
    text = (
        seed_bytes.decode()
        + entry(
            "odd",
            title='{\\"U}ber Gr{\\"o}{\\ss}e \\& <b>\u202eDaten</b>',
            author='M{\\"u}ller, J. and {World Health Organization}',
            keywords="x; y; x",
            author_keywords="X",
            journal="J",
            note="cited By 3",
            eprint="2101.00001",
            month="mar",
            year="",
        )
        + entry("bare", title="Bare")
    )
    import_text(text)
    changes = ArticleChange.objects.select_related("article")
    assert changes.count() == 3
    for change in changes:
        article = change.article
        assert change.after == _fingerprint(_snapshot(article, _Links.of(article))), article


def test_undo_keeps_articles_edited_since_and_says_why(import_text: Importer) -> None:
    batch = import_text(entry("a", title="A") + entry("b", title="B"))
    edited = Article.objects.get(citation_key="b")
    edited.title = "B, corrected by a curator"
    edited.save()
    undo_batch(batch, user=None)
    assert list(Article.objects.values_list("title", flat=True)) == ["B, corrected by a curator"]
    batch.refresh_from_db()
    assert batch.undo_report == [
        {"article": edited.pk, "key": "b", "reason": "edited after this import, so left as it is"}
    ]


def test_every_created_and_updated_article_is_recorded(import_text: Importer) -> None:
    import_text(entry("a", title="A", doi="10.1/a"))
    batch = import_text(entry("a", title="A2", doi="10.1/a") + entry("b", title="B"))
    actions = sorted(batch.changes.values_list("article__citation_key", "action"))
    assert actions == [("a", ArticleChange.Action.UPDATED), ("b", ArticleChange.Action.CREATED)]


def test_stopped_import_resumes_without_duplicates_or_gaps(db: None) -> None:
    count = CHUNK_SIZE * 2 + 17
    data = "".join(entry(f"k{i}", title=f"Paper {i}", author=f"A{i}, B") for i in range(count))
    batch = ImportBatch.objects.create(source_name="big.bib", status=ImportBatch.Status.IMPORTING)
    # What a worker killed after its first chunk leaves behind: that chunk
    # committed, the batch still "importing".
    first_part = "".join(
        entry(f"k{i}", title=f"Paper {i}", author=f"A{i}, B") for i in range(CHUNK_SIZE)
    )
    import_file(io.BytesIO(first_part.encode()), batch=batch)
    batch.status = ImportBatch.Status.IMPORTING
    batch.save()

    import_file(io.BytesIO(data.encode()), batch=batch)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    assert Article.objects.count() == count
    assert batch.created_count == count
    assert batch.processed_entries == count
    assert sorted(Article.objects.values_list("citation_key", flat=True)) == sorted(
        f"k{i}" for i in range(count)
    )


def test_copy_of_an_entry_chunks_later_is_skipped_naming_its_line_after_a_resume(
    db: None,
) -> None:
    first = entry("dup", title="The original", doi="10.1/dup")
    fillers = [entry(f"k{i}", title=f"Paper {i}") for i in range(CHUNK_SIZE + 5)]
    # The copy differs in a field, so it is read (not skipped as held) and matched by DOI.
    copy = entry("dup", title="The original", doi="10.1/dup", note="second export")
    data = (first + "".join(fillers) + copy).encode()
    batch = ImportBatch.objects.create(source_name="dup.bib", status=ImportBatch.Status.IMPORTING)
    # Killed after the first chunk: this process remembers nothing of it.
    import_file(
        io.BytesIO(first.encode() + "".join(fillers[: CHUNK_SIZE - 1]).encode()), batch=batch
    )
    batch.status = ImportBatch.Status.IMPORTING
    batch.save()

    import_file(io.BytesIO(data), batch=batch)

    batch.refresh_from_db()
    assert Article.objects.filter(doi="10.1/dup").get().extra_fields == {}
    copy_line = data.decode().count("\n", 0, data.decode().rindex("@")) + 1
    assert {
        "line": copy_line,
        "key": "dup",
        "message": "the same record as the entry on line 1; this copy was skipped",
        "severity": "warning",
    } in batch.problems


def test_undo_of_more_than_a_chunk_deletes_every_article_it_created(
    import_text: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = import_text(entry("old", title="Older", author="Solo, Han", keywords="x"))
    monkeypatch.setattr("catalogue.importer.CHUNK_SIZE", 3)
    batch = import_text(
        "".join(entry(f"k{i}", title=f"T{i}", author="Solo, Han", keywords="x") for i in range(10))
    )
    assert Article.objects.count() == 11
    undo_batch(batch, user=None)
    assert list(Article.objects.values_list("citation_key", flat=True)) == ["old"]
    assert ArticleChange.objects.filter(batch=batch).count() == 0
    assert Author.objects.get().article_count == Keyword.objects.get().article_count == 1
    assert kept.articles.count() == 1
    assert [a.citation_key for a in search_articles(Article.objects.all(), "T3")] == []
