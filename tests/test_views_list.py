"""The article list: search, filters, facets, sorting, export."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from catalogue.models import Article, ImportBatch
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


@pytest.fixture
def three_articles(import_text: Importer) -> None:
    import_text(
        entry(
            "a2019",
            title="Nerve blocks in {DNA} repair",
            author="Müller, Anna and Smith, Bob",
            journal="Pain Medicine",
            year="2019",
            keywords="pain; nerve block",
        )
        + entry(
            "b2021",
            title="Cryoneurolysis outcomes",
            author="Smith, Bob",
            journal="Radiology",
            year="2021",
            keywords="pain; cryotherapy",
            abstract="A café study of cold.",
        )
        + "@book{c2023, title = {A book on ice}, author = {Jones, Carl}, year = 2023, "
        "publisher = {Ice Press}, keywords = {cryotherapy}}\n"
    )


def keys(response) -> list[str]:  # noqa: ANN001 - a test client response
    return [a.citation_key for a in response.context["page"].object_list]


def test_seed_is_found_by_search_word(client: Client, seeded: ImportBatch) -> None:
    response = client.get("/", {"q": "cryoanalgesia"})
    assert keys(response) == ["2984889"]
    assert (
        "Percutaneous <mark>cryoanalgesia</mark> for pain palliation" in response.content.decode()
    )


@pytest.mark.parametrize(
    "params",
    [
        {"keyword": "cryotherapy"},
        {"journal": "diagnostic-and-interventional-imaging"},
        {"author": "d-filippiadis"},
        {"year_min": "2021", "year_max": "2021"},
        {"type": "article"},
    ],
)
def test_seed_is_found_by_each_filter(client: Client, seeded: ImportBatch, params: dict) -> None:
    assert keys(client.get("/", params)) == ["2984889"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smith", ["b2021", "a2019"]),
        ("muller", ["a2019"]),  # accent-insensitive
        ("MÜLLER", ["a2019"]),
        ("cafe", ["b2021"]),
        ("pain smith", ["a2019", "b2021"]),  # "pain" twice (keyword, journal) ranks higher
        ('"nerve blocks"', ["a2019"]),
        ("smith -cryoneurolysis", ["a2019"]),
        ("radiology", ["b2021"]),  # journal
        ("dna", ["a2019"]),  # braces gone from the title
        ("zzzz", []),
        ('"unclosed', []),
        ("-", ["c2023", "b2021", "a2019"]),
    ],
)
def test_search_matches_every_word_folded(
    client: Client, three_articles: None, query: str, expected: list[str]
) -> None:
    assert keys(client.get("/", {"q": query})) == expected


def test_keywords_combine_with_and(client: Client, three_articles: None) -> None:
    response = client.get("/?keyword=pain&keyword=cryotherapy")
    assert keys(response) == ["b2021"]


def test_journals_combine_with_or(client: Client, three_articles: None) -> None:
    response = client.get("/?journal=pain-medicine&journal=radiology")
    assert keys(response) == ["b2021", "a2019"]


def test_year_range_and_type(client: Client, three_articles: None) -> None:
    assert keys(client.get("/", {"year_min": "2020"})) == ["c2023", "b2021"]
    assert keys(client.get("/", {"year_max": "2020"})) == ["a2019"]
    assert keys(client.get("/", {"type": "book"})) == ["c2023"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["c2023", "b2021", "a2019"]),
        ("oldest", ["a2019", "b2021", "c2023"]),
        ("title", ["c2023", "b2021", "a2019"]),
    ],
)
def test_sort_orders(client: Client, three_articles: None, sort: str, expected: list[str]) -> None:
    assert keys(client.get("/", {"sort": sort})) == expected


def facet(response, name: str) -> dict[str, int]:  # noqa: ANN001
    [found] = [f for f in response.context["facets"] if f.name == name]
    return {v.value: v.count for v in found.values}


def test_facet_counts_reflect_the_other_filters(client: Client, three_articles: None) -> None:
    response = client.get("/", {"journal": "radiology"})
    # The journal facet ignores the journal filter itself, so other journals stay offered...
    assert facet(response, "journal") == {"pain-medicine": 1, "radiology": 1}
    # ...while the other facets count within it.
    assert facet(response, "keyword") == {"pain": 1, "cryotherapy": 1}
    assert facet(response, "year") == {"2021": 1}
    assert facet(response, "author") == {"bob-smith": 1}


def test_facet_counts_without_filters(client: Client, three_articles: None) -> None:
    response = client.get("/")
    assert facet(response, "keyword") == {"pain": 2, "cryotherapy": 2, "nerve-block": 1}
    assert facet(response, "type") == {"article": 2, "book": 1}
    assert facet(response, "author")["bob-smith"] == 2


def test_every_active_filter_has_a_remove_link(client: Client, three_articles: None) -> None:
    response = client.get("/?keyword=pain&keyword=cryotherapy&q=cold&year_min=2000")
    labels = dict(response.context["active_filters"])
    assert labels == {
        "Keyword: pain": "keyword=cryotherapy&q=cold&year_min=2000",
        "Keyword: cryotherapy": "keyword=pain&q=cold&year_min=2000",
        "Search: cold": "keyword=pain&keyword=cryotherapy&year_min=2000",
        "From: 2000": "keyword=pain&keyword=cryotherapy&q=cold",
    }


@pytest.mark.parametrize(
    "query",
    [
        "year_min=abc",
        "year_max=1e999",
        "page=-3",
        "page=abc",
        "page=999999",
        "sort=drop+table",
        "keyword=%3Cscript%3E",
        "author=../../etc",
        "type=" + "x" * 500,
        "q=" + "%22" * 300,
    ],
)
def test_invalid_parameters_give_a_helpful_page(
    client: Client, three_articles: None, query: str
) -> None:
    response = client.get("/?" + query)
    assert response.status_code in (200, 400)
    assert b"Articles" in response.content
    if response.status_code == 400:
        assert b"could not be used" in response.content


def test_export_downloads_all_matches_not_just_a_page(
    client: Client, import_text: Importer, settings
) -> None:  # noqa: ANN001
    settings.CATALOGUE_PAGE_SIZE = 2
    import_text("".join(entry(f"k{i}", title=f"Paper {i}", keywords="ice") for i in range(5)))
    import_text(entry("other", title="Unrelated"))
    response = client.get("/export.bib", {"keyword": "ice"})
    assert response["Content-Type"].startswith("application/x-bibtex")
    body = b"".join(response.streaming_content).decode()
    assert body.count("@article{") == 5
    assert "Unrelated" not in body


def test_list_query_count_does_not_grow_with_articles(
    client: Client, import_text: Importer, query_count: Callable[[Callable[[], object]], int]
) -> None:
    import_text(entry("one", title="One", author="A, B and C, D", keywords="x; y", journal="J"))
    one = query_count(lambda: client.get("/"))
    import_text(
        "".join(
            entry(
                f"k{i}",
                title=f"T{i}",
                author=f"P{i}, Q and R{i}, S",
                keywords=f"k{i}; z",
                journal=f"J{i}",
            )
            for i in range(10)
        )
    )
    assert query_count(lambda: client.get("/")) == one
    assert Article.objects.count() == 11


def test_search_ranks_title_matches_first(client: Client, import_text: Importer) -> None:
    import_text(
        entry("newer", title="Nerve ablation", abstract="Compared with cryoanalgesia.", year="2024")
        + entry("seed", title="Percutaneous cryoanalgesia for pain", year="2021")
    )
    assert keys(client.get("/", {"q": "cryoanalgesia"})) == ["seed", "newer"]
    assert keys(client.get("/", {"q": "cryoanalgesia", "sort": "newest"})) == ["newer", "seed"]
    assert (
        client.get("/", {"q": "cryoanalgesia"}).context["filterset"].effective_sort == "relevance"
    )
    assert client.get("/").context["filterset"].effective_sort == "newest"


@pytest.mark.parametrize(
    "url",
    [
        "/?q=paper",
        "/?q=paper&sort=relevance",
        "/?keyword=shared",
        "/?q=pap*&keyword=shared&year_min=2000&year_max=2030&sort=cited",
        "/?journal=j&author=q-p",
        "/keywords/?letter=S",
        "/suggest.json?q=sha",
    ],
)
def test_search_and_filter_query_counts_do_not_grow_with_articles(
    client: Client,
    import_text: Importer,
    query_count: Callable[[Callable[[], object]], int],
    url: str,
) -> None:
    def paper(i: int) -> str:
        return entry(
            f"k{i}",
            title=f"Paper {i}",
            author=f"P, Q and R{i}, S",
            keywords=f"shared; own{i}",
            journal="J",
            year="2020",
            note=f"cited By {i}",
        )

    import_text(paper(0))
    one = query_count(lambda: client.get(url))
    import_text("".join(paper(i) for i in range(1, 9)))
    assert query_count(lambda: client.get(url)) == one
    # Not an empty page that would cost the same whatever the catalogue holds.
    assert b"shared" in client.get(url).content
