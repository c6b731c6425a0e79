"""Links to detail pages: `{{ author|detail_url }}` is `author.get_absolute_url()`.

A list or browse page links a few hundred articles, authors, journals and
keywords. Django's `reverse` looks each one up in the URL patterns again, a
tenth of such a page's time; here each kind of page is reversed once, with a
placeholder, and a link is its key put in the placeholder's place.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from html import escape

from django import template
from django.conf import settings
from django.db.models import Model
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from catalogue.models import Article

register = template.Library()

# Stand-ins for the key: the last match in the reversed URL is the key's place.
_PLACEHOLDERS = {"article": 1234567890, "keyword": "key", "journal": "key", "author": "key"}


@lru_cache(maxsize=64)
def _around(kind: str, script_prefix: str, urlconf: str) -> tuple[str, str]:
    """The URL of a `kind` page before and after its key.

    `script_prefix` is only part of the cache's key: `reverse` reads it itself.
    """
    placeholder = str(_PLACEHOLDERS[kind])
    url = reverse(f"catalogue:{kind}-detail", urlconf=urlconf, args=[placeholder])
    before, _, after = url.rpartition(placeholder)
    return before, after


def urls_of(kind: str) -> Callable[[int | str], str]:
    """key -> `reverse(f"catalogue:{kind}-detail", args=[key])`; a key is an article's pk or a slug.

    >>> urls_of("keyword")("pain")
    '/keywords/pain/'
    """
    # Read once for every link the function makes: reading these per-thread
    # values costs more than the rest of making a link.
    before, after = _around(kind, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return lambda key: f"{before}{key}{after}"


@register.filter
def detail_url(row: Model) -> str:
    """The page of an article, keyword, journal or author."""
    kind = row._meta.model_name
    return urls_of(kind)(row.pk if kind == "article" else row.slug)


@register.filter
def author_links(article: Article) -> SafeString:
    """The article's authors in order, each a link to their page, between commas.

    Made here rather than by a loop in the template: a page of 25 articles
    names some 130 authors, and the loop took half the time of its rows.
    """
    url = urls_of("author")
    return mark_safe(  # noqa: S308 - both parts are escaped
        ", ".join(
            f'<a href="{escape(url(author.slug))}">{escape(author.display_name)}</a>'
            for author in article.ordered_authors
        )
    )
