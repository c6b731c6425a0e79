"""Article detail, and the keyword, journal and author pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape

import pytest
from django.test import Client
from django.urls import clear_script_prefix, set_script_prefix

from catalogue.models import Article, Author, ImportBatch, Journal, Keyword
from catalogue.templatetags.catalogue_links import detail_url
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


def test_detail_page_shows_every_seed_field_decoded(client: Client, seeded: ImportBatch) -> None:
    article = Article.objects.get()
    page = client.get(article.get_absolute_url()).content.decode()
    for text in [
        "Percutaneous cryoanalgesia for pain palliation: Current status and future trends",
        "Diagnostic and Interventional Imaging",
        "2021",
        "102",
        "273–278",
        "Elsevier Masson s.r.l.",
        "2211-5684",
        'href="https://doi.org/10.1016/j.diii.2020.11.007"',
        "Société française de radiologie",
        "Randomized Controlled Trials as Topic",
        "J.D. Prologo",
    ]:
        assert text in page, text
    # Authors in order, each linked to their page.
    positions = [
        page.index(f'href="/authors/{slug}/"')
        for slug in ["d-filippiadis", "e-efthymiou", "a-tsochatzis", "a-kelekis", "jd-prologo"]
    ]
    assert positions == sorted(positions)


def test_detail_page_offers_bibtex_to_copy_and_download(
    client: Client, seeded: ImportBatch
) -> None:
    article = Article.objects.get()
    page = client.get(article.get_absolute_url()).content.decode()
    assert "@article{2984889," in page
    download = client.get(f"/articles/{article.pk}/bibtex/")
    text = download.content.decode()
    assert download["Content-Disposition"].startswith("attachment")
    assert (
        "author = {Filippiadis, D. and Efthymiou, E. and Tsochatzis, A. and Kelekis, A. and "
        "Prologo, J.D.}" in text
    )
    assert "pages = {273--278}" in text


def test_exported_bibtex_reads_back_the_same(client: Client, seeded: ImportBatch) -> None:
    from catalogue.bibtex import read_bibtex

    article = Article.objects.get()
    original = read_bibtex(article.source_bibtex).records[0]
    exported = read_bibtex(client.get(f"/articles/{article.pk}/bibtex/").content.decode())
    assert exported.problems == []
    [again] = exported.records
    for name in [
        "title",
        "year",
        "volume",
        "number",
        "pages",
        "doi",
        "issn",
        "journal",
        "abstract",
        "authors",
    ]:
        assert getattr(again, name) == getattr(original, name), name
    assert {k.name.casefold() for k in again.keywords} == {
        k.name.casefold() for k in original.keywords
    }


def test_missing_article_is_a_404(client: Client, db: None) -> None:
    assert client.get("/articles/999/").status_code == 404


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/keywords/", "cryotherapy"),
        ("/keywords/cryotherapy/", "Percutaneous cryoanalgesia"),
        ("/journals/", "Diagnostic and Interventional Imaging"),
        ("/journals/diagnostic-and-interventional-imaging/", "Percutaneous cryoanalgesia"),
        ("/authors/", "Filippiadis"),
        ("/authors/d-filippiadis/", "Percutaneous cryoanalgesia"),
    ],
)
def test_browse_pages_list_their_articles(
    client: Client, seeded: ImportBatch, url: str, text: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert text in response.content.decode()


def test_index_counts_and_filter_box(client: Client, import_text: Importer) -> None:
    import_text(entry("a", title="A", keywords="ice; fire") + entry("b", title="B", keywords="ice"))
    response = client.get("/keywords/", {"order": "count"})
    assert [(k.name, k.article_count) for k in response.context["page"]] == [
        ("ice", 2),
        ("fire", 1),
    ]
    filtered = client.get("/keywords/", {"contains": "fir"})
    assert [k.name for k in filtered.context["page"]] == ["fire"]


@pytest.mark.parametrize("url", ["/keywords/nope/", "/journals/nope/", "/authors/nope/"])
def test_unknown_slug_is_a_404(client: Client, db: None, url: str) -> None:
    assert client.get(url).status_code == 404


@pytest.fixture(params=["/", "/catalogue/"])
def script_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """The path the site is served under (SCRIPT_NAME), as a request sets it."""
    set_script_prefix(request.param)
    yield request.param
    clear_script_prefix()


def test_links_to_detail_pages_are_their_absolute_urls(
    seeded: ImportBatch, script_prefix: str
) -> None:
    rows = [
        Article.objects.get(),
        Keyword.objects.order_by("pk").first(),
        Journal.objects.get(),
        Author.objects.order_by("pk").last(),
    ]
    assert [detail_url(row) for row in rows] == [row.get_absolute_url() for row in rows]
    assert rows[0].get_absolute_url().startswith(script_prefix)


def test_list_links_every_author_in_order_with_names_escaped(
    client: Client, import_text: Importer
) -> None:
    import_text(entry("a", title="A", author="Ng, Ann and O'Neil & Sons, Eve"))
    first, second = Article.objects.get().ordered_authors
    page = client.get("/").content.decode()
    assert (
        f'<a href="{first.get_absolute_url()}">{first.display_name}</a>, '
        f'<a href="{second.get_absolute_url()}">{escape(second.display_name)}</a>'
    ) in page
    assert "&amp;" in escape(second.display_name)


def test_imported_html_is_shown_as_text(client: Client, import_text: Importer) -> None:
    import_text(
        entry(
            "xss",
            title="<script>alert(1)</script> study",
            author="<b>Evil</b>, Eve",
            keywords="<img src=x onerror=alert(2)>",
            journal="<i>J</i>",
            url="javascript:alert(3)",
        )
    )
    article = Article.objects.get()
    pages = [
        client.get("/").content,
        client.get("/", {"q": "script"}).content,
        client.get(article.get_absolute_url()).content,
        client.get(Keyword.objects.get().get_absolute_url()).content,
        client.get(Journal.objects.get().get_absolute_url()).content,
        client.get(Author.objects.get().get_absolute_url()).content,
        client.get("/keywords/").content,
    ]
    for page in pages:
        assert b"<script>alert" not in page
        assert b"<img src=x" not in page
        assert b'href="javascript:' not in page


def test_browse_page_queries_do_not_grow_with_articles(
    client: Client, import_text: Importer, query_count: Callable[[Callable[[], object]], int]
) -> None:
    import_text(entry("k0", title="T0", author="P, Q and R, S", keywords="shared; a0", journal="J"))
    urls = [
        "/keywords/shared/",
        "/journals/j/",
        "/authors/q-p/",
        "/keywords/",
        "/journals/",
        "/authors/",
    ]
    counts = {}
    for url in urls:
        counts[url] = query_count(lambda url=url: client.get(url))
    import_text(
        "".join(
            entry(
                f"k{i}",
                title=f"T{i}",
                author=f"P, Q and R{i}, S",
                keywords=f"shared; a{i}",
                journal="J",
            )
            for i in range(1, 8)
        )
    )
    for url in urls:
        assert query_count(lambda url=url: client.get(url)) == counts[url], url


def test_detail_page_queries_do_not_grow_with_authors(
    client: Client, import_text: Importer, query_count: Callable[[Callable[[], object]], int]
) -> None:
    import_text(entry("few", title="Few", author="A, B", keywords="x"))
    many = " and ".join(f"Person{i}, X" for i in range(12))
    import_text(
        entry("many", title="Many", author=many, keywords="; ".join(f"k{i}" for i in range(12)))
    )
    few, lots = Article.objects.get(citation_key="few"), Article.objects.get(citation_key="many")
    assert query_count(lambda: client.get(lots.get_absolute_url())) == query_count(
        lambda: client.get(few.get_absolute_url())
    )
