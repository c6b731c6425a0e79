"""Charts per year and what goes with a keyword, journal or author."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from catalogue.browse import CHART_HEIGHT, YearChart
from catalogue.models import ImportBatch
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


@pytest.fixture
def papers(import_text: Importer) -> ImportBatch:
    return import_text(
        entry(
            "a",
            title="A",
            year="2019",
            author="Ng, Ann and Roy, Bo",
            journal="J One",
            keywords="pain; ice",
        )
        + entry(
            "b",
            title="B",
            year="2019",
            author="Ng, Ann and Lee, Cy",
            journal="J One",
            keywords="pain; heat",
        )
        + entry(
            "c", title="C", year="2021", author="Ng, Ann", journal="J Two", keywords="pain; ice"
        )
        + entry("d", title="D", year="2022", author="Roy, Bo", journal="J Two", keywords="cold")
    )


def bars(page: str) -> list[tuple[str, str]]:
    """(link, tooltip) of every bar of the page's chart."""
    return re.findall(r'<a href="([^"]+)"><rect [^>]*><title>([^<]+)</title>', page)


def test_list_page_charts_results_per_year_each_bar_a_year_filter(
    client: Client, papers: ImportBatch
) -> None:
    page = client.get("/", {"keyword": "pain"}).content.decode()
    assert bars(page) == [
        ("?keyword=pain&amp;year_min=2019&amp;year_max=2019", "2019: 2 articles"),
        ("?keyword=pain&amp;year_min=2021&amp;year_max=2021", "2021: 1 article"),
    ]
    # The same numbers as a table, for screen readers and without the chart.
    assert re.search(r"<td><a [^>]*>2019</a></td><td>2</td>", page)
    assert "Results per year, 2019–2021" in page


def test_a_bar_leads_to_that_years_articles(client: Client, papers: ImportBatch) -> None:
    response = client.get("/", {"keyword": "pain", "year_min": "2019", "year_max": "2019"})
    assert sorted(a.citation_key for a in response.context["page"].object_list) == ["a", "b"]


def test_chart_leaves_gaps_for_years_without_articles() -> None:
    chart = YearChart.from_counts([(2000, 4), (2003, 2)], lambda year: f"/{year}")
    first, last = chart.bars
    assert (first.x, last.x) == (0, 450)  # four years across 600 units
    assert (first.height, last.height) == (CHART_HEIGHT, CHART_HEIGHT / 2)
    assert chart.first_year == 2000
    assert chart.last_year == 2003


def test_keyword_page_charts_its_years_and_lists_what_goes_with_it(
    client: Client, papers: ImportBatch
) -> None:
    response = client.get("/keywords/pain/")
    profile = response.context["profile"]
    assert [(b.year, b.count) for b in profile.years.bars] == [(2019, 2), (2021, 1)]
    assert profile.years.bars[0].url == "/?keyword=pain&year_min=2019&year_max=2019"
    # Other keywords, most frequent first, not the page's own.
    assert [(k.label, k.count) for k in profile.keywords] == [("ice", 2), ("heat", 1)]
    assert [(a.label, a.count) for a in profile.authors][0] == ("Ng, Ann", 3)
    assert [(j.label, j.count) for j in profile.journals] == [("J One", 2), ("J Two", 1)]
    page = response.content.decode()
    assert 'href="/keywords/ice/"' in page
    assert "Top keywords" in page


def test_author_page_lists_co_authors_without_the_author(
    client: Client, papers: ImportBatch
) -> None:
    response = client.get("/authors/ann-ng/")
    profile = response.context["profile"]
    assert sorted((a.label, a.count) for a in profile.authors) == [("Lee, Cy", 1), ("Roy, Bo", 1)]
    assert "Co-authors" in response.content.decode()


def test_journal_page_lists_its_keywords_and_authors(client: Client, papers: ImportBatch) -> None:
    profile = client.get("/journals/j-two/").context["profile"]
    assert [(k.label, k.count) for k in profile.keywords] == [("cold", 1), ("ice", 1), ("pain", 1)]
    assert profile.journals == []  # only its own


def test_index_pages_go_by_first_letter_of_the_folded_name(
    client: Client, import_text: Importer
) -> None:
    import_text(
        entry("a", title="A", author="Øster, Bo and Ng, Ann and 3M Company, {}", keywords="ice")
    )
    response = client.get("/authors/", {"letter": "O"})
    assert [str(a) for a in response.context["page"].object_list] == ["Øster, Bo"]
    page = response.content.decode()
    assert '<a href="?letter=O" aria-current="page">O</a>' in page
    assert "under O" in page
    others = client.get("/authors/", {"letter": "#"}).context["page"].object_list
    assert [a.family for a in others] == ["3M Company"]
    # Letters keep the sort and the filter box; a bad letter shows all.
    assert (
        'href="?order=count&amp;letter=N"'
        in client.get("/authors/", {"order": "count"}).content.decode()
    )
    assert client.get("/authors/", {"letter": "<script>"}).context["page"].paginator.count == 3
