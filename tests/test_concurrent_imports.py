"""Imports that run at the same time, in separate transactions and connections.

Several workers (or app servers) import into one PostgreSQL database; these
tests hold one import's transaction open while another starts, which is the
moment two imports would both decide that a shared author is new.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from catalogue import facet_index
from catalogue.importer import import_bibtex, undo_batch
from catalogue.models import Article, Author, FacetBitmap, ImportBatch, Journal, Keyword
from tests.conftest import entry

# Long enough for the second import to reach its first lookup, and to be
# waiting, before the first one commits.
HOLD_SECONDS = 1.0

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The SQLite test database lives in memory with a shared cache, where a
    # second connection gets "table is locked" at once instead of waiting on
    # the busy timeout as it does with the real, file database. There,
    # IMMEDIATE transactions run writers one at a time anyway.
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def shared_entries(prefix: str, count: int) -> str:
    """Entries of their own keys and DOIs, sharing authors, keywords and a journal."""
    return "".join(
        entry(
            f"{prefix}{n}",
            title=f"{prefix} study number {n}",
            author="Smith, Jane and Müller, Hans and {World Health Organization}",
            keywords="Pain; Cryoanalgesia",
            journal="Pain Medicine",
            year="2021",
            doi=f"10.1000/{prefix}.{n}",
        )
        for n in range(count)
    )


def while_uncommitted(first: Callable[[], object], second: Callable[[], object]) -> list[str]:
    """Run `first` in a transaction held open, then `second` in another thread.

    `second` starts once `first` has written and while it has not yet
    committed (for HOLD_SECONDS). Returns the errors of both, as text.
    """
    written = threading.Event()
    errors: list[str] = []

    def in_thread(work: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # reported by the test, not lost in the thread
                errors.append(repr(error))
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def held_open() -> None:
        with transaction.atomic():
            first()
            written.set()
            threading.Event().wait(HOLD_SECONDS)

    holder = in_thread(held_open)
    assert written.wait(30), errors
    other = in_thread(second)
    holder.join(60)
    other.join(60)
    return errors


def test_two_imports_creating_the_same_authors_at_once_both_complete() -> None:
    # The second must not decide, while the first is uncommitted, that the
    # authors, keywords and journal are new.
    errors = while_uncommitted(
        lambda: import_bibtex(shared_entries("first", 3), source_name="first.bib"),
        lambda: import_bibtex(shared_entries("second", 3), source_name="second.bib"),
    )

    assert errors == []
    assert sorted(ImportBatch.objects.values_list("status", flat=True)) == ["done", "done"]
    assert Article.objects.count() == 6
    assert sorted(Author.objects.values_list("family", flat=True)) == [
        "Müller",
        "Smith",
        "World Health Organization",
    ]
    assert Keyword.objects.count() == 2
    assert list(Journal.objects.values_list("name", "article_count")) == [("Pain Medicine", 6)]
    assert sorted(Author.objects.values_list("article_count", flat=True)) == [6, 6, 6]


def test_the_same_file_imported_twice_at_once_is_held_once() -> None:
    text = shared_entries("same", 4)

    errors = while_uncommitted(
        lambda: import_bibtex(text, source_name="one.bib"),
        lambda: import_bibtex(text, source_name="two.bib"),
    )

    assert errors == []
    assert Article.objects.count() == 4
    counts = ImportBatch.objects.order_by("pk").values_list("created_count", "unchanged_count")
    assert list(counts) == [(4, 0), (0, 4)]


def test_an_import_waits_for_an_undo_that_removes_its_authors() -> None:
    earlier = import_bibtex(shared_entries("earlier", 2), source_name="earlier.bib")

    errors = while_uncommitted(
        lambda: undo_batch(earlier, user=None),
        lambda: import_bibtex(shared_entries("later", 2), source_name="later.bib"),
    )

    assert errors == []
    assert sorted(Article.objects.values_list("citation_key", flat=True)) == ["later0", "later1"]
    assert Author.objects.count() == 3
    assert sorted(Author.objects.values_list("article_count", flat=True)) == [2, 2, 2]


def test_two_facet_index_builds_at_once_both_store_their_index() -> None:
    """Each worker's web processes queue a build; two workers may run one each."""
    import_bibtex(shared_entries("built", 3), source_name="built.bib")

    errors = while_uncommitted(facet_index.build, facet_index.build)

    assert errors == []
    assert FacetBitmap.objects.filter(facet="all").count() == 1
    assert facet_index.current() is not None
