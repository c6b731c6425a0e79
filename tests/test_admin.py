"""The admin: every model's pages work, stay cheap, and batches are read-only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from catalogue.models import Article, Author, ImportBatch, Journal, Keyword
from catalogue.search import search_articles
from tests.conftest import entry

pytestmark = pytest.mark.django_db
Importer = Callable[..., ImportBatch]


@pytest.fixture
def admin_client_seeded(admin_client: Client, seeded: ImportBatch) -> Client:
    return admin_client


@pytest.mark.parametrize("model", ["article", "author", "keyword", "journal", "importbatch"])
def test_changelist_search_and_facets_work(admin_client_seeded: Client, model: str) -> None:
    response = admin_client_seeded.get(f"/admin/catalogue/{model}/", {"q": "a", "_facets": "True"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "get"),
    [
        ("article", lambda: Article.objects.get()),
        ("author", lambda: Author.objects.first()),
        ("keyword", lambda: Keyword.objects.first()),
        ("journal", lambda: Journal.objects.get()),
    ],
)
def test_change_pages_open(admin_client_seeded: Client, model: str, get: Callable) -> None:
    response = admin_client_seeded.get(f"/admin/catalogue/{model}/{get().pk}/change/")
    assert response.status_code == 200


def test_import_batches_are_read_only(admin_client_seeded: Client) -> None:
    batch = ImportBatch.objects.get()
    assert admin_client_seeded.get("/admin/catalogue/importbatch/add/").status_code == 403
    page = admin_client_seeded.get(f"/admin/catalogue/importbatch/{batch.pk}/change/")
    assert page.status_code == 200  # viewable
    assert b'name="_save"' not in page.content
    assert (
        admin_client_seeded.post(
            f"/admin/catalogue/importbatch/{batch.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ImportBatch.objects.count() == 1


def test_author_autocomplete_finds_by_family_name(admin_client_seeded: Client) -> None:
    response = admin_client_seeded.get(
        "/admin/autocomplete/",
        {
            "term": "filipp",
            "app_label": "catalogue",
            "model_name": "authorship",
            "field_name": "author",
        },
    )
    assert [r["text"] for r in response.json()["results"]] == ["Filippiadis, D."]


def test_adding_an_article_with_three_ordered_authors(
    admin_client: Client, import_text: Importer
) -> None:
    import_text(entry("x", title="X", author="Alpha, A. and Beta, B. and Gamma, G."))
    alpha, beta, gamma = (Author.objects.get(family=f) for f in ("Alpha", "Beta", "Gamma"))
    form = {
        "title": "Written by hand",
        "entry_type": "article",
        "citation_key": "hand2024",
        "year": "2024",
        "extra_fields": "{}",
        "authorships-TOTAL_FORMS": "3",
        "authorships-INITIAL_FORMS": "0",
        "authorships-0-position": "2",
        "authorships-0-author": str(alpha.pk),
        "authorships-1-position": "1",
        "authorships-1-author": str(gamma.pk),
        "authorships-2-position": "3",
        "authorships-2-author": str(beta.pk),
        "article_keywords-TOTAL_FORMS": "0",
        "article_keywords-INITIAL_FORMS": "0",
    }
    response = admin_client.post("/admin/catalogue/article/add/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    article = Article.objects.for_listing().get(citation_key="hand2024")
    assert [a.family for a in article.ordered_authors] == ["Gamma", "Alpha", "Beta"]
    # Searchable by its authors at once.
    assert search_articles(Article.objects.all(), "gamma").filter(pk=article.pk).exists()


def test_reordering_authors_swaps_positions(admin_client: Client, import_text: Importer) -> None:
    import_text(entry("x", title="X", author="Alpha, A. and Beta, B."))
    article = Article.objects.get()
    first, second = article.authorships.order_by("position")
    form = {
        "title": "X",
        "entry_type": "article",
        "citation_key": "x",
        "extra_fields": "{}",
        "authorships-TOTAL_FORMS": "2",
        "authorships-INITIAL_FORMS": "2",
        "authorships-0-id": str(first.pk),
        "authorships-0-article": str(article.pk),
        "authorships-0-position": "2",
        "authorships-0-author": str(first.author_id),
        "authorships-1-id": str(second.pk),
        "authorships-1-article": str(article.pk),
        "authorships-1-position": "1",
        "authorships-1-author": str(second.author_id),
        "article_keywords-TOTAL_FORMS": "0",
        "article_keywords-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/catalogue/article/{article.pk}/change/", form)
    assert response.status_code == 302
    assert [a.family for a in Article.objects.for_listing().get().ordered_authors] == [
        "Beta",
        "Alpha",
    ]


def test_article_changelist_queries_do_not_grow(
    admin_client: Client, import_text: Importer, query_count: Callable[[Callable[[], object]], int]
) -> None:
    import_text(entry("k0", title="T0", author="A, B and C, D", journal="J0"))
    one = query_count(lambda: admin_client.get("/admin/catalogue/article/"))
    import_text(
        "".join(
            entry(f"k{i}", title=f"T{i}", author=f"A{i}, B and C{i}, D", journal=f"J{i}")
            for i in range(1, 9)
        )
    )
    assert query_count(lambda: admin_client.get("/admin/catalogue/article/")) == one


@pytest.mark.parametrize("model", ["author", "keyword", "journal", "importbatch"])
def test_other_changelist_queries_do_not_grow(
    admin_client: Client,
    import_text: Importer,
    query_count: Callable[[Callable[[], object]], int],
    model: str,
) -> None:
    import_text(entry("k0", title="T0", author="A, B", journal="J0", keywords="a"))
    one = query_count(lambda: admin_client.get(f"/admin/catalogue/{model}/"))
    for i in range(1, 6):
        import_text(
            entry(f"k{i}", title=f"T{i}", author=f"A{i}, B", journal=f"J{i}", keywords=f"k{i}")
        )
    assert query_count(lambda: admin_client.get(f"/admin/catalogue/{model}/")) == one


def test_article_change_page_queries_do_not_grow_with_authors(
    admin_client: Client, import_text: Importer, query_count: Callable[[Callable[[], object]], int]
) -> None:
    import_text(entry("few", title="Few", author="A, B"))
    import_text(entry("many", title="Many", author=" and ".join(f"P{i}, Q" for i in range(10))))
    few, many = (Article.objects.get(citation_key=k) for k in ("few", "many"))
    few_queries = query_count(
        lambda: admin_client.get(f"/admin/catalogue/article/{few.pk}/change/")
    )
    many_queries = query_count(
        lambda: admin_client.get(f"/admin/catalogue/article/{many.pk}/change/")
    )
    assert many_queries == few_queries


def test_staff_without_permissions_cannot_edit(client: Client, seeded: ImportBatch) -> None:
    staff = User.objects.create_user("staff", password="x-long-password", is_staff=True)
    client.force_login(staff)
    article = Article.objects.get()
    assert client.get(f"/admin/catalogue/article/{article.pk}/change/").status_code == 403


def test_renaming_a_keyword_onto_another_is_refused_with_a_message(
    admin_client: Client, import_text: Importer
) -> None:
    import_text(entry("k", title="T", keywords="pain; ache"))
    ache = Keyword.objects.get(name="ache")
    response = admin_client.post(f"/admin/catalogue/keyword/{ache.pk}/change/", {"name": "PAIN"})
    assert response.status_code == 200
    assert "“pain” already exists and would be the same keyword" in response.content.decode()
    assert Keyword.objects.get(pk=ache.pk).name == "ache"
