"""Did you mean, for searches and filters that found nothing; names as one types."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.http import QueryDict
from django.test import Client

from catalogue.models import ImportBatch
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


@pytest.fixture
def papers(import_text: Importer) -> ImportBatch:
    return import_text(
        entry(
            "a",
            title="Cold therapy",
            author="Müller, Anna",
            journal="Radiology",
            keywords="cryotherapy",
        )
        + entry(
            "b",
            title="Nerve blocks",
            author="Prologo, J.D.",
            journal="Pain Medicine",
            keywords="analgesia",
        )
    )


def test_a_misspelt_search_suggests_the_nearest_known_words(
    client: Client, papers: ImportBatch
) -> None:
    response = client.get("/", {"q": "cryotherapyy"})
    assert response.context["page"].paginator.count == 0
    assert response.context["suggestions"] == [("cryotherapy", "q=cryotherapy")]
    assert 'Did you mean: <a href="?q=cryotherapy">cryotherapy</a>?' in response.content.decode()
    followed = client.get("/", {"q": "cryotherapy"})
    assert [a.citation_key for a in followed.context["page"].object_list] == ["a"]


def test_a_misspelt_author_in_a_search_is_corrected_too(
    client: Client, papers: ImportBatch
) -> None:
    assert client.get("/", {"q": "prologgo"}).context["suggestions"] == [("prologo", "q=prologo")]


def test_a_search_that_finds_something_suggests_nothing(
    client: Client, papers: ImportBatch
) -> None:
    assert client.get("/", {"q": "cryotherapy"}).context["suggestions"] == []


def test_nothing_like_any_known_word_suggests_nothing(client: Client, papers: ImportBatch) -> None:
    response = client.get("/", {"q": "xylophone"})
    assert response.context["suggestions"] == []
    assert "Did you mean" not in response.content.decode()


def test_a_misspelt_keyword_filter_suggests_the_nearest_keyword(
    client: Client, papers: ImportBatch
) -> None:
    response = client.get("/", {"keyword": "cryotherapi", "q": "cold"})
    [(label, query)] = response.context["suggestions"]
    assert label == "keyword “cryotherapy”"
    assert QueryDict(query) == QueryDict("q=cold&keyword=cryotherapy")


def test_suggest_json_completes_keywords_authors_and_journals(
    client: Client, papers: ImportBatch
) -> None:
    assert client.get("/suggest.json", {"q": "cryo"}).json() == {
        "results": [{"label": "cryotherapy", "kind": "keyword", "url": "/keywords/cryotherapy/"}]
    }
    # Folded: "mull" finds Müller; the journal and the author come by kind.
    assert [r["label"] for r in client.get("/suggest.json", {"q": "MULL"}).json()["results"]] == [
        "Anna Müller"
    ]
    assert [r["kind"] for r in client.get("/suggest.json", {"q": "ra"}).json()["results"]] == [
        "journal"
    ]


@pytest.mark.parametrize("q", ["", "c", "%", "_", "\\", "' OR 1=1 --", "x" * 500])
def test_suggest_json_answers_any_input(client: Client, papers: ImportBatch, q: str) -> None:
    response = client.get("/suggest.json", {"q": q})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_search_boxes_ask_for_suggestions_only_where_javascript_runs(client: Client) -> None:
    page = client.get("/").content.decode()
    assert 'data-suggest="/suggest.json"' in page
    assert "catalogue/suggest.js" in page
