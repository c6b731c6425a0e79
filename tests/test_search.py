"""Full-text search: the query syntax, ranking, highlighting, and the index kept in sync.

Every test runs on the database of the run: SQLite (FTS5) by default,
PostgreSQL (tsvector) under scripts/with-postgres.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from catalogue.importer import undo_batch
from catalogue.models import Article, ImportBatch, Keyword
from catalogue.search import highlight, matching_ids, search_articles, title_matches
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


@pytest.fixture
def library(import_text: Importer) -> ImportBatch:
    return import_text(
        entry(
            "treat",
            title="Treatment of chronic pain",
            author="Müller, Anna and Øster, Bo",
            journal="Pain Medicine",
            year="2019",
            keywords="nerve block; analgesia",
            abstract="Blocks of the nerve were given before surgery.",
        )
        + entry(
            "cryo",
            title="Cryoneurolysis outcomes",
            author="Smith, Bob",
            journal="Radiology",
            year="2021",
            keywords="cryotherapy",
            abstract="A café study of cold and of the nerve block it replaces.",
        )
        + entry(
            "strasse",
            title="Imaging in the Hauptstraße clinic",
            author="Jones, Carl",
            journal="Imaging Letters",
            year="2023",
            keywords="ultrasound",
            abstract="Ultrasound guides treatments in pain clinics.",
        )
    )


def found(query: str) -> list[str]:
    return sorted(
        search_articles(Article.objects.all(), query).values_list("citation_key", flat=True)
    )


def ranked(client: Client, query: str) -> list[str]:
    response = client.get("/", {"q": query})
    assert response.status_code == 200
    return [a.citation_key for a in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("treatments", ["strasse", "treat"]),  # stemmed: treatment, treatments
        ("block", ["cryo", "treat"]),  # "Blocks" in an abstract, "nerve block" a keyword
        ("muller", ["treat"]),  # accents fold away
        ("MÜLLER", ["treat"]),
        ("oster", ["treat"]),  # ø has no decomposition: folded by hand
        ("cafe", ["cryo"]),
        ("hauptstrasse", ["strasse"]),  # ß
        ("radiology", ["cryo"]),  # the journal
        ("cryotherapy", ["cryo"]),  # a keyword
        ('"nerve block"', ["cryo", "treat"]),
        ('"block nerve"', []),  # a phrase keeps its order
        ("cryo*", ["cryo"]),
        ("ultra*", ["strasse"]),
        ("ultrasound OR cryotherapy", ["cryo", "strasse"]),
        ("pain OR cold nerve", ["cryo", "treat"]),  # (pain OR cold) AND nerve
        ("nerve -cryotherapy", ["treat"]),
        ("-pain", ["cryo"]),  # exclusion alone
        ("nerve -cryotherapy -zzzz", ["treat"]),  # any excluded word removes an article
        ("zzzz", []),
    ],
)
def test_search_syntax(library: ImportBatch, query: str, expected: list[str]) -> None:
    assert found(query) == expected


def test_common_english_words_do_not_stop_a_search(library: ImportBatch) -> None:
    # PostgreSQL's English configuration drops stop words ("the", "of");
    # SQLite's index keeps them. Either way the other words still count.
    assert found("the cryoneurolysis") == ["cryo"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"""',
        "*",
        "OR",
        "OR OR pain",
        "pain OR",
        "AND",
        "NOT pain",
        "NEAR(pain nerve)",
        "title:pain",
        "(pain",
        "pain)",
        "^pain",
        "pain:*",
        "'pain'",
        "pain & nerve | !cold",
        "\\",
        "\x00pain",
        "😀",
        "-",
        "- - -",
        "a" * 5000,
        " ".join(["pain"] * 100),
        "SELECT * FROM catalogue_article; --",
    ],
)
def test_any_input_is_answered_without_error(
    client: Client, library: ImportBatch, query: str
) -> None:
    response = client.get("/", {"q": query})
    assert response.status_code in (200, 400)  # 400: the form refused it (a NUL byte)
    assert b"Traceback" not in response.content


def test_a_title_match_ranks_above_an_abstract_match(client: Client, library: ImportBatch) -> None:
    # "treatment" is the title of one and only in the abstract of the other,
    # which is newer and would come first by date.
    assert ranked(client, "treatment") == ["treat", "strasse"]


def test_a_search_with_exclusions_lists_what_it_counts(
    client: Client, library: ImportBatch
) -> None:
    response = client.get("/", {"q": "nerve -cryotherapy -zzzz"})
    assert response.context["page"].paginator.count == 1
    assert ranked(client, "nerve -cryotherapy -zzzz") == ["treat"]


def test_results_show_the_number_of_matches(client: Client, library: ImportBatch) -> None:
    response = client.get("/", {"q": "nerve"})
    assert response.context["page"].paginator.count == 2
    assert "2 articles" in response.content.decode()


def test_results_highlight_matched_words_in_titles_and_snippets(
    client: Client, library: ImportBatch
) -> None:
    page = client.get("/", {"q": "treatments"}).content.decode()
    assert "<mark>Treatment</mark> of chronic pain" in page
    assert "Ultrasound guides <mark>treatments</mark> in pain clinics." in page


def test_highlighting_escapes_imported_html(import_text: Importer, client: Client) -> None:
    import_text(
        entry(
            "x",
            title="<script>alert(1)</script> pain",
            abstract="<img src=x onerror=alert(2)> pain",
        )
    )
    page = client.get("/", {"q": "pain"}).content.decode()
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>pain</mark>" in page


def test_snippet_is_a_window_around_the_first_match() -> None:
    text = "word " * 200 + "cryoanalgesia works " + "word " * 200
    snippet = highlight(text, "cryo*", length=100)
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "<mark>cryoanalgesia</mark>" in snippet
    assert len(snippet) < 160


def test_new_and_updated_imports_are_searchable(import_text: Importer) -> None:
    import_text(entry("a", title="First title", doi="10.1/a"))
    assert found("first") == ["a"]
    import_text(entry("a", title="Second title", doi="10.1/a"))
    assert found("first") == []
    assert found("second") == ["a"]


def test_undone_import_restores_what_was_searchable(import_text: Importer) -> None:
    import_text(entry("a", title="Old words", doi="10.1/a"))
    batch = import_text(entry("a", title="New words", doi="10.1/a"))
    undo_batch(batch, user=None)
    assert found("old") == ["a"]
    assert found("new") == []


def test_deleted_articles_leave_the_index(import_text: Importer) -> None:
    import_text(entry("a", title="Doomed paper") + entry("b", title="Kept paper"))
    Article.objects.filter(citation_key="a").delete()
    assert found("paper") == ["b"]
    if connection.vendor == "sqlite":
        # The trigger that does this survives the migrations since it was made.
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM catalogue_article_fts")
            assert cursor.fetchone() == (1,)


@pytest.mark.parametrize(
    "query",
    [
        "pain",
        "nerve block",
        '"nerve block"',
        "cryo*",
        "pain OR cold",
        "nerve -surgery",
        "nerve -surgery -cafe",
        "-pain",
        "treatments",
        "zzz",
        "",
        "!!",
    ],
)
def test_the_ids_of_a_search_are_the_articles_it_finds(library: ImportBatch, query: str) -> None:
    """matching_ids, which the facet index keeps, reads SQLite's FTS5 table alone."""
    articles = Article.objects.all()
    Article.objects.filter(citation_key="strasse").delete()

    assert sorted(matching_ids(query)) == sorted(
        search_articles(articles, query).values_list("pk", flat=True)
    )
    assert sorted(matching_ids(query, in_title=True)) == sorted(
        title_matches(articles, query).values_list("pk", flat=True)
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's storage of a column")
def test_search_documents_are_kept_in_their_rows_on_postgresql() -> None:
    """Not moved out to the TOAST table, from where ranking fetched each match's,
    and rows big enough to hold it beside the title (see migration 0016)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute"
            " WHERE attrelid = 'catalogue_article'::regclass AND attname = 'search_document'"
        )
        assert cursor.fetchone() == ("m",)
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'catalogue_article'::regclass")
        assert cursor.fetchone() == (["toast_tuple_target=4000"],)


def test_renaming_a_keyword_in_the_admin_reindexes_its_articles(
    admin_client: Client, import_text: Importer
) -> None:
    import_text(entry("a", title="A paper", keywords="colour"))
    keyword = Keyword.objects.get()
    response = admin_client.post(
        f"/admin/catalogue/keyword/{keyword.pk}/change/", {"name": "color"}
    )
    assert response.status_code == 302
    assert found("color") == ["a"]
    assert found("colour") == []


def test_editing_an_article_in_the_admin_reindexes_it(
    admin_client: Client, import_text: Importer
) -> None:
    import_text(entry("a", title="Misspelt titel"))
    article = Article.objects.get()
    form = {
        "title": "Corrected title",
        "entry_type": "article",
        "citation_key": "a",
        "extra_fields": "{}",
        "authorships-TOTAL_FORMS": "0",
        "authorships-INITIAL_FORMS": "0",
        "article_keywords-TOTAL_FORMS": "0",
        "article_keywords-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/catalogue/article/{article.pk}/change/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert found("corrected") == ["a"]
    assert found("titel") == []


def test_the_seed_is_found_by_its_words(client: Client, seeded: ImportBatch) -> None:
    for query in ("cryoanalgesia", "filippiadis", "cryo*", '"pain palliation"', "société"):
        assert ranked(client, query) == ["2984889"], query


def test_rebuild_search_index_command_indexes_articles_changed_behind_its_back(
    import_text: Importer,
) -> None:
    import_text(entry("a", title="Draft"))
    Article.objects.update(title="Final")  # no reindex: the index still says "draft"
    assert found("final") == []
    call_command("rebuild_search_index", stdout=io.StringIO())
    assert found("final") == ["a"]
    assert found("draft") == []


def test_a_title_match_outranks_short_records_with_the_word_as_a_keyword(
    client: Client, seeded: ImportBatch, import_text: Importer
) -> None:
    # Short records score high for their length; the seed's long abstract
    # must not sink it below them when its title has the word.
    import_text(
        "".join(
            entry(f"short{i}", title=f"Short note {i}", keywords="cryoanalgesia", year="2024")
            for i in range(5)
        )
    )
    assert ranked(client, "cryoanalgesia")[0] == "2984889"


def test_highlighting_from_many_threads_at_once_stems_every_word_right() -> None:
    """gunicorn runs threads: a stemmer shared between them garbled words or raised."""
    from concurrent.futures import ThreadPoolExecutor

    from catalogue.search import _stem

    words = [
        f"{stem}{ending}"
        for stem in ("treat", "block", "nerve", "stud")
        for ending in ("ment", "ments", "ing", "ed", "ies", "y", "s", "ation", "ational", "fulness")
    ] * 50
    expected = {}
    for word in set(words):
        _stem.cache_clear()
        expected[word] = _stem(word)

    def stem_all(part: list[str]) -> list[tuple[str, str]]:
        return [(word, _stem.__wrapped__(word)) for word in part]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(stem_all, [words[i::8] for i in range(8)])
    assert all(stemmed == expected[word] for part in results for word, stemmed in part)
    assert highlight("Treatments of nerve blocks", "treatment") == (
        "<mark>Treatments</mark> of nerve blocks"
    )
