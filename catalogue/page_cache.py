"""Whole pages kept for visitors who are not signed in, until the catalogue changes.

Most of a public catalogue's traffic is anonymous and asks for the same
pages: the home page, popular searches and keywords, an article someone
linked to. Each costs tens of milliseconds of counting and rendering, the
same every time until something changes. So a page rendered for a visitor
with no session is kept in the "pages" cache under its URL and the
catalogue's version (`CatalogueVersion`: `number` and `edits`, raised by
database triggers on every change a page shows, whoever makes it: an import,
the admin, an undo, SQL). A change makes every kept page old at once; no
page is ever shown out of date.

Only these are kept: GET and HEAD requests without a session or messages
cookie, answered 200 with a whole (not streamed) body, setting no cookie and
not marked private or no-cache. Signed-in users always get a fresh page,
and with `CATALOGUE_PUBLIC=0` nothing is kept: each reader's permission is
checked on every request.

The cache is each process's own memory (`CATALOGUE_PAGE_CACHE_ENTRIES`
pages, 0 to switch it off); see the README's "Configuration" section.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.cache import cc_delim_re

from catalogue.models import CatalogueVersion

CACHE_ALIAS = "pages"
# Cache-Control directives that say a response is not for sharing.
NOT_SHARED = frozenset({"private", "no-cache", "no-store"})

Middleware = Callable[[HttpRequest], HttpResponse]


def page_version() -> str | None:
    """The catalogue's version as a cached page is dated: "1234.56"."""
    row = CatalogueVersion.objects.filter(pk=1).values_list("number", "edits").first()
    return f"{row[0]}.{row[1]}" if row else None


class PageCacheMiddleware:
    """Answer anonymous visitors from the pages cache (see the module's docstring)."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._may_share(request):
            return self.get_response(request)
        version = page_version()
        if version is None:
            return self.get_response(request)
        cache = caches[CACHE_ALIAS]
        key = self._key(request, version)
        kept = cache.get(key)
        if kept is not None:
            return kept
        response = self.get_response(request)
        if self._is_shareable(response):
            cache.set(key, response)
        return response

    @staticmethod
    def _may_share(request: HttpRequest) -> bool:
        if request.method not in ("GET", "HEAD") or not settings.CATALOGUE_PUBLIC:
            return False
        if settings.CATALOGUE_PAGE_CACHE_ENTRIES <= 0:
            return False
        cookies = request.COOKIES
        return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies

    @staticmethod
    def _key(request: HttpRequest, version: str) -> str:
        # The host and scheme too: a page's links and redirects may name them.
        url = request.build_absolute_uri()
        digest = hashlib.sha256(f"{request.method} {url}".encode()).hexdigest()
        return f"page:{version}:{digest}"

    @staticmethod
    def _is_shareable(response: HttpResponse) -> bool:
        if response.status_code != 200 or response.streaming or response.cookies:
            return False
        directives = {
            d.split("=", 1)[0].strip().lower()
            for d in cc_delim_re.split(response.get("Cache-Control", ""))
        }
        # "Vary: Cookie" is left alone: the page was made for a request with
        # no session, as are all the requests it will answer. A page that
        # used a CSRF token set its cookie, and is not kept.
        return not directives & NOT_SHARED
