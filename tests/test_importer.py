"""Storing BibTeX: the seed exactly, re-imports, matching and failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection
from django.test import Client

from catalogue.models import Article, ArticleKeyword, Author, ImportBatch, Journal, Keyword
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


def test_seed_imports_with_every_field_exact(seeded: ImportBatch) -> None:
    article = Article.objects.get()
    assert article.citation_key == "2984889"
    assert article.entry_type == "article"
    assert article.title == (
        "Percutaneous cryoanalgesia for pain palliation: Current status and future trends"
    )
    assert article.year == 2021
    assert (article.volume, article.number, article.pages) == ("102", "5", "273–278")
    assert article.publisher == "Elsevier Masson s.r.l."
    assert article.issn == "2211-5684"
    assert article.doi == "10.1016/j.diii.2020.11.007"
    assert article.journal.name == "Diagnostic and Interventional Imaging"
    assert article.journal.issn == "2211-5684"
    assert article.abstract.startswith("Cryoanalgesia, otherwise termed cryoneurolysis")
    assert article.abstract.endswith("© 2020 Société française de radiologie")
    assert article.source_bibtex.startswith("@article{2984889,")
    assert seeded.created_count == 1


def test_seed_keeps_author_order_with_initials(seeded: ImportBatch) -> None:
    authors = [(a.family, a.given) for a in Article.objects.for_listing().get().ordered_authors]
    assert authors == [
        ("Filippiadis", "D."),
        ("Efthymiou", "E."),
        ("Tsochatzis", "A."),
        ("Kelekis", "A."),
        ("Prologo", "J.D."),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "nitrous oxide",
        "abdominal tumor",
        "randomized controlled trial (topic)",
        "Analgesia",
        "Cryotherapy",
        "Randomized Controlled Trials as Topic",
        "Short Survey",
    ],
)
def test_seed_keywords_split_on_scopus_groups(seeded: ImportBatch, name: str) -> None:
    assert Keyword.objects.filter(name__iexact=name).exists()


def test_seed_keyword_case_variants_are_one_keyword(seeded: ImportBatch) -> None:
    # "pain" (EMTREE, twice) and "Pain" (MeSH) are the same term.
    assert Keyword.objects.filter(normalised="pain").count() == 1
    assert (
        not Keyword.objects.filter(name__contains=",").filter(name__startswith="nitrous").exists()
    )


def test_seed_keywords_are_indexing_terms(seeded: ImportBatch) -> None:
    kinds = set(ArticleKeyword.objects.values_list("kind", flat=True))
    assert kinds == {ArticleKeyword.Kind.INDEXED}


def test_reimport_changes_nothing(
    seeded: ImportBatch, import_text: Importer, seed_bytes: bytes
) -> None:
    before = Article.objects.get().updated_at
    again = import_text(seed_bytes, "seed.bib")
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert Article.objects.count() == 1
    assert Author.objects.count() == 5
    assert Article.objects.get().updated_at == before


def test_changed_field_updates_the_article(import_text: Importer) -> None:
    import_text(entry("k1", title="Old title", year="2020", doi="10.1/abc"))
    batch = import_text(entry("k1", title="New title", year="2020", doi="10.1/abc"))
    assert (batch.created_count, batch.updated_count) == (0, 1)
    assert Article.objects.get().title == "New title"


def test_entry_matches_by_doi_before_key(import_text: Importer) -> None:
    import_text(entry("first", title="A study", doi="10.1000/XYZ"))
    batch = import_text(entry("renamed", title="A study", doi="https://doi.org/10.1000/xyz"))
    assert batch.created_count == 0
    assert Article.objects.get().citation_key == "first"


def test_same_key_with_other_doi_is_another_record(import_text: Importer) -> None:
    import_text(entry("20231", title="Book one", doi="10.1/one"))
    batch = import_text(entry("20231", title="Book two", doi="10.1/two"))
    assert batch.created_count == 1
    assert sorted(Article.objects.values_list("citation_key", flat=True)) == ["20231", "20231-1"]
    assert "stored as 20231-1" in batch.warnings[0]["message"]


def test_broken_entry_between_two_good_ones_is_reported_by_line(import_text: Importer) -> None:
    text = (
        entry("good1", title="First")
        + "@article{broken,\n  title = {Never closed,\n  year = 2020\n\n"
        + entry("good2", title="Second")
    )
    batch = import_text(text)
    assert sorted(Article.objects.values_list("citation_key", flat=True)) == ["good1", "good2"]
    assert batch.failed_count == 1
    [error] = batch.errors
    assert error["line"] == 4
    assert error["key"] == "broken"


def test_entry_without_title_fails_and_others_import(import_text: Importer) -> None:
    batch = import_text(entry("untitled", year="2020") + entry("titled", title="Here"))
    assert list(Article.objects.values_list("citation_key", flat=True)) == ["titled"]
    assert batch.errors == [
        {"line": 1, "key": "untitled", "message": "the entry has no title", "severity": "error"}
    ]


@pytest.fixture
def article_insert_fails_for_title_boom(db: None) -> None:
    """A real database failure: a trigger that refuses one title."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON catalogue_article "
                "WHEN NEW.title = 'Boom' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                "IF NEW.title = 'Boom' THEN RAISE EXCEPTION 'disk trouble'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON catalogue_article "
                "FOR EACH ROW EXECUTE FUNCTION boom()"
            )


def test_failure_while_storing_leaves_database_unchanged(
    import_text: Importer, article_insert_fails_for_title_boom: None
) -> None:
    import_text(entry("kept", title="Already here"))
    # More than one chunk, so that the failure comes after a commit.
    many = "".join(entry(f"new{i}", title=f"New {i}", author=f"New{i}, Person") for i in range(600))
    with pytest.raises(DatabaseError):
        import_text(many + entry("new-last", title="Boom"))
    assert list(Article.objects.values_list("citation_key", flat=True)) == ["kept"]
    assert not Author.objects.filter(family__startswith="New").exists()
    failed = ImportBatch.objects.get(status=ImportBatch.Status.FAILED)
    assert "The import stopped and was undone" in failed.error


def test_same_person_with_and_without_accents_is_one_author(import_text: Importer) -> None:
    import_text(
        entry("a", title="One", author='M{\\"u}ller, J.')
        + entry("b", title="Two", author="Muller, J.")
        + entry("c", title="Three", author="Müller, Johann")
    )
    assert sorted(Author.objects.values_list("given", flat=True)) == ["J.", "Johann"]


def test_author_and_indexed_keywords_keep_their_kind(import_text: Importer) -> None:
    import_text(entry("k", title="T", author_keywords="Pain; Nerve block", keywords="pain; human"))
    links = set(ArticleKeyword.objects.values_list("keyword__normalised", "kind"))
    assert links == {
        ("pain", "author"),
        ("nerve block", "author"),
        ("pain", "indexed"),
        ("human", "indexed"),
    }


def test_journal_matched_across_imports_by_name(import_text: Importer) -> None:
    import_text(entry("a", title="One", journal="The Lancet"))
    import_text(entry("b", title="Two", journal="the  lancet"))
    assert Journal.objects.count() == 1


def test_other_fields_are_kept(import_text: Importer) -> None:
    import_text(
        entry("k", title="T", note="Cited by: 12; Export Date: 1 May 2021", art_number="5448")
    )
    extra = Article.objects.get().extra_fields
    assert extra["note"] == "Cited by: 12; Export Date: 1 May 2021"
    assert extra["art_number"] == "5448"


def test_overlong_value_is_shortened_with_a_warning(import_text: Importer) -> None:
    batch = import_text(entry("k", title="T", volume="9" * 300))
    assert Article.objects.get().volume == "9" * 255
    assert batch.warnings[0]["message"] == "volume is longer than 255 characters and was shortened"


def test_et_al_is_recorded_not_an_author(import_text: Importer) -> None:
    import_text(entry("k", title="T", author="Smith, A. and others"))
    article = Article.objects.get()
    assert article.authors_et_al
    assert list(Author.objects.values_list("family", flat=True)) == ["Smith"]


def test_same_key_with_an_unrelated_title_is_another_record(import_text: Importer) -> None:
    import_text(
        entry("Smith2020", title="Cold therapy for knee pain", author="Smith, A", year="2020")
    )
    batch = import_text(
        entry(
            "Smith2020", title="Graph neural networks for bearings", author="Smith, Z", year="2021"
        )
    )
    assert batch.created_count == 1
    assert Article.objects.count() == 2


def test_same_key_with_a_corrected_title_updates_the_article(import_text: Importer) -> None:
    import_text(
        entry("Smith2020", title="Cold therapy for knee pian", author="Smith, A", year="2020")
    )
    batch = import_text(
        entry("Smith2020", title="Cold therapy for knee pain", author="Smith, A", year="2020")
    )
    assert (batch.created_count, batch.updated_count) == (0, 1)
    assert Article.objects.get().title == "Cold therapy for knee pain"


def test_reimporting_an_unchanged_entry_keeps_curation(import_text: Importer) -> None:
    import_text(entry("k", title="Tpyo in title", year="2020"))
    article = Article.objects.get()
    article.title = "Typo in title"
    article.save()
    batch = import_text(entry("k", title="Tpyo in title", year="2020"))
    assert batch.unchanged_count == 1
    assert Article.objects.get().title == "Typo in title"


def test_changed_entry_still_overwrites_curation(import_text: Importer) -> None:
    import_text(entry("k", title="Tpyo in title", year="2020"))
    Article.objects.update(title="Typo in title")
    batch = import_text(entry("k", title="Tpyo in title", year="2021"))
    assert batch.updated_count == 1
    assert Article.objects.get().year == 2021


def test_reimporting_two_versions_of_one_record_changes_nothing(import_text: Importer) -> None:
    # Scopus exports sometimes hold one paper twice, differing in case.
    text = entry("z", title="Open Source Photonics", doi="10.1/z") + entry(
        "z", title="Open source photonics", doi="10.1/z"
    )
    first = import_text(text)
    assert (first.created_count, first.unchanged_count) == (1, 1)
    for _ in range(2):
        again = import_text(text)
        assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert Article.objects.get().title == "Open Source Photonics"


def test_scopus_citation_counts_are_kept_and_sort_most_cited_first(
    import_text: Callable[..., ImportBatch], client: Client
) -> None:
    import_text(
        entry("few", title="Few", note="cited By 2", year="2020")
        + entry("many", title="Many", note="Cited by: 40; Export Date: 1 May 2024", year="2019")
        + entry("none", title="Uncounted", year="2021")
    )
    assert dict(Article.objects.values_list("citation_key", "cited_by")) == {
        "few": 2,
        "many": 40,
        "none": None,
    }
    response = client.get("/", {"sort": "cited"})
    assert [a.citation_key for a in response.context["page"].object_list] == ["many", "few", "none"]
    assert '<option value="cited" selected>Most cited</option>' in response.content.decode()


def test_migration_fills_citation_counts_of_articles_imported_before_the_column(
    import_text: Callable[..., ImportBatch],
) -> None:
    import importlib

    from django.apps import apps

    import_text(entry("old", title="Old", note="cited By 7"))
    Article.objects.update(cited_by=None)  # as articles imported before migration 0008 are
    backfill = importlib.import_module("catalogue.migrations.0009_backfill_cited_by").backfill
    backfill(apps, None)
    assert Article.objects.get().cited_by == 7


def _sqlite_pragma(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own settings")
def test_import_writes_with_a_larger_sqlite_cache_and_checkpoint_then_puts_them_back() -> None:
    from catalogue.importer import IMPORT_CACHE_KIB, IMPORT_CHECKPOINT_PAGES, import_bibtex

    before = (_sqlite_pragma("cache_size"), _sqlite_pragma("wal_autocheckpoint"))
    during = []

    def progress(done: int, total: int) -> None:
        during.append((_sqlite_pragma("cache_size"), _sqlite_pragma("wal_autocheckpoint")))

    text = "".join(entry(f"k{i}", title=f"Paper {i}") for i in range(3))
    import_bibtex(text, source_name="x.bib", progress=progress)
    assert during == [(-IMPORT_CACHE_KIB, IMPORT_CHECKPOINT_PAGES)]
    assert (_sqlite_pragma("cache_size"), _sqlite_pragma("wal_autocheckpoint")) == before
    assert before != during[0]
