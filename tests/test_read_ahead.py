"""The import's reader in a second process: same items, errors raised here, no orphans."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.test import override_settings

from catalogue import read_ahead
from catalogue.demo import generate_bibtex
from catalogue.models import Article
from catalogue.read_ahead import ReaderStopped
from tests.conftest import entry

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="read-ahead forks on Linux only")

ROOT = Path(__file__).resolve().parent.parent


def numbers_with_their_process(count: int) -> Iterator[tuple[int, int]]:
    for n in range(count):
        yield n, os.getpid()


def gone(pid: int, timeout: float = 10) -> bool:
    """Whether process `pid` has exited (and been reaped, or is a zombie) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_read_ahead_yields_every_item_in_order_made_in_another_process() -> None:
    items = list(read_ahead.read_ahead(lambda: numbers_with_their_process(10), batch_size=3))

    assert [n for n, _ in items] == list(range(10))
    makers = {pid for _, pid in items}
    assert len(makers) == 1
    assert makers != {os.getpid()}


def test_read_ahead_of_nothing_yields_nothing() -> None:
    assert list(read_ahead.read_ahead(lambda: iter(()), batch_size=3)) == []


def failing_after(count: int) -> Iterator[int]:
    yield from range(count)
    raise ValueError("line 7: the entry is broken")


def test_an_error_in_the_reader_is_raised_here_after_the_items_before_it() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="line 7: the entry is broken") as raised:
        got.extend(read_ahead.read_ahead(lambda: failing_after(5), batch_size=2))

    assert got == [0, 1, 2, 3, 4]
    assert any("in failing_after" in note for note in raised.value.__notes__)


class Unpicklable(Exception):
    def __init__(self, message: str, handle: object) -> None:
        super().__init__(message)
        self.handle = handle

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("cannot pickle this")


def raising_unpicklable() -> Iterator[int]:
    yield 1
    raise Unpicklable("the reader broke", threading.Lock())


def test_an_error_that_cannot_cross_processes_arrives_as_its_text() -> None:
    with pytest.raises(RuntimeError, match="Unpicklable: the reader broke"):
        list(read_ahead.read_ahead(raising_unpicklable, batch_size=5))


def dying_after(count: int) -> Iterator[int]:
    yield from range(count)
    os._exit(3)  # as if killed: nothing said, nothing cleaned up


def test_a_reader_that_dies_without_a_word_is_an_error_here_not_a_hang() -> None:
    got: list[int] = []
    with pytest.raises(ReaderStopped, match="exit code 3"):
        got.extend(read_ahead.read_ahead(lambda: dying_after(4), batch_size=2))

    assert got == [0, 1, 2, 3]


def busy_after_the_first() -> Iterator[int]:
    """Its process id, then a minute's work (say, one enormous entry) before anything more."""
    yield os.getpid()
    time.sleep(60)
    yield os.getpid()


def test_stopping_early_stops_the_reader_even_while_it_works() -> None:
    items = read_ahead.read_ahead(busy_after_the_first, batch_size=1)
    child = next(items)
    assert not gone(child, timeout=0.2)

    started = time.monotonic()
    items.close()

    assert time.monotonic() - started < 10, "closing waited for the reader's minute of work"
    assert gone(child)


def its_process_then_numbers(count: int) -> Iterator[int]:
    yield os.getpid()
    for n in range(count):
        time.sleep(0.01)
        yield n


def test_the_reader_leaves_sigterm_and_sigint_to_its_parent() -> None:
    # As when systemd stops the worker's service (SIGTERM to every process of
    # it) while db_worker finishes its import gracefully.
    items = read_ahead.read_ahead(lambda: its_process_then_numbers(30), batch_size=1)
    child = next(items)
    os.kill(child, signal.SIGTERM)
    os.kill(child, signal.SIGINT)

    assert list(items) == list(range(30))


# The reader is busy (no write to the pipe would fail) when its parent is killed.
READER_OF_A_KILLED_PARENT = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "catalogue.settings"
import django
django.setup()
from catalogue.read_ahead import read_ahead
from tests.test_read_ahead import busy_after_the_first

items = read_ahead(busy_after_the_first, batch_size=1)
print(next(items), flush=True)
time.sleep(60)
"""


def test_a_busy_reader_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    parent = subprocess.Popen(
        [sys.executable, "-c", READER_OF_A_KILLED_PARENT.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child, timeout=0.2)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

    assert gone(child)


@pytest.mark.django_db
def test_read_ahead_is_not_used_inside_a_transaction_or_on_a_database_in_memory() -> None:
    # The test database on SQLite is in memory; on PostgreSQL, each test
    # runs in a transaction.
    assert not read_ahead.possible()


# Whether it is used where it may be: the tests of the importer below, each
# in a process of its own (this one may have other threads: a live server).
@pytest.mark.django_db(transaction=True)
def test_read_ahead_is_not_used_when_turned_off_in_a_transaction_or_beside_a_thread() -> None:
    with override_settings(CATALOGUE_IMPORT_READ_AHEAD=False):
        assert not read_ahead.possible()
    with transaction.atomic():
        assert not read_ahead.possible()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not read_ahead.possible()
    finally:
        stop.set()
        other.join()


# The importer, both ways ------------------------------------------------------------

# `manage.py import_bibtex` three times (a preview, a first import, then a
# re-import of the same file) in a process of its own, with a probe that
# prints, for each reading done in a second process, the kinds of item that
# came through the pipe.
IMPORT_THREE_TIMES = """
import collections, json, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "catalogue.settings"
import django
django.setup()
from django.core.management import call_command
from catalogue import read_ahead
kinds = []
original = read_ahead.read_ahead
def probe(*args, **kwargs):
    kinds.append(collections.Counter())
    for item in original(*args, **kwargs):
        kinds[-1][type(item).__name__] += 1
        yield item
read_ahead.read_ahead = probe
call_command("migrate", verbosity=0)
call_command("import_bibtex", {path!r}, "--dry-run", "--no-progress")
call_command("import_bibtex", {path!r}, "--no-progress")
call_command("import_bibtex", {path!r}, "--no-progress")
print(json.dumps(kinds))
"""

# What an import leaves, in an order that does not depend on row ids.
DUMP = {
    "articles": "SELECT citation_key, source_key, title, year, doi, j.name, source_fingerprint"
    " FROM catalogue_article LEFT JOIN catalogue_journal j ON j.id = journal_id",
    "authorships": "SELECT a.citation_key, s.position, p.normalised"
    " FROM catalogue_authorship s JOIN catalogue_article a ON a.id = s.article_id"
    " JOIN catalogue_author p ON p.id = s.author_id",
    "keywords": "SELECT a.citation_key, k.normalised, l.kind"
    " FROM catalogue_articlekeyword l JOIN catalogue_article a ON a.id = l.article_id"
    " JOIN catalogue_keyword k ON k.id = l.keyword_id",
    "counts": "SELECT normalised, article_count FROM catalogue_keyword",
    "batches": "SELECT status, created_count, updated_count, unchanged_count, failed_count,"
    " problems FROM catalogue_importbatch",
}


def import_three_times(
    source: Path, database_url: str, *, read_ahead_on: bool = True
) -> tuple[str, list[dict[str, int]]]:
    """What the three commands printed, and what came through the pipe for each."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    env.update(
        DATABASE_URL=database_url,
        CATALOGUE_IMPORT_READ_AHEAD="1" if read_ahead_on else "0",
        LOG_LEVEL="ERROR",
    )
    script = IMPORT_THREE_TIMES.format(root=str(ROOT), path=str(source))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *printed, kinds = result.stdout.splitlines()
    return "\n".join(printed), json.loads(kinds)


def sqlite_dump(database: Path) -> dict[str, list[str]]:
    with sqlite3.connect(database) as db:
        return {name: sorted(map(repr, db.execute(sql))) for name, sql in DUMP.items()}


@pytest.mark.slow
def test_an_import_read_in_a_second_process_stores_exactly_what_one_process_does(
    tmp_path: Path,
) -> None:
    source = tmp_path / "refs.bib"
    # Several chunks of varied entries (macros, LaTeX, crossref), then a
    # broken one, a duplicate and an entry without a title.
    text = "".join(generate_bibtex(1_300))
    text += "@article{broken,\n  title = {Never closed,\n  year = 2020\n\n"
    text += entry("twice", title="One record", doi="10.1/twice") * 2
    text += entry("untitled", year="2021")
    source.write_text(text)
    forked_db, alone_db = tmp_path / "forked.sqlite3", tmp_path / "alone.sqlite3"

    forked_out, kinds = import_three_times(source, f"sqlite:///{forked_db}")
    alone_out, none = import_three_times(source, f"sqlite:///{alone_db}", read_ahead_on=False)

    assert forked_out == alone_out
    assert "would create 1301, update 0, leave 0 unchanged" in forked_out
    assert "1301 created, 0 updated, 1 unchanged, 2 failed" in forked_out
    assert "0 created, 0 updated, 1302 unchanged, 2 failed" in forked_out
    assert sqlite_dump(forked_db) == sqlite_dump(alone_db)
    assert none == []
    # The re-import's reader asked the database which entries it holds, and
    # did not decode those again.
    assert [kind.get("Known", 0) for kind in kinds] == [0, 0, 1_302]


@pytest.mark.django_db(transaction=True)
def test_an_import_reads_in_a_second_process_on_postgresql_too(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database is in memory (the test above uses files)")
    source = tmp_path / "refs.bib"
    source.write_text("".join(generate_bibtex(1_200)))
    database = connection.settings_dict
    url = "postgres://{}:{}@{}:{}/{}".format(
        *(quote(str(database[k] or ""), safe="") for k in ("USER", "PASSWORD", "HOST", "PORT")),
        quote(database["NAME"], safe=""),
    )

    printed, kinds = import_three_times(source, url)

    assert kinds == [{"_Ready": 1_200}, {"_Ready": 1_200}, {"Known": 1_200}]
    assert "1200 created, 0 updated, 0 unchanged, 0 failed" in printed
    assert "0 created, 0 updated, 1200 unchanged, 0 failed" in printed
    assert Article.objects.count() == 1_200
