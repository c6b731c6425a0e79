"""Pages kept for anonymous visitors, and every change that makes them old."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalogue.models import Article, Authorship, Journal, Keyword
from tests.conftest import entry, trigger_names

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _page_cache_on(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_PAGE_CACHE_ENTRIES = 1000


def served(client: Client, url: str) -> tuple[str, int]:
    """The page's text and how many queries answering it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


@pytest.fixture
def catalogue(import_text: Callable[..., object]) -> Article:
    import_text(
        entry(
            "kept",
            title="Cryoanalgesia for knee pain",
            author="Smith, Jane and Brown, Ann",
            keywords="Pain; Knee",
            journal="Pain Medicine",
            year="2021",
        )
        + entry("other", title="Unrelated work", author="Smith, Jane", year="2019")
    )
    return Article.objects.get(citation_key="kept")


PAGES = ["/", "/?q=cryoanalgesia", "/keywords/", "/keywords/pain/", "/authors/jane-smith/"]


@pytest.mark.parametrize("url", PAGES)
def test_a_repeated_anonymous_request_is_answered_from_the_cache(
    client: Client, catalogue: Article, url: str
) -> None:
    first, first_queries = served(client, url)
    again, again_queries = served(client, url)

    assert again == first
    assert first_queries > 1
    assert again_queries == 1  # the catalogue's version, nothing else


@pytest.mark.parametrize(
    ("change", "url", "shown"),
    [
        pytest.param(
            lambda a: Article.objects.filter(pk=a.pk).update(title="Renamed"),
            "/",
            "Renamed",
            id="title",
        ),
        pytest.param(lambda a: a.delete(), "/", "1 article", id="delete"),
        pytest.param(
            lambda a: Keyword.objects.filter(name="Pain").update(name="Renamed"),
            "/keywords/",
            "Renamed",
            id="keyword",
        ),
        pytest.param(
            lambda a: Journal.objects.update(name="Renamed"), "/journals/", "Renamed", id="journal"
        ),
        pytest.param(
            lambda a: Authorship.objects.filter(article=a, position=1).update(position=9),
            "/articles/{pk}/",
            "Ann Brown",
            id="author order",
        ),
        pytest.param(
            lambda a: Keyword.objects.create(name="Renamed"), "/keywords/", "Renamed", id="new"
        ),
    ],
)
def test_any_change_to_what_pages_show_makes_them_fresh(
    client: Client, catalogue: Article, change: Callable[[Article], object], url: str, shown: str
) -> None:
    url = url.format(pk=catalogue.pk)
    before, _queries = served(client, url)
    assert served(client, url) == (before, 1)

    change(catalogue)

    fresh, queries = served(client, url)
    assert queries > 1
    assert fresh != before
    assert shown in fresh


def test_an_import_makes_pages_fresh(
    client: Client, catalogue: Article, import_text: Callable[..., object]
) -> None:
    served(client, "/?q=brand")
    import_text(entry("new", title="Brand new study", year="2024"))

    page, queries = served(client, "/?q=brand")
    assert queries > 1
    assert "new study" in page


def test_signed_in_users_always_get_a_fresh_page(client: Client, catalogue: Article) -> None:
    client.force_login(User.objects.create_user("reader", password="a-long-test-password"))
    served(client, "/")
    _page, queries = served(client, "/")
    assert queries > 1


def test_a_page_for_a_signed_in_user_is_never_shown_to_a_visitor(
    client: Client, catalogue: Article
) -> None:
    signed_in = Client()
    signed_in.force_login(User.objects.create_user("reader", password="a-long-test-password"))
    assert "Sign out" in signed_in.get("/").content.decode()

    page, _queries = served(client, "/")
    assert "Sign out" not in page
    assert "Sign in" in page


def test_a_page_that_sets_a_cookie_is_not_kept(client: Client, catalogue: Article) -> None:
    # The sign-in form carries a CSRF token, set as a cookie for this visitor.
    first = client.get("/accounts/login/")
    assert first.cookies
    again = Client().get("/accounts/login/")
    assert again.cookies
    assert again.content != first.content


def test_nothing_is_kept_when_reading_needs_sign_in(
    client: Client, catalogue: Article, settings
) -> None:  # noqa: ANN001
    settings.CATALOGUE_PUBLIC = False
    client.get("/")
    assert client.get("/").status_code == 302


def test_switched_off_by_a_size_of_zero(client: Client, catalogue: Article, settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_PAGE_CACHE_ENTRIES = 0
    served(client, "/")
    _page, queries = served(client, "/")
    assert queries > 1


def test_errors_are_not_kept(client: Client, catalogue: Article) -> None:
    assert client.get("/keywords/nothing-here/").status_code == 404
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/keywords/nothing-here/").status_code == 404
    assert len(queries) > 1


def test_page_version_triggers_are_in_place() -> None:
    names = trigger_names()
    expected = {
        f"catalogue_{t}_edits_update" for t in ("article", "authorship", "articlekeyword")
    } | {
        f"catalogue_{t}_edits_{e}"
        for t in ("keyword", "author", "journal")
        for e in ("insert", "delete", "update")
    }
    assert expected <= names
