"""Writing articles back out as BibTeX.

The BibTeX is built from the stored fields, not copied from the source, so
that corrections made in the admin travel with it; every source field the
catalogue has no column for comes back out too. Values are written as
Unicode, which biber and modern BibTeX read as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field

from catalogue.models import Article, ArticleKeyword, Author

# The order fields are written in; anything else follows alphabetically.
FIELD_ORDER = (
    "author",
    "title",
    "journal",
    "year",
    "month",
    "volume",
    "number",
    "pages",
    "publisher",
    "issn",
    "doi",
    "url",
    "language",
    "abstract",
    "author_keywords",
    "keywords",
)


def _name(author: Author) -> str:
    if author.is_organisation:
        return "{" + author.family + "}"
    family = " ".join(p for p in (author.prefix, author.family) if p)
    return ", ".join(p for p in (family, author.suffix, author.given) if p)


def _braced(value: str) -> str:
    """Escape braces that would unbalance the value's enclosing ones."""
    depth = 0
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth == 0:
        return value
    return value.replace("{", r"\{").replace("}", r"\}")


def article_fields(article: Article) -> dict[str, str]:
    """All of an article's fields as BibTeX strings, by field name.

    Uses the prefetches of `Article.objects.for_detail()`.
    """
    names = [_name(a) for a in article.ordered_authors]
    if article.authors_et_al:
        names.append("others")
    keywords: dict[str, list[str]] = {"author": [], "indexed": []}
    for link in article.article_keywords.all():
        keywords[link.kind].append(link.keyword.name)
    fields = {
        "author": " and ".join(names),
        "title": article.title,
        "journal": article.journal.name if article.journal else "",
        "year": str(article.year or ""),
        "volume": article.volume,
        "number": article.number,
        "pages": article.pages.replace("–", "--"),
        "publisher": article.publisher,
        "issn": article.issn,
        "doi": article.doi,
        "url": article.url,
        "language": article.language,
        "abstract": article.abstract,
        "author_keywords": "; ".join(keywords[ArticleKeyword.Kind.AUTHOR]),
        "keywords": "; ".join(keywords[ArticleKeyword.Kind.INDEXED]),
    }
    if article.month:
        # A number, not "sep": inside braces a month macro would be plain text.
        fields["month"] = str(article.month)
    for name, value in sorted(article.extra_fields.items()):
        fields.setdefault(name, str(value))
    order = {name: i for i, name in enumerate(FIELD_ORDER)}
    return {
        name: value
        for name, value in sorted(
            fields.items(), key=lambda item: (order.get(item[0], 99), item[0])
        )
        if value
    }


def article_to_bibtex(article: Article) -> str:
    return "".join(articles_to_bibtex([article]))


def articles_to_bibtex(articles: Iterable[Article]) -> Iterator[str]:
    """BibTeX text, one entry per article, for streaming a download."""
    for article in articles:
        entry = Entry(
            article.entry_type,
            article.citation_key,
            [
                Field(name, "{" + _braced(value) + "}")
                for name, value in article_fields(article).items()
            ],
        )
        yield bibtexparser.write_string(Library([entry]), unparse_stack=[]).strip() + "\n\n"
