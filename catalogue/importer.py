"""Storing BibTeX in the catalogue: the one place that writes imports.

Everything that imports calls in here: the upload's background jobs
(`preview_file`, then `import_file`), the `import_bibtex` command and
`load_demo` (`import_bibtex` for data in memory). Undoing a batch is
`undo_batch`.

An import streams its file and commits a chunk at a time, recording what it
did to each article (`ArticleChange`) in the same transaction, so that
progress is visible while it runs, a killed job can resume where it stopped,
and a failure part way is undone: the catalogue ends as it was.

>>> batch = import_bibtex(Path("refs.bib").read_bytes(), source_name="refs.bib")
>>> batch.created_count, batch.failed_count
(12, 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from itertools import count, islice
from pathlib import Path
from typing import IO, Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import (
    DatabaseError,
    InternalError,
    OperationalError,
    connection,
    reset_queries,
    transaction,
)
from django.db.models import DateTimeField, JSONField, Prefetch, Q
from django.db.models.constants import OnConflict
from django.utils import timezone
from rapidfuzz import fuzz

from catalogue import disk_reserve, read_ahead, search
from catalogue.bibtex import Known, Problem, Record, count_entries, iter_bibtex
from catalogue.bibtex.identifiers import citation_count
from catalogue.bibtex.text import fold, normalise_title
from catalogue.models import (
    Article,
    ArticleChange,
    ArticleKeyword,
    Author,
    Authorship,
    ImportBatch,
    Journal,
    Keyword,
    lock_catalogue_writes,
    unique_slugs,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
# A failed import that cannot write its undo (a read-only database) tries again
# this often, for this long, before it leaves what it added for a resume or a
# cancel to settle.
RETRY_SECONDS = 1.0
WAIT_FOR_WRITES_SECONDS = 600
# SQLite, for the connection an import writes with. The default page cache
# (2 MB) holds little of the articles' eleven indexes once a catalogue has
# 100,000 of them, and the default checkpoint copies the write-ahead log into
# the database file every 4 MB, nearly every chunk: index pages that each
# chunk rewrites were read and copied over and over. With a 32 MB cache and
# a checkpoint every 200 MB, storing 100,000 entries took about four fifths
# of the time. The log may grow to about 200 MB; its file keeps that size.
IMPORT_CACHE_KIB = 32_768
IMPORT_CHECKPOINT_PAGES = 50_000
# Titles at least this similar (rapidfuzz ratio, 0-100) in one year with one
# first author are reported as likely duplicates.
FUZZY_TITLE_RATIO = 92
# Without a DOI, an article under the same citation key is taken for an
# earlier version of the record only if the titles are this alike (or the
# first author and year agree).
SAME_RECORD_TITLE_RATIO = 60
# A preview lists at most this many updates and duplicates; counts stay exact.
PREVIEW_LIST_LIMIT = 500
# A preview remembers this many new entries' keys and DOIs to find copies
# further on in the file (about 100 bytes each).
DRY_RUN_MEMORY = 300_000

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
# What an undo compares and restores: the columns an import sets, plus links.
SNAPSHOT_FIELDS = (*SCALAR_FIELDS, "journal_id", "authors_et_al", "extra_fields")

Progress = Callable[[int, int], None]
Source = str | Path | IO[bytes]


def import_bibtex(
    data: bytes | str,
    *,
    source_name: str,
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> ImportBatch:
    """Import BibTeX held in memory; return the finished batch.

    Raises `catalogue.bibtex.UnreadableFile` when the data is not text that
    could hold BibTeX at all (a PDF, a ZIP, an empty file); nothing is written.
    """
    raw = data.encode() if isinstance(data, str) else data
    batch = ImportBatch(source_name=source_name[:300], created_by=_user(user))
    return import_file(io.BytesIO(raw), batch=batch, progress=progress)


def import_file(
    source: Source, *, batch: ImportBatch, progress: Progress | None = None
) -> ImportBatch:
    """Stream `source` into the catalogue under `batch`, a chunk at a time.

    A batch that already has `processed_entries` resumes after them. On any
    error, what this batch wrote is undone, the batch is marked failed, and
    the error is raised again.
    """
    total = count_entries(source)
    items = _items(source)
    first = next(items, None)  # raises UnreadableFile before anything is written
    disk_reserve.ensure()
    batch.status = ImportBatch.Status.IMPORTING
    batch.total_entries = max(total, batch.processed_entries)
    batch.started_at = batch.started_at or timezone.now()
    batch.heartbeat_at = timezone.now()
    batch.save()
    # The heartbeat of the batch's row as last committed, which says whether
    # the row is still as this import left it (see `_take_back`).
    committed_heartbeat = batch.heartbeat_at
    writer = _BatchWriter(batch)
    already_done = batch.processed_entries
    try:
        stream = _prepend(first, items) if first is not None else iter(())
        with sqlite_pragmas(
            cache_size=-IMPORT_CACHE_KIB, wal_autocheckpoint=IMPORT_CHECKPOINT_PAGES
        ):
            for chunk in _chunks(islice(stream, already_done, None), CHUNK_SIZE):
                with transaction.atomic():
                    lock_catalogue_writes()
                    writer.write_chunk(chunk)
                    batch.processed_entries += len(chunk)
                    batch.total_entries = max(batch.total_entries, batch.processed_entries)
                    batch.heartbeat_at = timezone.now()
                    batch.save()
                committed_heartbeat = batch.heartbeat_at
                if progress:
                    progress(batch.processed_entries, batch.total_entries)
                # With DEBUG on, Django keeps the last 9,000 queries with their
                # parameters: whole chunks of abstracts, gigabytes on a big file.
                reset_queries()
    except Exception as error:
        items.close()  # stops the reading process, if there is one, before the undo
        logger.exception("Import of batch %s failed; undoing it", batch.pk)
        _take_back(batch, error, heartbeat=committed_heartbeat)
        raise
    batch.status = ImportBatch.Status.DONE
    batch.total_entries = batch.processed_entries
    batch.finished_at = timezone.now()
    batch.save()
    return batch


@contextmanager
def sqlite_pragmas(**values: int) -> Iterator[None]:
    """On SQLite, set these PRAGMAs on this connection for the block, then put them back."""
    if connection.vendor != "sqlite":
        yield
        return
    before = {}
    with connection.cursor() as cursor:
        for name, value in values.items():
            cursor.execute(f"PRAGMA {name}")
            (before[name],) = cursor.fetchone()
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        # A connection that failed (a full disk, a read-only file) is left as it is.
        with suppress(DatabaseError), connection.cursor() as cursor:
            for name, value in before.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")


def _take_back(batch: ImportBatch, error: Exception, *, heartbeat: Any) -> None:
    """Undo what a failed import committed, and record why it stopped.

    A full disk first gets the room of the disk reserve, which is what the
    undo needs. A database that cannot be written at all (a read-only file)
    is waited for, up to WAIT_FOR_WRITES_SECONDS, trying again every
    RETRY_SECONDS: once it can be written, the import is undone, unless
    someone resumed or cancelled it meanwhile. If the wait runs out, the
    batch keeps its progress, so that a resume finishes it and a cancel
    removes it, and says so if it can.
    """
    if disk_reserve.is_disk_full(error):
        disk_reserve.release()
        disk_reserve.make_room()
        message = (
            "The import stopped because the disk is full, and was undone: nothing of it "
            "is kept. Make room, then resume it."
        )
    else:
        message = f"The import stopped and was undone: {error}"
    deadline = time.monotonic() + WAIT_FOR_WRITES_SECONDS
    waited = False
    while True:
        try:
            _undo_failed_import(batch, heartbeat, message)
            return
        except DatabaseError as undo_error:
            # Only a database that refuses writes is worth waiting for; any
            # other error would only come again.
            if not isinstance(undo_error, OperationalError | InternalError) or (
                time.monotonic() > deadline
            ):
                _could_not_undo(batch, error, undo_error)
                return
            if not waited:
                logger.error(
                    "Import batch %s: cannot write the database to undo it (%s); waiting",
                    batch.pk,
                    undo_error,
                )
                waited = True
                message = (
                    f"The import stopped because the database could not be written ({error}). "
                    "Once it could, the import was undone: nothing of it is kept. Resume it "
                    "to import the file again."
                )
            # A connection opened while the file refuses writes would be a
            # read-only one, and see it as it was: wait, then open afresh.
            connection.close()
            time.sleep(RETRY_SECONDS)
            while not _database_writable() and time.monotonic() < deadline:
                time.sleep(RETRY_SECONDS)


def _database_writable() -> bool:
    """Whether this process may write a SQLite database's files (always, elsewhere)."""
    database = disk_reserve.database_file()
    if database is None:
        return True
    files = [database, database.with_name(database.name + "-wal")]
    return all(os.access(f, os.W_OK) for f in files if f.exists())


def _could_not_undo(batch: ImportBatch, error: Exception, undo_error: Exception) -> None:
    """Say, if it can be written, that what a failed import added stays."""
    message = (
        f"The import stopped ({error}), and what it had added could not be taken back "
        f"({undo_error}). Resume it to finish it, or cancel it to remove what it added."
    )
    logger.critical("Import batch %s: %s", batch.pk, message)
    with suppress(DatabaseError):
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, error=message[:2000], finished_at=timezone.now()
        )


def _undo_failed_import(batch: ImportBatch, heartbeat: Any, message: str) -> None:
    """Undo `batch` and reset it to start over, if it is still as its import left it.

    `heartbeat` is the one the import last committed; a resume clears it.
    """
    with transaction.atomic():
        # Claiming the row first: a resume or cancel waits for this, or has
        # already taken the batch (and the undo is theirs to decide).
        claimed = ImportBatch.objects.filter(
            pk=batch.pk,
            heartbeat_at=heartbeat,
            status__in=[ImportBatch.Status.IMPORTING, ImportBatch.Status.FAILED],
        ).update(status=ImportBatch.Status.FAILED)
        if not claimed:
            logger.warning("Import batch %s was resumed or cancelled; not undone", batch.pk)
            return
        undo_batch(batch, user=None)
        # Undone, it starts again from the top if it is ever re-run.
        batch.changes.all().delete()
        batch.processed_entries = 0
        batch.created_count = batch.updated_count = batch.unchanged_count = 0
        batch.failed_count = batch.warning_count = 0
        batch.problems = []
        batch.status = ImportBatch.Status.FAILED
        batch.error = message[:2000]
        batch.finished_at = timezone.now()
        batch.save()


def _items(source: Source) -> Generator[Item, None, None]:
    """The file's records, problems and entries already held, in file order.

    Read in a second process where that is possible: then reading a chunk
    and storing the one before take two cores rather than one after the
    other on one (a 10,000-entry file imported into SQLite in 10.7 and
    11.6 s rather than 15.6 and 16.6; README, Benchmarks, for more).
    """

    def read() -> Generator[Item, None, None]:
        for item in iter_bibtex(source, skip=_held_fingerprints):
            yield _Ready.of(item) if isinstance(item, Record) else item

    return read_ahead.read_ahead(read, batch_size=CHUNK_SIZE) if read_ahead.possible() else read()


@dataclass(frozen=True)
class _Ready:
    """A record, with what storing it needs that depends on the record alone.

    Worked out as the record is read, so in the reading process when there
    is one (`read_ahead`), not in the storing process, which has the more
    work of the two: folding text for the search index, the article's
    values, the forms it is matched by.
    """

    record: Record
    values: dict[str, Any]  # the article's columns, except journal_id
    clipped: tuple[dict[str, Any], ...]  # problems: values cut to fit their columns
    index: tuple[str, str, str, str]  # what the search index holds (IndexText.folded)
    title: str  # normalise_title(record.title), for matching

    @property
    def block(self) -> str:
        """The record's `dedupe_block`."""
        return self.values["dedupe_block"]

    @property
    def has_block(self) -> bool:
        """Whether the record has a year and a first author: likely duplicates share both.

        Without either, its block would be shared by every such article.
        """
        return bool(self.record.year) and not self.block.endswith("|")

    @classmethod
    def of(cls, record: Record) -> _Ready:
        values: dict[str, Any] = {name: getattr(record, name) for name in SCALAR_FIELDS}
        clipped: list[dict[str, Any]] = []
        _clip(record, values, clipped)
        values["authors_et_al"] = record.authors_et_al
        values["extra_fields"] = {
            k: v for k, v in record.fields.items() if k not in STORED_ELSEWHERE
        }
        # Scopus gives citation counts as a note: "cited By 12".
        values["cited_by"] = citation_count(str(record.fields.get("note", "")))
        values["source_bibtex"] = record.source
        values["source_fingerprint"] = record.fingerprint
        values["dedupe_block"] = dedupe_block(
            record.year, record.authors[0].family if record.authors else ""
        )
        index = search.IndexText(
            article_id=0,  # not known before the article is saved
            title=record.title,
            people=[*(p.display_name for p in record.authors), *(k.name for k in record.keywords)],
            journal=record.journal,
            abstract=record.abstract,
        )
        return cls(
            record=record,
            values=values,
            clipped=tuple(clipped),
            index=index.folded(),
            title=normalise_title(record.title),
        )


# What the storing side gets from the reading, in file order.
Item = _Ready | Problem | Known


def _held_fingerprints(fingerprints: set[str]) -> set[str]:
    """Which of these entries the catalogue holds as they are (see `Known`)."""
    return set(
        Article.objects.filter(source_fingerprint__in=fingerprints).values_list(
            "source_fingerprint", flat=True
        )
    )


def _user(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.pk else None


def _prepend(first: Item, rest: Iterator[Item]) -> Iterator[Item]:
    yield first
    yield from rest


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _problem(record: Record, message: str, severity: str = "error") -> dict[str, Any]:
    return {"line": record.line, "key": record.key, "message": message, "severity": severity}


def _clip(record: Record, values: dict[str, Any], problems: list[dict[str, Any]]) -> None:
    """Cut values longer than their column, saying so, rather than failing."""
    for name, value in values.items():
        limit = _MAX_LENGTHS.get(name)
        if isinstance(value, str) and limit and len(value) > limit:
            values[name] = value[:limit]
            problems.append(
                _problem(
                    record, f"{name} is longer than {limit} characters and was shortened", "warning"
                )
            )


_MAX_LENGTHS = {f.name: f.max_length for f in Article._meta.concrete_fields if f.max_length}


def dedupe_block(year: int | None, first_author_family: str) -> str:
    """Articles likely to be duplicates share this: "2021|filippiadis"."""
    return f"{year or ''}|{fold(first_author_family)}"[:320]


class _BatchWriter:
    """Matches records to articles and writes them, a chunk at a time.

    Authors, keywords, journals and the articles that might match are looked
    up once per chunk; new rows go in with plain INSERTs. With `dry_run` it
    only works out what would change (for previews) and writes nothing.
    """

    def __init__(self, batch: ImportBatch | None, *, dry_run: bool = False) -> None:
        self.batch = batch
        self.dry_run = dry_run
        self.problems: list[dict[str, Any]] = []
        self.preview = Preview()
        # Entries found unchanged in the catalogue, by fingerprint: their line.
        self.known_lines: dict[str, int] = {}
        # Previews only: the new entries' keys and DOIs seen so far, by line.
        self.seen_keys: dict[str, tuple[str, int]] = {}
        self.seen_dois: dict[str, int] = {}
        self.ids = _RowIds(create=not dry_run)

    def write_chunk(self, items: list[Item]) -> None:
        self.problems = []
        readies = []
        unchanged = 0
        for item in items:
            if isinstance(item, Problem):
                self.problems.append(dataclasses.asdict(item))
            elif isinstance(item, Known):
                unchanged += 1
                self._note_known(item)
            elif self._usable(item.record):
                readies.append(item)
        self.preview.unchanged += unchanged
        lookups = _Lookups.for_records(readies, self.batch, self.ids)
        chunk = _Chunk()
        for ready in readies:
            self._write(ready, lookups, chunk)
        if self.dry_run:
            self.preview.add_problems(self.problems)
            return
        chunk.save(self.batch)
        batch = self.batch
        batch.created_count += len(chunk.created)
        batch.updated_count += len(chunk.updated)
        batch.unchanged_count += chunk.unchanged + unchanged
        batch.add_problems(self.problems)

    def _note_known(self, item: Known) -> None:
        """Warn about a second copy of an entry the catalogue already holds."""
        line = self.known_lines.get(item.fingerprint)
        if line:
            message = f"the same record as the entry on line {line}; this copy was skipped"
            self.problems.append(
                {"line": item.line, "key": item.key, "message": message, "severity": "warning"}
            )
        elif len(self.known_lines) < DRY_RUN_MEMORY:
            self.known_lines[item.fingerprint] = item.line

    def _usable(self, record: Record) -> bool:
        for warning in record.warnings:
            self.problems.append(_problem(record, warning, "warning"))
        if not record.title.strip():
            self.problems.append(_problem(record, "the entry has no title"))
            return False
        if len(record.key) > Article._meta.get_field("citation_key").max_length:
            self.problems.append(_problem(record, "the citation key is too long"))
            return False
        return True

    def _write(self, ready: _Ready, lookups: _Lookups, chunk: _Chunk) -> None:
        record = ready.record
        article = self._match(ready, lookups, chunk)
        if article is not None and (line := self._written_at(article, chunk, lookups)):
            message = f"the same record as the entry on line {line}; this copy was skipped"
            self.problems.append(_problem(record, message, "warning"))
            self.preview.add_duplicate(record, message, article=None, other_line=line)
            chunk.unchanged += 1
            return
        values = self._values(ready, lookups)
        links = _Links(
            authors=_unique_in_order(lookups.author_id(p) for p in record.authors),
            keywords=frozenset((lookups.keyword_id(k.name), k.kind) for k in record.keywords),
        )
        if article is None:
            if self._is_copy_of_earlier_entry(record):
                self.preview.unchanged += 1
                return
            self._find_likely_duplicates(ready, lookups, chunk)
            article = Article(
                citation_key=self._free_key(record, lookups.taken_keys),
                source_key=record.key,
                import_batch=self.batch,
                **values,
            )
            chunk.created.append(article)
            chunk.links[id(article)] = links
            chunk.index[id(article)] = ready.index
            lookups.taken_keys.add(article.citation_key)
            lookups.by_source_key.setdefault(record.key, []).append(article)
            lookups.by_block.setdefault(article.dedupe_block, []).append(article)
            self.preview.new += 1
        else:
            before = _snapshot(article, chunk.links.get(id(article)) or lookups.links_of(article))
            if self._update(article, values, links, chunk, lookups):
                chunk.before[id(article)] = before
                chunk.index[id(article)] = ready.index
                self.preview.add_update(record, article, before, _snapshot(article, links))
            else:
                chunk.unchanged += 1
                self.preview.unchanged += 1
        chunk.written[id(article)] = (article, record.line)
        if article.doi:
            lookups.by_doi[article.doi] = article

    def _match(self, ready: _Ready, lookups: _Lookups, chunk: _Chunk) -> Article | None:
        """The article this record is a version of, if the catalogue has it.

        The DOI decides when there is one. Otherwise the citation key, but a
        key alone is weak: Scopus gives unrelated records one key
        ("NoAuthor2019", "20231"). Among the articles imported under the key,
        one with the same title is this record; failing that, one that this
        import has not written yet and that has a similar title, or the same
        first author and year, is taken as an earlier version of it.
        """
        record = ready.record
        if record.doi and record.doi in lookups.by_doi:
            return lookups.by_doi[record.doi]
        candidates = [
            a
            for a in lookups.by_source_key.get(record.key, [])
            if not (a.doi and record.doi and a.doi != record.doi)
        ]
        for article in candidates:
            if normalise_title(article.title) == ready.title:
                return article
        for article in candidates:
            if self._written_at(article, chunk, lookups):
                continue
            # A corrected title is still the same record; an unrelated one
            # that happens to share "Smith2020" is not.
            similar = (
                fuzz.ratio(ready.title, normalise_title(article.title)) >= SAME_RECORD_TITLE_RATIO
            )
            if similar or article.dedupe_block == ready.block:
                return article
        return None

    def _written_at(self, article: Article, chunk: _Chunk, lookups: _Lookups) -> int:
        """The line of the entry that already wrote `article` in this import, or 0."""
        if id(article) in chunk.written:
            return chunk.written[id(article)][1]
        if not article.pk:
            return 0
        # An entry found unchanged (Known) stands for its article too.
        return lookups.written.get(article.pk) or self.known_lines.get(
            article.source_fingerprint, 0
        )

    def _is_copy_of_earlier_entry(self, record: Record) -> bool:
        """For previews: a new entry whose DOI an earlier chunk already brought.

        The import itself finds these in the database, where the earlier
        chunk has been committed, and skips them.
        """
        earlier = self.seen_dois.get(record.doi) if self.dry_run and record.doi else None
        if earlier:
            message = f"the same record as the entry on line {earlier}; this copy was skipped"
            self.preview.add_duplicate(record, message, article=None, other_line=earlier)
        return bool(earlier)

    def _find_likely_duplicates(self, ready: _Ready, lookups: _Lookups, chunk: _Chunk) -> None:
        """For previews: held articles or earlier entries this new one resembles."""
        if not self.dry_run:
            return
        record = ready.record
        for reason, other in lookups.resembling(ready):
            # An earlier entry's article is not saved in a preview: name its line.
            line = None if other.pk else chunk.written[id(other)][1]
            self.preview.add_duplicate(record, reason, article=other.pk, other_line=line)
        other_key, line = self.seen_keys.get(record.key.casefold(), (record.key, 0))
        if other_key != record.key:
            message = f"the same citation key as {other_key} (line {line}) in another letter case"
            self.preview.add_duplicate(record, message, article=None, other_line=line)
        # Remembered for the rest of the file, up to a bound on memory.
        if len(self.seen_keys) < DRY_RUN_MEMORY:
            self.seen_keys.setdefault(record.key.casefold(), (record.key, record.line))
            if record.doi:
                self.seen_dois.setdefault(record.doi, record.line)

    def _values(self, ready: _Ready, lookups: _Lookups) -> dict[str, Any]:
        self.problems.extend(ready.clipped)
        return {**ready.values, "journal_id": lookups.journal_id(ready.record.journal)}

    def _update(
        self,
        article: Article,
        values: dict[str, Any],
        links: _Links,
        chunk: _Chunk,
        lookups: _Lookups,
    ) -> bool:
        """Bring `article` in line with the record; False if nothing differed."""
        current = chunk.links.get(id(article)) or lookups.links_of(article)
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        if not changed and current == links:
            return False
        for name in changed:
            setattr(article, name, values[name])
        article.import_batch = self.batch
        if article.pk is not None:
            chunk.updated[article.pk] = article
        # The links the article will have, whether they change or not.
        chunk.links[id(article)] = links
        if current != links:
            chunk.relink.add(id(article))
        return True

    def _free_key(self, record: Record, taken_keys: set[str]) -> str:
        """The record's key, or a suffixed one if a different record holds it."""
        key, suffix = record.key, 0
        while key in taken_keys or (suffix and Article.objects.filter(citation_key=key).exists()):
            suffix += 1
            key = f"{record.key}-{suffix}"
        if key != record.key:
            message = f"another record already uses this citation key; stored as {key}"
            self.problems.append(_problem(record, message, "warning"))
        return key


@dataclass(frozen=True)
class _Links:
    authors: list[int]  # author ids in order
    keywords: frozenset[tuple[int, str]]  # (keyword id, kind)

    @classmethod
    def of(cls, article: Article) -> _Links:
        """The links an article has; uses the prefetch of `_Lookups`."""
        return cls(
            authors=[a.author_id for a in article.authorships.all()],
            keywords=frozenset((k.keyword_id, k.kind) for k in article.article_keywords.all()),
        )


def _snapshot(article: Article, links: _Links) -> dict[str, Any]:
    """What an undo needs to compare and restore, as JSON."""
    values = {name: getattr(article, name) for name in SNAPSHOT_FIELDS}
    values["authors"] = list(links.authors)
    values["keywords"] = sorted([list(k) for k in links.keywords])
    return values


def _fingerprint(snapshot: dict[str, Any]) -> str:
    """A short stand-in for a snapshot: enough to tell whether it changed."""
    encoded = json.dumps(snapshot, sort_keys=True, default=str).encode()
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def _links_of(article_ids: list[int]) -> dict[int, _Links]:
    """Articles' links as plain values: cheaper than model instances."""
    authors: dict[int, list[int]] = {}
    for article_id, author_id in (
        Authorship.objects.filter(article_id__in=article_ids)
        .order_by("article_id", "position")
        .values_list("article_id", "author_id")
    ):
        authors.setdefault(article_id, []).append(author_id)
    keywords: dict[int, set[tuple[int, str]]] = {}
    for article_id, keyword_id, kind in ArticleKeyword.objects.filter(
        article_id__in=article_ids
    ).values_list("article_id", "keyword_id", "kind"):
        keywords.setdefault(article_id, set()).add((keyword_id, kind))
    return {
        pk: _Links(authors=authors.get(pk, []), keywords=frozenset(keywords.get(pk, ())))
        for pk in article_ids
    }


@dataclass
class _Lookups:
    """Everything a chunk's records are matched against, fetched at once."""

    ids: _RowIds
    by_doi: dict[str, Article]
    by_source_key: dict[str, list[Article]]
    by_block: dict[str, list[Article]]
    taken_keys: set[str]
    links: dict[int, _Links]  # the found articles' links, by pk
    # Found articles that earlier chunks of this import wrote: the line of
    # the entry that did, to tell a copy of an entry from a version of it.
    written: dict[int, int]

    @classmethod
    def for_records(
        cls, readies: list[_Ready], batch: ImportBatch | None, ids: _RowIds
    ) -> _Lookups:
        # One unsaved row per distinct person, name or journal not met
        # before, not per use.
        records = [r.record for r in readies]
        ids.trim()
        ids.find(
            Author,
            {
                p: Author(
                    family=p.family[:300],
                    given=p.given[:300],
                    prefix=p.prefix[:100],
                    suffix=p.suffix[:50],
                    is_organisation=p.is_organisation,
                    import_batch=batch,
                )
                for p in {p for r in records for p in r.authors} - ids.known(Author)
            },
        )
        ids.find(
            Keyword,
            {
                name: Keyword(name=name[:300], import_batch=batch)
                for name in {k.name for r in records for k in r.keywords} - ids.known(Keyword)
            },
        )
        first_of_journal: dict[str, Record] = {}
        for record in records:
            if record.journal and record.journal not in ids.known(Journal):
                first_of_journal.setdefault(record.journal, record)
        ids.find(
            Journal,
            {
                name: Journal(
                    name=name[:500],
                    abbreviation=r.journal_abbreviation[:200],
                    issn=r.issn,
                    publisher=r.publisher[:500],
                    import_batch=batch,
                )
                for name, r in first_of_journal.items()
            },
        )
        dois = {r.doi for r in records if r.doi}
        keys = {r.key for r in records}
        blocks = {r.block for r in readies if r.has_block}
        # One query per index: an OR of them would scan the whole table.
        queries = [
            Q(doi__in=dois) & ~Q(doi=""),  # matches the partial unique index
            Q(source_key__in=keys),
            Q(citation_key__in=keys),
        ]
        if not ids.create:  # previews look for likely duplicates too
            queries.append(Q(dedupe_block__in=blocks))
        found = list({a.pk: a for q in queries for a in Article.objects.filter(q)}.values())
        lookups = cls(
            ids=ids,
            by_doi={},
            by_source_key={},
            by_block={},
            taken_keys=set(),
            links=_links_of([a.pk for a in found]),
            written=dict(
                ArticleChange.objects.filter(
                    batch=batch, article_id__in=[a.pk for a in found]
                ).values_list("article_id", "line")
            )
            if batch is not None and batch.pk and found
            else {},
        )
        for article in found:
            if article.doi:
                lookups.by_doi[article.doi] = article
            lookups.by_source_key.setdefault(article.source_key, []).append(article)
            lookups.by_block.setdefault(article.dedupe_block, []).append(article)
            lookups.taken_keys.add(article.citation_key)
        return lookups

    def links_of(self, article: Article) -> _Links:
        return self.links.get(article.pk) or _Links(authors=[], keywords=frozenset())

    def author_id(self, person: Any) -> int:
        return self.ids.of(Author, person)

    def keyword_id(self, name: str) -> int:
        return self.ids.of(Keyword, name)

    def journal_id(self, name: str) -> int | None:
        return self.ids.of(Journal, name) if name else None

    def resembling(self, ready: _Ready) -> Iterator[tuple[str, Article]]:
        """Articles with the same first author and year and a (nearly) equal title."""
        if not ready.has_block:
            return
        title = ready.title
        for other in self.by_block.get(ready.block, []):
            other_title = normalise_title(other.title)
            if other_title == title:
                yield "the same title, year and first author", other
            elif (ratio := fuzz.ratio(title, other_title)) >= FUZZY_TITLE_RATIO:
                yield (
                    f"a nearly identical title ({ratio:.0f}% alike), same year and first author",
                    other,
                )


@dataclass
class _Chunk:
    """What a chunk will write once all its records are matched."""

    created: list[Article] = field(default_factory=list)
    updated: dict[int, Article] = field(default_factory=dict)
    unchanged: int = 0
    # The links each new or updated article will have, by id() of the
    # article (new ones have no pk yet), and which updated ones change them.
    links: dict[int, _Links] = field(default_factory=dict)
    relink: set[int] = field(default_factory=set)
    # Updated articles' values before this import, by id() of the article.
    before: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Every article a record of this chunk matched or created, with its line.
    written: dict[int, tuple[Article, int]] = field(default_factory=dict)
    # What the search index is to hold for each new or updated article.
    index: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)

    def save(self, batch: ImportBatch) -> None:
        column = search.column_of_new_articles()
        created = [(a, self.links[id(a)]) for a in self.created]
        if created:
            with _counted_here([links for _, links in created]):
                _insert_new(
                    Article,
                    self.created,
                    key="citation_key",
                    computed=column,
                    computed_values=[self.index[id(a)] for a in self.created] if column else None,
                )
                _insert_links(created)
        for article in self.updated.values():
            article.save()
        relinked = [a for a in self.updated.values() if id(a) in self.relink]
        _set_links([(a, self.links[id(a)]) for a in relinked])
        indexed = list(self.updated.values()) if column else [*self.created, *self.updated.values()]
        search.write_index((a.pk, *self.index[id(a)]) for a in indexed)
        before = ArticleChange._meta.get_field("before")
        rows = [
            (
                batch.pk,
                a.pk,
                self.written[id(a)][1],
                ArticleChange.Action.CREATED.value,
                None,
                self._after(a),
            )
            for a in self.created
        ]
        rows += [
            (
                batch.pk,
                a.pk,
                self.written[id(a)][1],
                ArticleChange.Action.UPDATED.value,
                before.get_db_prep_save(self.before[id(a)], connection),
                self._after(a),
            )
            for a in self.updated.values()
        ]
        # Ignoring conflicts: a resumed import may touch an article twice; the
        # first record of what it was before this batch is the one to keep.
        _insert_rows(
            ArticleChange,
            ("batch_id", "article_id", "line", "action", "before", "after"),
            rows,
            ignore_conflicts=True,
        )

    def _after(self, article: Article) -> str:
        return _fingerprint(_snapshot(article, self.links[id(article)]))


def _set_links(articles: list[tuple[Article, _Links]]) -> None:
    """Give each of these saved articles exactly these authors (in order) and keywords."""
    saved = [article for article, _ in articles]
    Authorship.objects.filter(article__in=saved).delete()
    ArticleKeyword.objects.filter(article__in=saved).delete()
    _insert_links(articles)


def _insert_links(articles: list[tuple[Article, _Links]]) -> None:
    _insert_rows(
        Authorship,
        ("article_id", "author_id", "position"),
        (
            (article.pk, author_id, position)
            for article, links in articles
            for position, author_id in enumerate(links.authors, start=1)
        ),
    )
    _insert_rows(
        ArticleKeyword,
        ("article_id", "keyword_id", "kind"),
        (
            (article.pk, keyword_id, kind)
            for article, links in articles
            for keyword_id, kind in sorted(links.keywords)
        ),
    )


@contextmanager
def _counted_here(links: list[_Links]) -> Iterator[None]:
    """Insert new articles with these links in this block, then count them.

    On SQLite the insert triggers leave the article counts and the catalogue
    version alone in the block (migration 0017): one row trigger per link
    row cost more than the rest of storing it. Afterwards each keyword and
    author gets its new articles at once, and the version goes up once.
    Must run inside the chunk's transaction: an error in the block rolls it
    back, and the pause with it. PostgreSQL's statement triggers count.
    """
    if connection.vendor != "sqlite":
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("counting paused outside a transaction would outlive it")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalogue_linkcountpause SET paused = 1")
    yield
    # Each article once per keyword, whatever the kinds, and once per author.
    keywords = Counter(k for article in links for k in {k for k, _ in article.keywords})
    authors = Counter(a for article in links for a in article.authors)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalogue_linkcountpause SET paused = 0")
        for table, counts in (("catalogue_keyword", keywords), ("catalogue_author", authors)):
            cursor.executemany(
                f"UPDATE {table} SET article_count = article_count + %s WHERE id = %s",
                [(n, pk) for pk, n in sorted(counts.items())],
            )
        cursor.execute("UPDATE catalogue_catalogueversion SET number = number + 1")


# Parameters in one INSERT: SQLite allows 32,766, PostgreSQL 65,535.
MAX_PARAMETERS = 30_000


def _insert_rows(
    model: type[Any],
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
    *,
    ignore_conflicts: bool = False,
    computed: search.ArticleColumn | None = None,
) -> None:
    """Plain INSERTs of rows whose values are ready for the database.

    bulk_create prepares every value of every row through its field, which
    costs more than the insert itself: an import writes some twenty link
    rows and thirty columns per article. These rows have no signals to miss.
    With `computed` (PostgreSQL only: `search.column_of_new_articles`), a
    column the model lacks is filled by its SQL, whose parameters end each row.
    """
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    fields = [model._meta.get_field(c) for c in columns]
    names = [quote(f.column) for f in fields]
    if computed is not None:
        names.append(quote(computed.column))
    head = "{} {} ({})".format(
        connection.ops.insert_statement(on_conflict=on_conflict),
        quote(model._meta.db_table),
        ", ".join(names),
    )
    tail = " " + connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    batch = list(rows)
    if not batch:
        return
    if connection.vendor == "postgresql":
        # One array a column, unnested: PostgreSQL parses and plans one short
        # statement for all the rows, where rows of VALUES made it plan 30,000
        # parameters at a time. Keyword links of 20,000 articles: 2.1 s, not 8.0;
        # the articles, whose computed column reads its texts from the
        # unnested columns, 10.0 s, not 13.0.
        types = [f.db_type(connection) for f in fields]
        if computed is not None:
            types += ["text"] * computed.sql.count("%s")
        unnested = [f"c{i}" for i in range(len(types))]
        selected = unnested[: len(fields)]
        if computed is not None:
            selected.append(computed.sql % tuple(unnested[len(fields) :]))
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        sql = (
            f"{head} SELECT {', '.join(selected)}"
            f" FROM unnest({arrays}) AS u({', '.join(unnested)}){tail}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
        return
    if computed is not None:
        raise ValueError("a computed column is for PostgreSQL's inserts only")
    # Many rows to a statement, not executemany's one: SQLite took 10.7 s
    # rather than 3.2 for the keyword links of 100,000 articles that way.
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    largest = 1 << (max(1, MAX_PARAMETERS // len(batch[0])).bit_length() - 1)
    with connection.cursor() as cursor:
        start = 0
        while start < len(batch):
            # A power of two rows at a time: few different statements, since
            # Python's sqlite3 keeps each one compiled (128 of them). With any
            # number of rows, a 100,000-entry import peaked at 258 MB, not 137.
            size = min(largest, 1 << ((len(batch) - start).bit_length() - 1))
            part = batch[start : start + size]
            sql = f"{head} VALUES {', '.join([row] * size)}{tail}"
            cursor.execute(sql, [value for values_of_row in part for value in values_of_row])
            start += size


def _insert_new(
    model: type[Any],
    instances: list[Any],
    *,
    key: str,
    computed: search.ArticleColumn | None = None,
    computed_values: list[tuple[Any, ...]] | None = None,
) -> None:
    """Insert unsaved instances, then give them their pks (found by `key`, a unique column).

    What bulk_create does, for the fields these models have: auto_now
    timestamps and JSON are the only values that need preparing.
    `computed` and its values per instance: see `_insert_rows`.
    """
    if not instances:
        return
    now = timezone.now()
    names, prepared, stamps = [], {}, {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        names.append(f.attname)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for instance in instances:
                setattr(instance, f.attname, now)
            # The same moment for every row: prepared once.
            stamps[len(names) - 1] = f.get_db_prep_save(now, connection)
        elif isinstance(f, DateTimeField | JSONField):
            prepared[len(names) - 1] = f
    rows = []
    for instance in instances:
        row = [getattr(instance, name) for name in names]
        for index, f in prepared.items():
            row[index] = f.get_db_prep_save(row[index], connection)
        for index, value in stamps.items():
            row[index] = value
        rows.append(row)
    for row, extra in zip(rows, computed_values or [], strict=computed is not None):
        row.extend(extra)
    _insert_rows(model, tuple(names), rows, computed=computed)
    pks = dict(
        model._default_manager.filter(
            **{f"{key}__in": [getattr(i, key) for i in instances]}
        ).values_list(key, "pk")
    )
    for instance in instances:
        instance.pk = pks[getattr(instance, key)]
        instance._state.adding = False
        instance._state.db = connection.alias


SluggedT = TypeVar("SluggedT", Author, Keyword, Journal)


class _RowIds:
    """The ids of the authors, keywords and journals an import has met, by source value.

    Kept from chunk to chunk: the common ones recur throughout a file, and
    looking them up again costs more than the rest of their handling. Held
    to a bound on memory. Without `create` (previews) rows that do not
    exist yet get negative stand-in ids, so that link comparisons stay
    honest: a new author is never an existing one.
    """

    LIMIT = 50_000  # per model: about 10 MB for authors, whose keys are Person records

    def __init__(self, *, create: bool) -> None:
        self.create = create
        self.ids: dict[type[Any], dict[Any, int]] = {Author: {}, Keyword: {}, Journal: {}}
        self.stand_ins = count(-1, -1)

    def known(self, model: type[SluggedT]) -> Any:
        return self.ids[model].keys()

    def of(self, model: type[SluggedT], value: Any) -> int:
        return self.ids[model][value]

    def find(self, model: type[SluggedT], wanted: dict[Any, SluggedT]) -> None:
        """Look up (and with `create`, create) the rows for these values.

        `wanted` maps each source value (a Person, a keyword or journal
        name) to an unsaved row; rows whose normalised forms match are one row.
        """
        for row in wanted.values():
            row.normalise()
        existing = dict(
            model._default_manager.filter(
                normalised__in={r.normalised for r in wanted.values()}
            ).values_list("normalised", "pk")
        )
        new: dict[str, SluggedT] = {}
        for row in wanted.values():
            if row.normalised not in existing:
                new.setdefault(row.normalised, row)
        if self.create and new:
            slugs = unique_slugs(model, [r.slug_source() for r in new.values()])
            for row, slug in zip(new.values(), slugs, strict=True):
                row.slug = slug
            _insert_new(model, list(new.values()), key="normalised")
        for normalised, row in new.items():
            existing[normalised] = row.pk if row.pk is not None else next(self.stand_ins)
        self.ids[model].update((value, existing[row.normalised]) for value, row in wanted.items())

    def trim(self) -> None:
        """Forget all ids of a model once it holds too many (between chunks only)."""
        for ids in self.ids.values():
            if len(ids) > self.LIMIT:
                ids.clear()


def _unique_in_order(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


# Previews ------------------------------------------------------------------


@dataclass
class Preview:
    """What importing a file would do, worked out without writing."""

    total: int = 0
    new: int = 0
    unchanged: int = 0
    updated: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    duplicate_count: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    failure_count: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False

    def add_update(
        self, record: Record, article: Article, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        self.updated += 1
        if len(self.updates) >= PREVIEW_LIST_LIMIT:
            self.truncated = True
            return
        changes = _readable_changes(before, after)
        self.updates.append(
            {
                "line": record.line,
                "key": record.key,
                "article": article.pk,
                "title": record.title[:300],
                "changes": changes,
            }
        )

    def add_duplicate(
        self, record: Record, reason: str, *, article: int | None, other_line: int | None
    ) -> None:
        self.duplicate_count += 1
        if len(self.duplicates) >= PREVIEW_LIST_LIMIT:
            self.truncated = True
            return
        self.duplicates.append(
            {
                "line": record.line,
                "key": record.key,
                "reason": reason,
                "article": article,
                "other_line": other_line,
            }
        )

    def add_problems(self, problems: list[dict[str, Any]]) -> None:
        for problem in problems:
            if problem["severity"] == "error":
                self.failure_count += 1
                bucket = self.failures
            else:
                self.warning_count += 1
                bucket = self.warnings
            if len(bucket) < PREVIEW_LIST_LIMIT:
                bucket.append(problem)
            else:
                self.truncated = True

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _readable_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} as a person reads them: names, not ids.

    Rows the import would create have no id yet (negative stand-ins): they
    show as "(new)". One or two queries per listed update, and at most
    PREVIEW_LIST_LIMIT updates are listed.
    """

    def names(model: type[Author] | type[Keyword], ids: list[int]) -> str:
        known = {row.pk: str(row) for row in model._default_manager.filter(pk__in=ids)}
        return "; ".join(str(known.get(i, "(new)")) for i in ids)

    changes: dict[str, list[Any]] = {}
    for name in SNAPSHOT_FIELDS:
        old, new = before[name], after[name]
        if old == new:
            continue
        if name == "extra_fields":
            for field_name in sorted(set(old) | set(new)):
                if old.get(field_name) != new.get(field_name):
                    changes[field_name] = [_cut(old.get(field_name)), _cut(new.get(field_name))]
        elif name == "journal_id":
            journals = dict(Journal.objects.filter(pk__in=[old, new]).values_list("pk", "name"))
            changes["journal"] = [
                journals.get(old, old and "(new)"),
                journals.get(new, new and "(new)"),
            ]
        else:
            changes[name] = [_cut(old), _cut(new)]
    if before["authors"] != after["authors"]:
        changes["authors"] = [names(Author, before["authors"]), names(Author, after["authors"])]
    if before["keywords"] != after["keywords"]:
        changes["keywords"] = [
            names(Keyword, [k for k, _ in before["keywords"]]),
            names(Keyword, [k for k, _ in after["keywords"]]),
        ]
    return changes


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def preview_file(source: Source, *, progress: Progress | None = None) -> Preview:
    """What `import_file` would do with `source`, without writing anything."""
    total = count_entries(source)
    writer = _BatchWriter(None, dry_run=True)
    done = 0
    with closing(_items(source)) as items:
        for chunk in _chunks(items, CHUNK_SIZE):
            writer.write_chunk(chunk)
            reset_queries()  # see import_file
            done += len(chunk)
            if progress:
                progress(done, max(total, done))
    writer.preview.total = done
    return writer.preview


# Undo ------------------------------------------------------------------------


def undo_batch(batch: ImportBatch, *, user: AbstractBaseUser | None) -> ImportBatch:
    """Take back what `batch` did, except where someone has edited since.

    Articles it created are deleted, articles it changed get their earlier
    values back, and authors, keywords and journals it created go once no
    article uses them. An article edited after the import (its values are
    no longer what the import left) is kept as it is, and the report says so.
    """
    kept: list[dict[str, Any]] = []
    with transaction.atomic():
        lock_catalogue_writes()  # an import must not link what this deletes
        changes = batch.changes.select_related("article").prefetch_related(
            Prefetch("article__authorships", queryset=Authorship.objects.order_by("position")),
            "article__article_keywords",
        )
        deleted = array("q")  # 8 bytes an article: the undo of a million-entry import
        for change in changes.iterator(chunk_size=CHUNK_SIZE):
            article = change.article
            if _fingerprint(_snapshot(article, _Links.of(article))) != change.after:
                kept.append(
                    {
                        "article": article.pk,
                        "key": article.citation_key,
                        "reason": "edited after this import, so left as it is",
                    }
                )
            elif change.action == ArticleChange.Action.CREATED:
                deleted.append(article.pk)
            else:
                _restore(article, change.before)
        # A chunk at a time, and only their pks: Django loads the articles it
        # deletes, and all 100,000 of an import at once took 1.3 GB.
        for start in range(0, len(deleted), CHUNK_SIZE):
            part = deleted[start : start + CHUNK_SIZE].tolist()
            Article.objects.filter(pk__in=part).only("pk").delete()
        for model in (Author, Keyword, Journal):
            model._default_manager.filter(import_batch=batch, articles__isnull=True).delete()
        batch.undo_report = kept
        batch.undone_at = timezone.now()
        batch.undone_by = _user(user)
        batch.status = ImportBatch.Status.UNDONE
        batch.save()
    return batch


def _restore(article: Article, before: dict[str, Any]) -> None:
    for name in SNAPSHOT_FIELDS:
        setattr(article, name, before[name])
    article.cited_by = citation_count(str(article.extra_fields.get("note", "")))
    first = Author.objects.filter(pk__in=before["authors"][:1]).first()
    article.dedupe_block = dedupe_block(article.year, first.family if first else "")
    article.save()
    links = _Links(before["authors"], frozenset((k, kind) for k, kind in before["keywords"]))
    _set_links([(article, links)])
    search.reindex([article.pk])
