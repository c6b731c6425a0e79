"""Browser tests: Debian's Chromium, driven by Playwright, against the live server.

Every test here gets a real server (pytest-django's `live_server`, which makes
the test transactional so that the server's thread sees the test's rows) and
a fresh browser context; the browser itself is started once for the package.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(`apt-get install chromium`). Without it the tests are skipped with that
reason, except in CI (`CI=true`), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from catalogue.importer import import_bibtex
from catalogue.models import ImportBatch

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).resolve().parent.parent / "data"
PASSWORD = "a-long-browser-test-password"

# A page that has not settled in this long is a failure, not a slow machine.
expect.set_options(timeout=10_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `browser` (deselect them with -m 'not browser')."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def _django_db_calls_allowed_beside_playwright() -> Iterator[None]:
    """Let this thread use the database while Playwright's event loop is open.

    Playwright's sync API keeps an asyncio loop marked as running in this
    thread (parked in a greenlet) from `start()` to `stop()`, so Django's
    guard against blocking calls inside async code refuses every query the
    test or its fixtures make (SynchronousOnlyOperation). Nothing async runs
    on that loop while our code runs, so the guard protects nothing here;
    it is switched off with Django's own setting, for exactly as long as
    Playwright runs (this package), and restored afterwards, so every other
    test keeps the guard.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def browser(_django_db_calls_allowed_beside_playwright: None) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium is not installed ({CHROMIUM}): apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must run the browser tests (.ci/run installs it).")
        pytest.skip(reason)
    # Chromium refuses to sandbox itself as root (CI runs as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield browser
        browser.close()


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer
) -> Iterator[Callable[..., BrowserContext]]:
    """Open a browser context on the live server: new_context(java_script_enabled=False)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_context(**options: object) -> BrowserContext:
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()
    assert errors == [], "JavaScript errors on the pages"


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture
def page_without_js(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(java_script_enabled=False).new_page()


@pytest.fixture
def catalogue(transactional_db: None) -> ImportBatch:
    """tests/data/browser.bib, imported by the real importer (10 articles)."""
    return import_bibtex((DATA / "browser.bib").read_bytes(), source_name="browser.bib")


@pytest.fixture
def importer(transactional_db: None) -> User:
    """A user with the permission to import, who signs in with PASSWORD."""
    user = User.objects.create_user("importer", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
    return user


@pytest.fixture
def importer_page(page: Page, importer: User, live_server: LiveServer) -> Page:
    """A page signed in as the importer (the sign-in form itself has its own test)."""
    client = Client()
    client.force_login(importer)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return page
