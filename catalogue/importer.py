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
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Prefetch, Q

from catalogue.bibtex import ParseResult, Problem, Record, decode_bytes, read_bibtex
from catalogue.bibtex.text import normalise_title
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    ImportBatch,
    Journal,
    Keyword,
    build_search_text,
    unique_slugs,
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
    """Writes records a chunk at a time: a handful of queries per chunk.

    Authors, keywords, journals and the articles that might match are looked
    up once per chunk; new rows go in with bulk_create.
    """

    def __init__(self, batch: ImportBatch, problems: list[Problem]) -> None:
        self.batch = batch
        self.problems = problems
        # Article pk -> line of the entry that matched or created it in this
        # import, to tell a copy of an entry from a version of it.
        self.written: dict[int, int] = {}

    def write_chunk(self, records: list[Record]) -> None:
        records = [r for r in records if self._usable(r)]
        authors = _get_or_create(
            Author,
            {
                p: Author(
                    family=p.family[:300],
                    given=p.given[:300],
                    prefix=p.prefix[:100],
                    suffix=p.suffix[:50],
                    is_organisation=p.is_organisation,
                )
                for r in records
                for p in r.authors
            },
        )
        keywords = _get_or_create(
            Keyword, {k.name: Keyword(name=k.name[:300]) for r in records for k in r.keywords}
        )
        journals = _get_or_create(
            Journal,
            {
                r.journal: Journal(
                    name=r.journal[:500],
                    abbreviation=r.journal_abbreviation[:200],
                    issn=r.issn,
                    publisher=r.publisher[:500],
                )
                for r in reversed(records)  # the first record's details win
                if r.journal
            },
        )
        by_doi, by_source_key, taken_keys = self._existing_articles(records)
        chunk = _Chunk()
        for record in records:
            article = self._match(record, by_doi, by_source_key, chunk)
            if article is not None and (line := self._written_at(article, chunk)):
                self.problems.append(
                    Problem(
                        record.line,
                        record.key,
                        f"the same record as the entry on line {line}; this copy was skipped",
                        "warning",
                    )
                )
                self.batch.unchanged_count += 1
                continue
            values = self._values(record, journals)
            links = _Links(
                authors=_unique_in_order(authors[p].pk for p in record.authors),
                keywords=frozenset((keywords[k.name].pk, k.kind) for k in record.keywords),
            )
            if article is None:
                article = Article(
                    citation_key=self._free_key(record, taken_keys),
                    source_key=record.key,
                    import_batch=self.batch,
                    **values,
                )
                chunk.created.append(article)
                chunk.links[id(article)] = links
                taken_keys.add(article.citation_key)
                by_source_key.setdefault(record.key, []).append(article)
                self.batch.created_count += 1
            elif self._update(article, values, links, chunk):
                self.batch.updated_count += 1
            else:
                self.batch.unchanged_count += 1
            chunk.written[id(article)] = (article, record.line)
            if article.doi:
                by_doi[article.doi] = article
        chunk.save()
        self.written.update((a.pk, line) for a, line in chunk.written.values())

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

    def _values(self, record: Record, journals: dict[str, Journal]) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(record, name) for name in SCALAR_FIELDS}
        _clip(record, values, self.problems)
        values["journal_id"] = journals[record.journal].pk if record.journal else None
        values["authors_et_al"] = record.authors_et_al
        values["extra_fields"] = {
            k: v for k, v in record.fields.items() if k not in STORED_ELSEWHERE
        }
        values["source_bibtex"] = record.source
        values["search_text"] = build_search_text(
            title=record.title,
            abstract=record.abstract,
            journal=record.journal,
            authors=[p.display_name for p in record.authors],
            keywords=[k.name for k in record.keywords],
        )
        return values

    @staticmethod
    def _existing_articles(
        records: list[Record],
    ) -> tuple[dict[str, Article], dict[str, list[Article]], set[str]]:
        """Articles a chunk's records may match: by DOI, and by key as written."""
        dois = {r.doi for r in records if r.doi}
        keys = {r.key for r in records}
        found = Article.objects.filter(
            Q(doi__in=dois) | Q(source_key__in=keys) | Q(citation_key__in=keys)
        ).prefetch_related(
            Prefetch("authorships", queryset=Authorship.objects.order_by("position")),
            "article_keywords",
        )
        by_doi: dict[str, Article] = {}
        by_source_key: dict[str, list[Article]] = {}
        taken_keys = set()
        for article in found:
            if article.doi:
                by_doi[article.doi] = article
            by_source_key.setdefault(article.source_key, []).append(article)
            taken_keys.add(article.citation_key)
        return by_doi, by_source_key, taken_keys

    def _match(
        self,
        record: Record,
        by_doi: dict[str, Article],
        by_source_key: dict[str, list[Article]],
        chunk: _Chunk,
    ) -> Article | None:
        """The article this record is a version of, if the catalogue has it.

        The DOI decides when there is one. Otherwise the citation key, but a
        key alone is weak: Scopus gives unrelated records one key
        ("NoAuthor2019", "20231"). Among the articles imported under the key,
        one with the same title is this record; failing that, one that this
        import has not written yet is taken as an earlier version of it.
        """
        if record.doi and record.doi in by_doi:
            return by_doi[record.doi]
        candidates = [
            a
            for a in by_source_key.get(record.key, [])
            if not (a.doi and record.doi and a.doi != record.doi)
        ]
        title = normalise_title(record.title)
        for article in candidates:
            if normalise_title(article.title) == title:
                return article
        for article in candidates:
            if not self._written_at(article, chunk):
                return article
        return None

    def _written_at(self, article: Article, chunk: _Chunk) -> int:
        """The line of the entry that already wrote `article` in this import, or 0."""
        if id(article) in chunk.written:
            return chunk.written[id(article)][1]
        return self.written.get(article.pk, 0) if article.pk else 0

    def _update(
        self, article: Article, values: dict[str, Any], links: _Links, chunk: _Chunk
    ) -> bool:
        """Bring `article` in line with the record; False if nothing differed."""
        current = chunk.links.get(id(article)) or _Links(
            authors=[a.author_id for a in article.authorships.all()],
            keywords=frozenset((k.keyword_id, k.kind) for k in article.article_keywords.all()),
        )
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        if not changed and current == links:
            return False
        for name in changed:
            setattr(article, name, values[name])
        article.import_batch = self.batch
        if article.pk is not None:
            chunk.updated[article.pk] = article
        if current != links:
            chunk.links[id(article)] = links
        return True

    def _free_key(self, record: Record, taken_keys: set[str]) -> str:
        """The record's key, or a suffixed one if a different record holds it."""
        key, suffix = record.key, 0
        while key in taken_keys or (suffix and Article.objects.filter(citation_key=key).exists()):
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


@dataclass(frozen=True)
class _Links:
    authors: list[int]  # author ids in order
    keywords: frozenset[tuple[int, str]]  # (keyword id, kind)


@dataclass
class _Chunk:
    """What a chunk will write once all its records are matched."""

    created: list[Article] = field(default_factory=list)
    updated: dict[int, Article] = field(default_factory=dict)
    # The links each new article gets, and each updated one whose authors or
    # keywords changed, by id() of the article (new ones have no pk yet).
    links: dict[int, _Links] = field(default_factory=dict)
    # Every article a record of this chunk matched or created, with its line.
    written: dict[int, tuple[Article, int]] = field(default_factory=dict)

    def save(self) -> None:
        Article.objects.bulk_create(self.created)
        for article in self.updated.values():
            article.save()
        relinked = [a for a in self.updated.values() if id(a) in self.links]
        Authorship.objects.filter(article__in=relinked).delete()
        ArticleKeyword.objects.filter(article__in=relinked).delete()
        articles = [*self.created, *relinked]
        Authorship.objects.bulk_create(
            Authorship(article=article, author_id=author_id, position=position)
            for article in articles
            for position, author_id in enumerate(self.links[id(article)].authors, start=1)
        )
        ArticleKeyword.objects.bulk_create(
            ArticleKeyword(article=article, keyword_id=keyword_id, kind=kind)
            for article in articles
            for keyword_id, kind in sorted(self.links[id(article)].keywords)
        )


SluggedT = TypeVar("SluggedT", Author, Keyword, Journal)


def _get_or_create(model: type[SluggedT], wanted: dict[Any, SluggedT]) -> dict[Any, SluggedT]:
    """Map each source value to its row, creating the rows that don't exist.

    `wanted` maps a source value (a Person, a keyword or journal name) to an
    unsaved row; rows whose normalised forms match are one row.
    """
    for row in wanted.values():
        row.normalise()
    existing = {
        row.normalised: row
        for row in model._default_manager.filter(
            normalised__in={r.normalised for r in wanted.values()}
        )
    }
    new = {}
    for row in wanted.values():
        if row.normalised not in existing:
            new.setdefault(row.normalised, row)
    slugs = unique_slugs(model, [r.slug_source() for r in new.values()])
    for row, slug in zip(new.values(), slugs, strict=True):
        row.slug = slug
    model._default_manager.bulk_create(new.values())
    existing.update(new)
    return {value: existing[row.normalised] for value, row in wanted.items()}


def _unique_in_order(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
