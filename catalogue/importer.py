"""Storing BibTeX in the catalogue: the one place that writes imports.

The upload form, the `import_bibtex` command and the admin all call
`import_bibtex()` (bytes or text in) or `store_records()` (records already
read). Everything an import writes happens in one transaction, so a failure
part way leaves the catalogue as it was.

>>> batch = import_bibtex(Path("refs.bib").read_bytes(), source_name="refs.bib")
>>> batch.created_count, batch.failed_count
(12, 1)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalogue.bibtex import (
    ParseResult,
    Person,
    Problem,
    Record,
    decode_bytes,
    read_bibtex,
)
from catalogue.bibtex.keywords import normalise_keyword
from catalogue.bibtex.text import normalise_person
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    ImportBatch,
    Journal,
    Keyword,
    build_search_text,
    normalise_journal,
    unique_slug,
)

CHUNK_SIZE = 500

# Article columns filled straight from the record of the same name.
SCALAR_FIELDS = (
    "entry_type",
    "title",
    "abstract",
    "year",
    "month",
    "volume",
    "number",
    "pages",
    "doi",
    "url",
    "publisher",
    "issn",
    "language",
)
# Source fields that have a column (or a table) of their own and so are not
# repeated in Article.extra_fields.
STORED_ELSEWHERE = frozenset(
    {*SCALAR_FIELDS, "author", "keywords", "author_keywords", "journal", "journaltitle"}
)

Progress = Callable[[int, int], None]


def import_bibtex(
    data: bytes | str,
    *,
    source_name: str,
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> ImportBatch:
    """Read a BibTeX file and store its entries; return the finished batch.

    Raises `catalogue.bibtex.UnreadableFile` when the data is not text that
    could hold BibTeX at all (a PDF, a ZIP, an empty file); nothing is written.
    """
    text = decode_bytes(data) if isinstance(data, bytes) else data
    return store_records(read_bibtex(text), source_name=source_name, user=user, progress=progress)


def store_records(
    parsed: ParseResult,
    *,
    source_name: str,
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> ImportBatch:
    """Create or update one article per record, in one transaction."""
    problems = list(parsed.problems)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            source_name=source_name[:300], created_by=user if user and user.pk else None
        )
        writer = _BatchWriter(batch, problems)
        total = len(parsed.records)
        done = 0
        for chunk in _chunks(parsed.records, CHUNK_SIZE):
            writer.write_chunk(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        batch.failed_count = sum(1 for p in problems if p.severity == "error")
        batch.problems = [dataclasses.asdict(p) for p in sorted(problems, key=_problem_order)]
        batch.save()
    return batch


def _problem_order(problem: Problem) -> tuple[int, str]:
    return (problem.line, problem.key)


def _chunks(items: Sequence[Record], size: int) -> Iterable[list[Record]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _clip(record: Record, values: dict[str, Any], problems: list[Problem]) -> None:
    """Cut values longer than their column, saying so, rather than failing."""
    for name, value in values.items():
        limit = Article._meta.get_field(name).max_length
        if isinstance(value, str) and limit and len(value) > limit:
            values[name] = value[:limit]
            problems.append(
                Problem(
                    record.line,
                    record.key,
                    f"{name} is longer than {limit} characters and was shortened",
                    "warning",
                )
            )


class _BatchWriter:
    """Writes records chunk by chunk, looking up what exists once per chunk."""

    def __init__(self, batch: ImportBatch, problems: list[Problem]) -> None:
        self.batch = batch
        self.problems = problems

    def write_chunk(self, records: list[Record]) -> None:
        records = [r for r in records if self._usable(r)]
        authors = self._authors(p for r in records for p in r.authors)
        keywords = self._keywords(k.name for r in records for k in r.keywords)
        journals = self._journals(records)
        by_doi, by_key = self._existing_articles(records)
        for record in records:
            article = by_doi.get(record.doi) if record.doi else None
            if article is None:
                candidate = by_key.get(record.key.casefold())
                # A key match is the same record only if the DOIs don't disagree:
                # Scopus reuses keys such as "20231" for unrelated books.
                if candidate and (not candidate.doi or not record.doi):
                    article = candidate
            article = self._write(record, article, authors, keywords, journals)
            if article.doi:
                by_doi[article.doi] = article
            by_key[article.citation_key.casefold()] = article

    def _usable(self, record: Record) -> bool:
        for warning in record.warnings:
            self.problems.append(Problem(record.line, record.key, warning, "warning"))
        if not record.title.strip():
            self.problems.append(Problem(record.line, record.key, "the entry has no title"))
            return False
        if len(record.key) > Article._meta.get_field("citation_key").max_length:
            self.problems.append(
                Problem(record.line, record.key[:80] + "…", "the citation key is too long")
            )
            return False
        return True

    def _existing_articles(
        self, records: list[Record]
    ) -> tuple[dict[str, Article], dict[str, Article]]:
        dois = {r.doi for r in records if r.doi}
        keys = {r.key for r in records}
        by_doi = {a.doi: a for a in Article.objects.filter(doi__in=dois)} if dois else {}
        by_key = {a.citation_key.casefold(): a for a in Article.objects.filter(citation_key__in=keys)}
        return by_doi, by_key

    def _authors(self, people: Iterable[Person]) -> dict[str, Author]:
        wanted = {normalise_person(p): p for p in people}
        found = {a.normalised: a for a in Author.objects.filter(normalised__in=wanted)}
        for normalised, person in wanted.items():
            if normalised not in found:
                found[normalised] = Author.objects.create(
                    family=person.family[:300],
                    given=person.given[:300],
                    prefix=person.prefix[:100],
                    suffix=person.suffix[:50],
                    is_organisation=person.is_organisation,
                )
        return found

    def _keywords(self, names: Iterable[str]) -> dict[str, Keyword]:
        wanted = {normalise_keyword(name)[:300]: name for name in names}
        found = {k.normalised: k for k in Keyword.objects.filter(normalised__in=wanted)}
        for normalised, name in wanted.items():
            if normalised not in found:
                found[normalised] = Keyword.objects.create(name=name[:300])
        return found

    def _journals(self, records: list[Record]) -> dict[str, Journal]:
        wanted: dict[str, Record] = {}
        for record in records:
            if record.journal:
                wanted.setdefault(normalise_journal(record.journal), record)
        found = {j.normalised: j for j in Journal.objects.filter(normalised__in=wanted)}
        for normalised, record in wanted.items():
            journal = found.get(normalised)
            if journal is None:
                found[normalised] = Journal.objects.create(
                    name=record.journal[:500],
                    abbreviation=record.journal_abbreviation[:200],
                    issn=record.issn,
                    publisher=record.publisher[:500],
                )
            elif not journal.issn and record.issn:
                # Fill what an earlier import did not know; never overwrite curation.
                journal.issn = record.issn
                journal.save(update_fields=["issn"])
        return found

    def _write(
        self,
        record: Record,
        article: Article | None,
        authors: dict[str, Author],
        keywords: dict[str, Keyword],
        journals: dict[str, Journal],
    ) -> Article:
        values: dict[str, Any] = {name: getattr(record, name) for name in SCALAR_FIELDS}
        _clip(record, values, self.problems)
        journal = journals.get(normalise_journal(record.journal)) if record.journal else None
        values["journal_id"] = journal.pk if journal else None
        values["authors_et_al"] = record.authors_et_al
        values["extra_fields"] = {
            k: v for k, v in record.fields.items() if k not in STORED_ELSEWHERE
        }
        values["source_bibtex"] = record.source
        author_ids = _unique_in_order(authors[normalise_person(p)].pk for p in record.authors)
        keyword_links = _unique_in_order(
            (keywords[normalise_keyword(k.name)[:300]].pk, k.kind) for k in record.keywords
        )
        values["search_text"] = build_search_text(
            title=record.title,
            abstract=record.abstract,
            journal=record.journal,
            authors=[p.display_name for p in record.authors],
            keywords=[k.name for k in record.keywords],
        )

        if article is None:
            article = Article(citation_key=self._free_key(record), import_batch=self.batch, **values)
            article.save()
            self._link(article, author_ids, keyword_links)
            self.batch.created_count += 1
            return article

        current_authors = list(
            article.authorships.order_by("position").values_list("author_id", flat=True)
        )
        current_keywords = list(
            article.article_keywords.order_by("pk").values_list("keyword_id", "kind")
        )
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        links_changed = current_authors != author_ids or set(current_keywords) != set(
            keyword_links
        )
        if not changed and not links_changed:
            self.batch.unchanged_count += 1
            return article
        for name in changed:
            setattr(article, name, values[name])
        article.import_batch = self.batch
        article.save()
        if links_changed:
            article.authorships.all().delete()
            article.article_keywords.all().delete()
            self._link(article, author_ids, keyword_links)
        self.batch.updated_count += 1
        return article

    def _free_key(self, record: Record) -> str:
        """The record's key, or a suffixed one if a different record holds it."""
        key, suffix = record.key, 0
        while Article.objects.filter(citation_key__iexact=key).exists():
            suffix += 1
            key = f"{record.key}-{suffix}"
        if key != record.key:
            self.problems.append(
                Problem(
                    record.line,
                    record.key,
                    f"another record already uses this citation key; stored as {key}",
                    "warning",
                )
            )
        return key

    @staticmethod
    def _link(article: Article, author_ids: list[int], keyword_links: list[tuple[int, str]]) -> None:
        Authorship.objects.bulk_create(
            Authorship(article=article, author_id=author_id, position=position)
            for position, author_id in enumerate(author_ids, start=1)
        )
        ArticleKeyword.objects.bulk_create(
            ArticleKeyword(article=article, keyword_id=keyword_id, kind=kind)
            for keyword_id, kind in keyword_links
        )


def _unique_in_order(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


__all__ = ["import_bibtex", "store_records", "unique_slug"]
