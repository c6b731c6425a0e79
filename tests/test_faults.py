"""Faults during uploads and imports: processes killed, the disk full, the database read-only.

Every test runs real processes (`manage.py db_worker`, gunicorn) on a SQLite
file of its own, made by `manage.py migrate`, and does to them what happens
in production: SIGKILL (the OOM killer, `kill -9`, systemd after its stop
timeout), a disk that fills up, a database file that turns read-only. The
file is then checked from outside (`Site.health`: `PRAGMA integrity_check`,
`foreign_key_check`, the full-text index and the counts triggers keep), and
the job must be finished, failed or resumable, never stuck; running it again
must give exactly the articles of the file. See tests/faults_support.py for
the machinery.

    .venv/bin/python -m pytest -q tests/test_faults.py      (2-3 minutes)

Tests marked xfail(strict=True) show bugs described in their reason: they
start passing, and so fail the suite, once the bug is fixed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from catalogue.demo import generate_bibtex
from catalogue.importer import CHUNK_SIZE
from catalogue.tasks import STALE_ERROR
from tests.faults_support import (
    Browser,
    Controller,
    Site,
    Watch,
    children,
    free_port,
    multipart,
    read_response,
    start_post,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    # Every fault here happens to a SQLite file of the test's own, whatever
    # database the suite runs on: once, in the SQLite pass, is enough.
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="faults of SQLite files; run in the SQLite pass"
    ),
]

ENTRY_HEAD = re.compile(r"^@(?!string|comment|preamble)\w+\s*\{\s*([^,\s]+)\s*,", re.I | re.M)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied for each test (migrating takes seconds)."""
    return Site(tmp_path_factory.mktemp("template")).database


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path / "site", template=template)
    yield site
    site.close()


def write_bib(path: Path, count: int) -> list[str]:
    """Write `count` generated entries to `path`; return their citation keys."""
    texts = list(generate_bibtex(count))
    path.write_text("".join(texts))
    keys = [ENTRY_HEAD.search(text).group(1) for text in texts]  # type: ignore[union-attr]
    assert len(set(keys)) == count
    return keys


def sign_in(controller: Controller) -> None:
    controller.user(username="importer")
    controller.log_in(username="importer")


# The background worker, killed at twenty-odd points of one import --------------------

PHASES = ("reading the file", "inside a chunk's transaction", "just after a commit")
PREVIEW = ("previewing", "previewed")


def pause(seconds: float) -> bool:
    time.sleep(seconds)
    return True


@dataclass
class Kill:
    phase: str
    status: str
    processed: int
    writing: bool  # some process was inside a write transaction when the worker died
    after: float  # seconds since that worker was started


@dataclass
class Job:
    """One upload's job, the worker running it, and the kills so far."""

    site: Site
    controller: Controller
    pk: int
    worker: Any = None
    worker_started: float = 0.0
    kills: list[Kill] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.watch = Watch(self.site, self.pk)
        self.start_worker()

    def start_worker(self) -> None:
        self.worker = self.site.worker()
        self.worker_started = time.monotonic()

    def wait(self, condition: Any, what: str, timeout: float = 90, every: float = 0.01) -> Any:
        try:
            return wait_for(condition, timeout, what, every)
        except AssertionError as error:
            raise AssertionError(
                f"{error}; job {self.site.job(self.pk)}\n{self.site.logs()}"
            ) from None

    def wait_for_phase(self, phase: str, rng: random.Random) -> bool:
        """Wait until the import is at `phase`; False if it finished first."""
        start = self.watch.row()[1]

        def at_phase() -> tuple[str, int, int] | None:
            row = self.watch.row()
            status, processed, _ = row
            if status == "done":
                return row
            if status != "importing":
                return None
            if phase == "inside a chunk's transaction":
                # Twice, so as not to take a one-statement write for a chunk's.
                return (
                    row if self.watch.writing() and pause(0.01) and self.watch.writing() else None
                )
            if phase == "just after a commit":
                return row if processed > start else None
            return row

        if self.wait(at_phase, f"the import to be {phase}")[0] == "done":
            return False
        if phase == "reading the file":
            time.sleep(rng.uniform(0, 0.1))
        return True

    def kill(self, phase: str) -> Kill:
        """SIGKILL the worker; check the file and the job; start a worker; resume."""
        writing = self.watch.writing()
        self.site.kill(self.worker)
        status, processed, _ = self.watch.row()
        kill = Kill(phase, status, processed, writing, time.monotonic() - self.worker_started)
        self.kills.append(kill)
        job = self.site.job(self.pk)
        assert self.site.health() == [], (kill, job)
        # Whole chunks are committed with their progress and their record of changes.
        if status in ("previewing", "previewed"):
            assert job["articles"] == job["changes"] == 0, (kill, job)
        else:
            counts = (job["articles"], job["changes"], job["created"])
            assert counts == (processed, processed, processed), (kill, job)
        # As systemd's Restart=always does, a new worker comes up straight away.
        self.start_worker()
        if status in ("previewing", "importing"):
            # The job's page shows it stopped once the heartbeat is stale, and offers Resume.
            seen = self.wait(
                lambda: (s := self.controller.recover(pk=self.pk))["resumed"] and s,
                "the job to be shown stopped and resumed",
                every=0.2,
            )
            assert (seen["status"], seen["error"], seen["error_shown"]) == (
                "failed",
                STALE_ERROR,
                True,
            ), (kill, seen)
        else:
            assert status in ("previewed", "done"), (kill, job)
        return kill


def test_worker_killed_at_twenty_points_of_an_import_resumes_to_exactly_the_file(
    site: Site, tmp_path: Path
) -> None:
    began = time.monotonic()
    rng = random.Random(20240611)
    chunks = 7
    count = chunks * CHUNK_SIZE
    keys = write_bib(tmp_path / "refs.bib", count)
    with site.controller() as controller:
        sign_in(controller)
        pk = controller.upload(path=str(tmp_path / "refs.bib"), name="refs.bib")
        job = Job(site, controller, pk)
        # The preview, twice: it starts over when resumed.
        for _ in range(2):
            status = job.wait(lambda: (s := job.watch.row()[0]) in PREVIEW and s, "the preview")
            if status == "previewed":
                break
            time.sleep(rng.uniform(0.1, 1.0))
            job.kill("previewing")
        job.wait(lambda: job.watch.row()[0] == "previewed", "the preview to finish")
        assert controller.start(pk=pk)
        # The import: in each chunk, while reading, while writing, once committed.
        for phase in cycle(PHASES):
            if not job.wait_for_phase(phase, rng):
                break
            job.kill(phase)
        site.kill(job.worker)
        job.watch.close()
        # The user looks at the finished job, as after each kill.
        controller.recover(pk=pk)
    final = site.job(pk)

    assert site.health() == []
    assert (final["status"], final["processed"], final["total"]) == ("done", count, count)
    assert (final["created"], final["updated"], final["unchanged"], final["failed"]) == (
        count,
        0,
        0,
        0,
    )
    assert (final["articles"], final["changes"]) == (count, count)
    assert sorted(site.citation_keys()) == sorted(keys)
    assert (final["upload"], site.stored_uploads()) == ("", [])

    imports = [k for k in job.kills if k.phase in PHASES]
    report = "\n".join(f"  {k}" for k in job.kills)
    print(f"\n{len(job.kills)} kills in {time.monotonic() - began:.0f} s:\n{report}")
    assert len(imports) >= 20, report
    assert sum(k.writing for k in imports) >= 5, report  # during chunk transactions
    # Before each chunk, and after the last (when the kill beats the final save).
    assert {k.processed for k in imports} >= set(range(0, count, CHUNK_SIZE)), report


# A worker killed between taking a job and starting it ---------------------------------


@pytest.mark.parametrize("task", ["preview_import", "run_import"])
def test_worker_killed_between_taking_a_job_and_starting_it_leaves_it_resumable(
    site: Site, tmp_path: Path, task: str
) -> None:
    keys = write_bib(tmp_path / "refs.bib", 50)
    with site.controller() as controller:
        sign_in(controller)
        pk = controller.upload(path=str(tmp_path / "refs.bib"), name="refs.bib")
        if task == "run_import":
            site.run_worker_until_idle()
            assert controller.start(pk=pk)
        worker = site.worker(faults={"FAULT_KILL_ON_TASK_STARTED": f"catalogue.tasks.{task}"})
        assert worker.wait(60) == -signal.SIGKILL, site.logs()
        assert site.health() == []
        stuck = site.job(pk)
        site.worker()
        # Within a few seconds of the heartbeat going stale, the job is finished or resumable.
        wait_for(
            lambda: (
                (s := controller.recover(pk=pk))["resumed"] or s["status"] in ("previewed", "done")
            ),
            6,
            f"the job to be taken up again (it is {stuck['status']}, tasks {stuck['tasks']})",
            every=0.25,
        )
        if task == "run_import":
            wait_for(lambda: site.job(pk)["status"] == "done", 60, "the import")
            assert sorted(site.citation_keys()) == sorted(keys)


# The web worker, killed during an upload ------------------------------------------------


def gunicorn(site: Site, port: int, *, faults: dict[str, str] | None = None) -> Any:
    """gunicorn with the project's gunicorn.conf.py: one worker process."""
    server = site.start(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "catalogue.wsgi"],
        "gunicorn",
        faults=faults,
        session=True,
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        TMPDIR=str(site.tmp),
    )
    wait_for(lambda: answers(port) or server.poll() is not None, 60, "gunicorn", every=0.1)
    assert server.poll() is None, site.logs()
    return server


def answers(port: int) -> bool:
    try:
        return Browser(port).request("GET", "/accounts/login/")[0] == 200
    except OSError:
        return False


def upload(browser: Browser, path: Path) -> tuple[int, dict[str, str]]:
    token = browser.token("/upload/")
    content_type, body = multipart(
        {"csrfmiddlewaretoken": token}, "file", path.name, path.read_bytes()
    )
    sock = start_post(browser, "/upload/", content_type, len(body))
    with sock:
        sock.sendall(body)
        return read_response(sock)


@pytest.mark.parametrize("victim", ["worker", "server"])  # gunicorn's worker, or all of it
def test_web_server_killed_mid_upload_leaves_no_batch_and_the_upload_then_works(
    site: Site, tmp_path: Path, victim: str
) -> None:
    # Over the size Django keeps in memory, so that the body is streaming to a file.
    count = 4300
    write_bib(tmp_path / "big.bib", count)
    data = (tmp_path / "big.bib").read_bytes()
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    with site.controller() as controller:
        controller.user(username="importer", password="a-long-test-password")
    port = free_port()
    server = gunicorn(site, port)
    browser = Browser(port)
    browser.log_in("importer", "a-long-test-password")
    token = browser.token("/upload/")
    content_type, body = multipart({"csrfmiddlewaretoken": token}, "file", "big.bib", data)

    # A slow client: the body goes in small pieces until the server is writing it to disk.
    sock = start_post(browser, "/upload/", content_type, len(body))
    sent = 0
    with sock:
        while not (sent > len(body) // 3 and list(site.tmp.glob("*.upload*"))):
            assert sent < len(body) * 0.9, "the server did not spool the upload to a file"
            sock.sendall(body[sent : sent + 64 * 1024])
            sent += 64 * 1024
            time.sleep(0.01)
        [web_worker] = children(server.pid)
        if victim == "worker":
            os.kill(web_worker, signal.SIGKILL)
        else:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(20)
        with pytest.raises(ConnectionError):  # the connection goes, with no response
            read_response(sock)
    leftovers = [(p.name, p.stat().st_size) for p in site.tmp.glob("*.upload*")]
    print(f"\nkilled {victim} after {sent:,} of {len(body):,} bytes; left in TMPDIR: {leftovers}")

    assert site.health() == []
    assert site.batches() == []
    assert site.stored_uploads() == []

    if victim == "worker":
        # The gunicorn master starts another worker.
        wait_for(lambda: any(pid != web_worker for pid in children(server.pid)), 30, "a new worker")
        wait_for(lambda: answers(port), 30, "the new worker to answer", every=0.1)
    else:
        port = free_port()
        gunicorn(site, port)
        browser.port = port
    status, headers = upload(browser, tmp_path / "big.bib")
    [(pk, _)] = site.batches()
    assert (status, headers["location"]) == (302, f"/imports/{pk}/")
    site.run_worker_until_idle()
    job = site.job(pk)
    assert (job["status"], job["preview_total"], job["articles"]) == ("previewed", count, 0)
    page = browser.request("GET", f"/imports/{pk}/")[2]
    assert "What importing would do" in page
    assert site.health() == []


@pytest.mark.parametrize("moment", ["BEFORE", "AFTER"])
def test_web_worker_killed_while_saving_an_upload_leaves_no_half_made_batch(
    site: Site, tmp_path: Path, moment: str
) -> None:
    write_bib(tmp_path / "refs.bib", 50)
    with site.controller() as controller:
        controller.user(username="importer", password="a-long-test-password")
    port = free_port()
    # The worker dies right before, or right after, the INSERT of the batch.
    faulty = gunicorn(site, port, faults={f"FAULT_KILL_{moment}_CREATING": "catalogue.ImportBatch"})
    browser = Browser(port)
    browser.log_in("importer", "a-long-test-password")
    with pytest.raises(ConnectionError):
        upload(browser, tmp_path / "refs.bib")
    assert site.health() == []
    # The batch and its task commit together, so neither is there; the file
    # written before them is.
    assert site.batches() == []
    [stray] = site.stored_uploads()

    # The user tries again, once the stray file is older than the stale timeout.
    os.killpg(faulty.pid, signal.SIGKILL)
    faulty.wait(20)
    time.sleep(int(site.env["CATALOGUE_JOB_STALE_SECONDS"]) + 0.5)
    browser.port = free_port()
    gunicorn(site, browser.port)
    status, headers = upload(browser, tmp_path / "refs.bib")
    [(pk, _)] = site.batches()
    assert (status, headers["location"]) == (302, f"/imports/{pk}/")
    site.run_worker_until_idle()
    assert site.job(pk)["status"] == "previewed"
    # Only the new batch's file: the stray went first (else this one would
    # have been saved beside it under another name).
    assert site.stored_uploads() == [stray]


# The disk fills up during an import ------------------------------------------------------


@dataclass
class Outcome:
    """What a fault during an import left, and what resuming it gave."""

    committed: int  # entries committed when the fault began
    worker_exit: int | None  # the worker's exit status after the fault, None if it lived on
    after_fault: dict[str, Any]  # the job once the fault is over and its page was opened
    health_after_fault: list[str]
    final: dict[str, Any]
    health_final: list[str]
    keys: list[str]
    file_keys: list[str]


def run_with_a_fault(
    site: Site,
    source: Path,
    count: int,
    *,
    begin: Any,
    end: Any,
    faults: Any = None,
    look_during: bool = True,
) -> Outcome:
    """Import `source`; call `begin()` once two chunks are in, `end()` once the job stops.

    Then open the job's page (as its user would), press Resume, and let a
    worker finish the import. Without `look_during`, the job is taken to
    have stopped when its worker exits (or after 20 s), and the files are
    not opened until `end()`.
    """
    with site.controller() as controller:
        sign_in(controller)
        pk = controller.previewed(path=str(source), name=source.name, total=count)
        assert controller.start(pk=pk)
        worker = site.worker(faults=faults)
        watch = Watch(site, pk)
        wait_for(lambda: watch.row()[1] >= 2 * CHUNK_SIZE, 90, "two chunks")
        committed = watch.row()[1]
        watch.close()  # not to touch the files' shared memory while they are read-only
        try:
            begin()
            if look_during:
                wait_for(
                    lambda: (
                        worker.poll() is not None or site.job(pk)["status"] in ("failed", "done")
                    ),
                    30,
                    "the import to stop",
                    every=0.05,
                )
                time.sleep(0.5)  # what a failing job writes after its status, if anything
            else:
                with suppress(subprocess.TimeoutExpired):
                    worker.wait(20)
        finally:
            end()
        worker_exit = worker.poll()
        health_after_fault = site.health()
        state = site.job(pk)
        if worker_exit is not None:
            worker = site.worker()
        seen = wait_for(
            lambda: (s := controller.recover(pk=pk))["resume_button"] and s,
            30,
            "the job's page to offer Resume",
            every=0.25,
        )
        # The catalogue as the fault left it, the job as its page then showed it.
        after_fault = {**state, **seen}
        wait_for(lambda: site.job(pk)["status"] == "done", 90, "the resumed import", every=0.1)
        site.kill(worker)
    return Outcome(
        committed=committed,
        worker_exit=worker_exit,
        after_fault=after_fault,
        health_after_fault=health_after_fault,
        final=site.job(pk),
        health_final=site.health(),
        keys=sorted(site.citation_keys()),
        file_keys=[],
    )


def summary(outcome: Outcome) -> str:
    after = outcome.after_fault
    return (
        f"{outcome.committed:,} entries committed when it began; worker exit status "
        f"{outcome.worker_exit}; then the job was {after['status']} with "
        f"{after['articles']:,} articles and {after['processed']:,} entries processed, "
        f"saying {after['error']!r}"
    )


def mount_tmpfs(path: Path, size: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    return subprocess.run(command, capture_output=True).returncode == 0


def resize_tmpfs(path: Path, size: int) -> bool:
    command = ["mount", "-o", f"remount,size={size}", str(path)]
    return subprocess.run(command, capture_output=True).returncode == 0


def used_bytes(path: Path) -> int:
    disk = os.statvfs(path)
    return (disk.f_blocks - disk.f_bfree) * disk.f_frsize


@pytest.fixture(scope="module", params=["max_page_count", "tmpfs"])
def full_disk(
    request: pytest.FixtureRequest, template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Outcome]]:
    """An import whose disk fills up after two chunks, then has room again.

    - max_page_count: SQLite's own limit on the file's size, set on the
      worker's connection at that moment (tests.faults_support): SQLite
      then answers SQLITE_FULL exactly as for a full disk. Runs anywhere.
    - tmpfs: the site on a small tmpfs, shrunk to what it holds at that
      moment and grown again after: a disk really full, the WAL file
      included. Needs root (mount); skipped otherwise.
    """
    how = request.param
    folder = tmp_path_factory.mktemp(f"full-disk-{how}")
    count = 6 * CHUNK_SIZE
    file_keys = write_bib(folder / "refs.bib", count)
    disk = folder / "disk"
    if how == "tmpfs" and (os.geteuid() != 0 or not mount_tmpfs(disk, 400 * 1024 * 1024)):
        pytest.skip("needs root, to mount a tmpfs")
    site = Site(disk / "site", template=template)
    flag = folder / "disk-full"
    try:
        if how == "max_page_count":
            outcome = run_with_a_fault(
                site,
                folder / "refs.bib",
                count,
                begin=flag.touch,
                end=lambda: flag.unlink(missing_ok=True),
                faults={"FAULT_DISK_FULL_FLAG": str(flag)},
            )
        else:

            def fill() -> None:
                wait_for(
                    lambda: resize_tmpfs(disk, used_bytes(disk) + 256 * 1024), 10, "a full tmpfs"
                )

            outcome = run_with_a_fault(
                site,
                folder / "refs.bib",
                count,
                begin=fill,
                end=lambda: resize_tmpfs(disk, 400 * 1024 * 1024),
            )
        outcome.file_keys = sorted(file_keys)
        yield how, outcome
    finally:
        site.close()
        if how == "tmpfs":
            subprocess.run(["umount", "-l", str(disk)], check=False)


def test_an_import_keeps_room_beside_the_database_to_take_itself_back(
    site: Site, tmp_path: Path
) -> None:
    write_bib(tmp_path / "refs.bib", 50)
    with site.controller() as controller:
        sign_in(controller)
        pk = controller.previewed(path=str(tmp_path / "refs.bib"), name="refs.bib", total=50)
        assert controller.start(pk=pk)
    site.run_worker_until_idle()

    assert site.job(pk)["status"] == "done"
    reserve = site.database.with_name(site.database.name + ".reserve")
    assert reserve.stat().st_size == settings.CATALOGUE_DISK_RESERVE_BYTES
    # Written, not sparse: the room is really taken.
    assert reserve.stat().st_blocks * 512 >= settings.CATALOGUE_DISK_RESERVE_BYTES


def test_full_disk_during_an_import_leaves_a_sound_database_and_a_resume_gives_exactly_the_file(
    full_disk: tuple[str, Outcome],
) -> None:
    how, outcome = full_disk
    print(f"\nfull disk ({how}): {summary(outcome)}")
    assert outcome.health_after_fault == []
    assert outcome.after_fault["status"] == "failed"
    assert outcome.after_fault["resumed"]
    assert (outcome.final["status"], outcome.health_final) == ("done", [])
    assert outcome.keys == outcome.file_keys
    assert outcome.final["articles"] == outcome.final["changes"] == len(outcome.file_keys)


def test_full_disk_during_an_import_says_so_and_leaves_no_partial_import(
    full_disk: tuple[str, Outcome],
) -> None:
    _how, outcome = full_disk
    after = outcome.after_fault
    assert outcome.committed >= 2 * CHUNK_SIZE
    assert "disk is full" in after["error"]
    assert after["error_shown"]
    assert (after["articles"], after["changes"], after["processed"]) == (0, 0, 0)


# The database file turns read-only during an import ----------------------------------


def chattr(immutable: bool, *paths: Path) -> bool:
    command = ["chattr", "+i" if immutable else "-i", *map(str, paths)]
    try:
        return subprocess.run(command, capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def read_only(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """An import whose database files become immutable after two chunks, then writable.

    `chattr +i` on the database and its -wal file: the kernel then refuses
    every write, through the worker's open descriptors too, and whoever
    opens the file gets it read-only; so does root. `chmod a-w` would only
    stop later opens (SQLite keeps its files open), and root not at all.
    The -shm file is SQLite's shared-memory index, mapped into each process,
    not the database: made immutable, a write to the mapping kills the
    process with SIGBUS, a memory fault rather than a read-only file. Needs
    root (CAP_LINUX_IMMUTABLE) and a file system with the flag (ext4, xfs,
    btrfs, tmpfs); skipped otherwise.
    """
    folder = tmp_path_factory.mktemp("read-only")
    probe = folder / "probe"
    probe.touch()
    if not (chattr(True, probe) and chattr(False, probe)):
        pytest.skip("needs root and chattr +i, to make the open database file read-only")
    count = 6 * CHUNK_SIZE
    file_keys = write_bib(folder / "refs.bib", count)
    site = Site(folder / "site", template=template)
    frozen: list[Path] = []

    def freeze() -> None:
        frozen.extend(path for path in site.files() if not path.name.endswith("-shm"))
        assert chattr(True, *frozen)

    def writable_again() -> None:
        chattr(False, *frozen)
        # The worker, waiting all along, undoes the import and says why, well
        # within the minute (the default stale time) before a user could
        # see the job as stopped; here that time is a second, so wait for it.
        wait_for(lambda: [s for _, s in site.batches()] == ["failed"], 30, "the undo", every=0.1)

    try:
        outcome = run_with_a_fault(
            site,
            folder / "refs.bib",
            count,
            begin=freeze,
            end=writable_again,
            # Reading the files while they are immutable would map their shared
            # memory read-only in this process (or kill it with SIGBUS).
            look_during=False,
        )
        outcome.file_keys = sorted(file_keys)
        yield outcome
    finally:
        chattr(False, *frozen)
        site.close()


def test_read_only_database_during_an_import_stays_sound_and_a_resume_gives_exactly_the_file(
    read_only: Outcome,
) -> None:
    print(f"\nread-only database: {summary(read_only)}")
    assert read_only.health_after_fault == []
    assert read_only.after_fault["status"] == "failed"
    assert read_only.after_fault["resumed"]
    assert (read_only.final["status"], read_only.health_final) == ("done", [])
    assert read_only.keys == read_only.file_keys
    assert read_only.final["articles"] == read_only.final["changes"] == len(read_only.file_keys)


def test_read_only_database_during_an_import_says_so_and_leaves_no_partial_import(
    read_only: Outcome,
) -> None:
    after = read_only.after_fault
    assert read_only.committed >= 2 * CHUNK_SIZE
    # The worker waited for the file to be writable again, then undid the import.
    assert read_only.worker_exit is None
    assert "the database could not be written" in after["error"]
    assert after["error_shown"]
    assert (after["articles"], after["changes"], after["processed"]) == (0, 0, 0)
