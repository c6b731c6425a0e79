"""Showing search words in results: `{{ article.title|highlight:query }}`."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from catalogue import search

register = template.Library()

SNIPPET_CHARS = 260


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """The text, escaped, with the words the search matched marked."""
    return search.highlight(str(text or ""), query or "")


@register.filter
def snippet(text: str, query: str) -> SafeString:
    """About SNIPPET_CHARS of the text around the first words the search matched."""
    return search.highlight(str(text or ""), query or "", length=SNIPPET_CHARS)
