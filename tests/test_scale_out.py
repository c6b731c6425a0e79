"""Scaling out: two app servers and two workers on one PostgreSQL.

The README's "Scaling out" set-up, run for real: two gunicorn instances
(`gunicorn -c gunicorn.conf.py catalogue.wsgi`, DEBUG=0, each with its own
port) and two `manage.py db_worker --no-reload`, all on the test's
PostgreSQL database and one shared MEDIA_ROOT. Three generated BibTeX files
that share people, keywords and journals (in several spellings that are one
row each once normalised, and a few different ones whose slugs collide) are
uploaded at once (the first and third through one server, the second
through the other) and imported at once by both workers, while anonymous
readers search and browse through both servers without a pause. Then:

- every import is done, and the catalogue holds exactly the union of the
  files: each article once, with its journal, its authors in order and its
  keywords; each person, keyword and journal once, with the right counts;
- every read was answered 200, and both servers show the final catalogue;
- both workers ran imports, and two imports ran at the same time;
- every process stops cleanly on SIGTERM, as under systemd.

Requests go to gunicorn as the HTTPS proxy sends them (`X-Forwarded-Proto:
https`), so the production settings stay as they are. One sign-in serves
requests to either server: nothing is sticky.

    scripts/with-postgres .venv/bin/python -m pytest -q tests/test_scale_out.py

Half a minute on two busy cores; skipped on SQLite, which serves one host.
The other tests here cover what several servers need: a health check the load
balancer can reach, and one facet index build per catalogue version.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.db.models import Count, F
from django.test import Client, override_settings
from django_tasks_db.models import DBTaskResult

from catalogue import facet_index
from catalogue.bibtex.keywords import normalise_keyword
from catalogue.bibtex.records import Person
from catalogue.bibtex.text import normalise_person
from catalogue.models import (
    Article,
    ArticleKeyword,
    Author,
    Authorship,
    FacetBitmap,
    ImportBatch,
    Journal,
    Keyword,
    normalise_journal,
)
from tests.conftest import entry
from tests.faults_support import free_port, multipart, wait_for

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-scale-out-password"
# Big enough that an import takes several chunks (of 500) and so is still
# running when the other starts; small enough for half a minute in all.
ENTRIES_PER_FILE = 2500
# The third file repeats this many of the first file's entries, word for word.
REPEATED = 800
# Variables of the developer's shell that would point a process elsewhere.
NOT_INHERITED = {"DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE", "MEDIA_ROOT", "PORT", "BIND"}


# The files ---------------------------------------------------------------------

# Each person, keyword and journal with the spellings the files use for it: all
# one row once normalised. "O'Brien" and "OBrien" (and "Nerve block" and
# "Nerve-block") are two rows each whose slugs start out the same.
PEOPLE: list[tuple[Person, tuple[str, ...]]] = [
    (Person("Müller", "Hans"), ("Müller, Hans", 'M{\\"u}ller, Hans', "Hans Muller")),
    (Person("Smith", "Jane"), ("Smith, Jane", "Jane Smith", "SMITH, Jane")),
    (Person("World Health Organization", is_organisation=True), ("{World Health Organization}",)),
    (Person("Berg", "Jan", prefix="van der"), ("van der Berg, Jan", "Jan van der Berg")),
    (Person("O'Brien", "Pat"), ("O'Brien, Pat", "Pat O'Brien")),
    (Person("OBrien", "Pat"), ("OBrien, Pat",)),
    (Person("García-López", "María"), ("García-López, María", "Garcia-Lopez, Maria")),
    (Person("Ørsted", "Anders"), ("Ørsted, Anders", "Orsted, Anders")),
    *(
        (Person(family, given), (f"{family}, {given}", f"{given} {family}"))
        for family in (
            "Filippiadis",
            "Nakamura",
            "Okafor",
            "Kowalski",
            "Rossi",
            "Dubois",
            "Andersen",
            "Papadopoulos",
            "Haddad",
            "Silva",
        )
        for given in ("Dimitrios", "Yuki", "Chidi", "Anna")
    ),
]
KEYWORDS: list[tuple[str, ...]] = [
    ("Pain", "pain", "PAIN"),
    ("Cryoanalgesia", "cryoanalgesia"),
    ("Nerve block", "nerve  block"),
    ("Nerve-block",),
    ("Radiofrequency ablation", "radiofrequency ablation"),
    ("Knee osteoarthritis", "knee osteoarthritis"),
    ("Chronic pain", "Chronic Pain"),
    ("Interventional radiology", "interventional radiology"),
    ("Phantom limb", "phantom limb"),
    ("Neuropathic pain",),
    ("Opioids", "opioids"),
    ("Quality of life", "quality of life"),
    ("Ultrasound guidance",),
    ("Computed tomography", "computed tomography"),
    ("Randomized controlled trial",),
    ("Cohort studies", "cohort studies"),
]
JOURNALS: list[tuple[str, ...]] = [
    ("Pain Medicine", "PAIN MEDICINE"),
    ("Journal of Pain Research", "journal of pain research"),
    ("J. Vasc. Interv. Radiol.", "J Vasc Interv Radiol"),
    ("Cardiovascular and Interventional Radiology",),
    ("Regional Anesthesia and Pain Medicine",),
    ("The Lancet", "the lancet"),
]
TOPICS = ("cryoneurolysis", "thermocoagulation", "electroporation")  # one per file
SENTENCES = (
    "Percutaneous procedures were performed under imaging guidance.",
    "Pain scores fell significantly at one, three and six months.",
    "No major complications were recorded during follow-up.",
    "Quality of life improved in most patients.",
    "Further randomised trials are needed to confirm these findings.",
    "The technique was feasible in an outpatient setting.",
)


@dataclass(frozen=True)
class Expected:
    """What the catalogue must hold for one entry, by normalised forms."""

    journal: str
    authors: tuple[str, ...]
    keywords: frozenset[str]


@dataclass
class BibFile:
    name: str
    text: str
    entries: dict[str, Expected]  # by citation key
    topic: str


def make_file(number: int, *, repeat: BibFile | None = None) -> BibFile:
    """ENTRIES_PER_FILE entries of their own, or fewer after REPEATED of `repeat`'s."""
    rng = random.Random(number)
    topic = TOPICS[number]
    texts: list[str] = []
    entries: dict[str, Expected] = {}
    if repeat is not None:
        chunks = repeat.text.split("@article{")[1 : REPEATED + 1]
        texts.extend(f"@article{{{chunk}" for chunk in chunks)
        entries.update(list(repeat.entries.items())[:REPEATED])
    for n in range(ENTRIES_PER_FILE - len(texts)):
        key = f"{topic[:5]}{n}"
        people = rng.sample(PEOPLE, rng.randint(2, 5))
        keywords = rng.sample(KEYWORDS, rng.randint(2, 4))
        journal = rng.choice(JOURNALS)
        spelling = number + n  # every spelling turns up in every file
        texts.append(
            entry(
                key,
                title=f"{topic.capitalize()} for {rng.choice(KEYWORDS)[0].lower()}: cohort {n}",
                author=" and ".join(names[spelling % len(names)] for _, names in people),
                journal=journal[spelling % len(journal)],
                year=str(rng.randint(2005, 2024)),
                keywords="; ".join(names[spelling % len(names)] for names in keywords),
                doi=f"10.5555/{key}",
                abstract=" ".join(rng.sample(SENTENCES, 4)),
            )
        )
        entries[key] = Expected(
            journal=normalise_journal(journal[0]),
            authors=tuple(normalise_person(person) for person, _ in people),
            keywords=frozenset(normalise_keyword(names[0]) for names in keywords),
        )
    return BibFile(f"{topic}.bib", "".join(texts), entries, topic)


# HTTP, as the HTTPS proxy passes it on ---------------------------------------------

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
RESULT_COUNT = re.compile(r'class="result-count"[^>]*>\s*([\d,]+) article')


class Visitor:
    """Cookies and just enough HTTP, to `ports` in turn (one, or a load balancer's many)."""

    def __init__(self, *ports: int, cookies: dict[str, str] | None = None):
        self.ports = ports
        self.cookies = dict(cookies or {})
        self.turn = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        port: int | None = None,
    ) -> tuple[int, dict[str, str], str]:
        if port is None:
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
        # As the HTTPS proxy passes a request on; a POST comes from our own page.
        headers = {"X-Forwarded-Proto": "https", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            headers.update({"Origin": f"https://127.0.0.1:{port}", "Content-Type": content_type})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, dict(response.headers), text

    def get(self, path: str, *, port: int | None = None) -> tuple[int, str]:
        status, _, text = self.request("GET", path, port=port)
        return status, text

    def post(
        self,
        path: str,
        fields: dict[str, str],
        *,
        file: tuple[str, bytes] | None = None,
        port: int | None = None,
    ) -> tuple[int, str]:
        """A form post; returns the status and the redirect's Location."""
        if file is None:
            body = "&".join(f"{k}={quote(v)}" for k, v in fields.items()).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            content_type, body = multipart(fields, "file", *file)
        status, headers, _ = self.request(
            "POST", path, body=body, content_type=content_type, port=port
        )
        return status, headers.get("Location", "")

    def token(self, path: str) -> str:
        """The CSRF token of a page's form."""
        status, html = self.get(path)
        assert status == 200, (path, status, html[:500])
        match = TOKEN.search(html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)


# The processes ---------------------------------------------------------------------


@dataclass
class Stack:
    """Two gunicorns and two db_workers on the test database; logs in `folder`."""

    folder: Path
    env: dict[str, str]
    ports: list[int] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str], **env: str) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # gunicorn's workers go with their master
            )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def logs(self, *names: str) -> str:
        """The end of each log (of those named, else of all), for a failure's message."""
        names = names or tuple(self.processes)
        return "\n".join(f"--- {name} ---\n{self.log(name)[-3000:]}" for name in names)

    def stop(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM to each, as systemd does; SIGKILL to what is left after `timeout`."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # its session: gunicorn's workers too
                process.wait(10)
        return {name: process.returncode for name, process in self.processes.items()}


def database_url() -> str:
    """The test database (not the one DATABASE_URL names), for the processes."""
    db = connection.settings_dict
    user, password, host = (quote(db[k] or "", safe="") for k in ("USER", "PASSWORD", "HOST"))
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}:{password}@{host or 'localhost'}{port}/{quote(db['NAME'])}"


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    """The servers and workers, started on the (committed) test database."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="catalogue.settings",
        DEBUG="0",
        SECRET_KEY="scale-out-" + os.urandom(24).hex(),
        ALLOWED_HOSTS="127.0.0.1",
        MEDIA_ROOT=str(tmp_path / "media"),  # shared by every server and worker
        STATIC_ROOT=str(tmp_path / "static"),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    stack = Stack(tmp_path, env)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    try:
        for number in (1, 2):
            port = free_port()
            stack.ports.append(port)
            stack.start(
                f"web-{number}",
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "catalogue.wsgi"],
                BIND=f"127.0.0.1:{port}",
                WEB_CONCURRENCY="1",
                GUNICORN_THREADS="2",
                GUNICORN_GRACEFUL_TIMEOUT="10",
            )
            stack.start(
                f"worker-{number}",
                [
                    *(sys.executable, "manage.py", "db_worker", "--no-reload"),
                    *("--worker-id", f"worker-{number}"),
                ],
            )
        try:
            for number, port in enumerate(stack.ports, start=1):
                wait_for(lambda port=port: _answers(port), 60, f"web-{number} to answer", every=0.2)
            for number in (1, 2):
                log = f"worker-{number}"
                wait_for(
                    lambda log=log: "Starting worker" in stack.log(log),
                    60,
                    f"{log} to start",
                    every=0.2,
                )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.logs()}") from None
        yield stack
    finally:
        stack.stop(timeout=10)


def _answers(port: int) -> bool:
    try:
        return Visitor(port).get("/health/")[0] == 200
    except OSError:
        return False


# Readers -------------------------------------------------------------------------


class Read(NamedTuple):
    port: int
    path: str
    status: int | str  # or the error, when there was no answer
    seconds: float
    at: datetime  # when it was answered


@dataclass
class Reads:
    """What the readers asked and got."""

    seen: list[Read] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def add(self, port: int, path: str, status: int | str, start: float) -> None:
        self.seen.append(Read(port, path, status, time.monotonic() - start, datetime.now(UTC)))

    def statuses(self) -> Counter[int | str]:
        return Counter(read.status for read in self.seen)

    def per_port(self, start: datetime | None = None, end: datetime | None = None) -> Counter[int]:
        """How many reads each server answered, between `start` and `end` if given."""
        return Counter(
            read.port
            for read in self.seen
            if (start is None or start <= read.at) and (end is None or read.at <= end)
        )


READ_PATHS = (
    "/",
    "/?q=pain",
    f"/?q={TOPICS[0]}",
    "/?q=muller+OR+smith",
    "/?q=%22nerve+block%22&sort=oldest",
    "/?year_min=2015&sort=title",
    "/keywords/",
    "/journals/",
    "/authors/",
    "/suggest.json?q=cry",
)


def read_continuously(port: int, reads: Reads) -> None:
    """Search and browse as an anonymous reader does, until told to stop.

    Every third request is a keyword's, journal's or author's page that one
    of the index pages linked to.
    """
    visitor = Visitor(port)
    links: dict[str, list[str]] = {}
    turn = 0
    while not reads.stop.is_set():
        path = READ_PATHS[turn % len(READ_PATHS)]
        if turn % 3 == 2 and (pages := [link for found in links.values() for link in found]):
            path = pages[turn % len(pages)]
        turn += 1
        start = time.monotonic()
        try:
            status, html = visitor.get(path)
        except OSError as error:
            reads.add(port, path, repr(error), start)
            continue
        reads.add(port, path, status, start)
        if path in ("/keywords/", "/journals/", "/authors/"):
            links[path] = re.findall(rf'href="({path}[\w-]+/)"', html)[:20]
        time.sleep(0.05)


# Uploading -----------------------------------------------------------------------


def upload_and_import(visitor: Visitor, bib: BibFile, port: int) -> int:
    """Upload through `port`, wait for the preview, press Import; return the batch id.

    The other requests go to either server in turn (`visitor` has both), as a
    load balancer without sticky sessions sends them.
    """
    token = visitor.token("/upload/")
    status, location = visitor.post(
        "/upload/", {"csrfmiddlewaretoken": token}, file=(bib.name, bib.text.encode()), port=port
    )
    assert status == 302, (bib.name, status)
    pk = int(re.fullmatch(r"/imports/(\d+)/", location).group(1))  # type: ignore[union-attr]
    wait_for(lambda: job_status(visitor, pk) == "previewed", 90, f"{bib.name}'s preview", every=0.2)
    token = visitor.token(f"/imports/{pk}/")  # the preview, with its Import button
    status, _ = visitor.post(f"/imports/{pk}/import/", {"csrfmiddlewaretoken": token})
    assert status == 302, (bib.name, status)
    return pk


def job_status(visitor: Visitor, pk: int) -> str:
    """The job's status, from the progress.json that the job's page polls."""
    status, text = visitor.get(f"/imports/{pk}/progress.json")
    assert status == 200, (status, text[:500])
    progress = json.loads(text)
    assert progress["status"] not in ("failed", "cancelled"), progress
    return progress["status"]


# The test --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several app servers and workers need PostgreSQL; SQLite serves one host",
)
def test_two_servers_and_two_workers_import_three_files_at_once_while_readers_search(
    stack: Stack, tmp_path: Path
) -> None:
    started = time.monotonic()
    files = [make_file(0), make_file(1)]
    files.append(make_file(2, repeat=files[0]))
    union = {key: want for bib in files for key, want in bib.entries.items()}
    # Hashed as the servers hash: the tests' quick MD5 hasher is not in their list.
    user = User.objects.create(
        username="importer", password=make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    )
    user.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
    # Signed in once, on the first server.
    signed_in = Visitor(stack.ports[0])
    token = signed_in.token("/accounts/login/")
    status, _ = signed_in.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": "importer", "password": PASSWORD},
    )
    assert status == 302, stack.logs()

    reads = Reads()
    readers = [
        threading.Thread(target=read_continuously, args=(port, reads), daemon=True)
        for port in stack.ports
    ]
    for reader in readers:
        reader.start()
    # The three files at once, each uploaded through a server in turn.
    batches: dict[str, int] = {}
    errors: list[str] = []

    def upload(bib: BibFile, port: int) -> None:
        visitor = Visitor(*stack.ports, cookies=signed_in.cookies)
        try:
            batches[bib.name] = upload_and_import(visitor, bib, port)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(f"{bib.name}: {error!r}")

    uploaders = [
        threading.Thread(target=upload, args=(bib, stack.ports[n % 2]))
        for n, bib in enumerate(files)
    ]
    for uploader in uploaders:
        uploader.start()
    for uploader in uploaders:
        uploader.join(150)
    assert (errors, len(batches)) == ([], 3), f"{errors}\n{stack.logs()}"

    def imported() -> bool:
        jobs = ImportBatch.objects.filter(pk__in=batches.values())
        states = list(jobs.values_list("source_name", "status", "error"))
        if any(status in ("failed", "cancelled") for _, status, _ in states):
            pytest.fail(f"{states}\n{stack.logs('worker-1', 'worker-2')}")
        return {status for _, status, _ in states} == {"done"}

    wait_for(imported, 120, "the imports to finish", every=0.5)
    imported_after = time.monotonic() - started
    time.sleep(1)  # the readers see the finished catalogue too
    reads.stop.set()
    for reader in readers:
        reader.join(60)

    # The catalogue holds the union of the files, each thing once.
    assert set(Article.objects.values_list("citation_key", flat=True)) == set(union)
    assert Article.objects.count() == len(union)
    counts = ImportBatch.objects.filter(pk__in=batches.values()).values_list(
        "created_count", "unchanged_count", "updated_count", "failed_count"
    )
    created, unchanged, updated, failed = (sum(column) for column in zip(*counts, strict=True))
    assert (created, unchanged, updated, failed) == (len(union), REPEATED, 0, 0)
    authors: dict[str, list[str]] = defaultdict(list)
    for key, normalised in Authorship.objects.order_by("article_id", "position").values_list(
        "article__citation_key", "author__normalised"
    ):
        authors[key].append(normalised)
    keywords: dict[str, set[str]] = defaultdict(set)
    for key, normalised in ArticleKeyword.objects.values_list(
        "article__citation_key", "keyword__normalised"
    ):
        keywords[key].add(normalised)
    held = {
        key: Expected(journal, tuple(authors[key]), frozenset(keywords[key]))
        for key, journal in Article.objects.values_list("citation_key", "journal__normalised")
    }
    assert held == union
    for model, links in (
        (Author, Counter(a for want in union.values() for a in want.authors)),
        (Keyword, Counter(k for want in union.values() for k in want.keywords)),
        (Journal, Counter(want.journal for want in union.values())),
    ):
        assert dict(model.objects.values_list("normalised", "article_count")) == dict(links)
        real = model.objects.annotate(real=Count("articles", distinct=True))
        assert list(real.exclude(article_count=F("real")).values_list("normalised")) == []
    assert list((tmp_path / "media").rglob("*.bib")) == [], "imported uploads are deleted"

    # Every read was answered, and both servers show the finished catalogue.
    statuses = reads.statuses()
    assert statuses == {200: len(reads.seen)}, [r for r in reads.seen if r.status != 200][:20]
    reader = Visitor(*stack.ports)
    for port in stack.ports:
        for bib in files:
            mine = sum(1 for key in union if key.startswith(bib.topic[:5]))
            assert shown_count(reader, f"/?q={bib.topic}", port) == mine, (port, bib.topic)
        assert shown_count(reader, "/", port) == len(union), port

    # Both workers imported, and two imports ran at the same time.
    imports = list(
        DBTaskResult.objects.filter(task_path="catalogue.tasks.run_import").values_list(
            "worker_ids", "started_at", "finished_at", "status"
        )
    )
    assert [status for *_, status in imports] == ["SUCCESSFUL"] * 3
    assert {worker for worker_ids, *_ in imports for worker in worker_ids} == {
        "worker-1",
        "worker-2",
    }
    assert any(a[1] < b[1] < a[2] for a in imports for b in imports if a is not b), imports
    # ... and the readers were answered by both servers meanwhile.
    during = reads.per_port(min(i[1] for i in imports), max(i[2] for i in imports))
    assert during.keys() == set(stack.ports), (during, imports)
    tasks = Counter(
        (path.rsplit(".", 1)[1], ",".join(worker_ids))
        for path, worker_ids in DBTaskResult.objects.values_list("task_path", "worker_ids")
    )

    # Everything stops on SIGTERM, a worker once its job is done; nothing went wrong.
    assert stack.stop() == dict.fromkeys(stack.processes, 0), stack.logs()
    failed = [name for name in stack.processes if "Traceback" in stack.log(name)]
    assert failed == [], stack.logs(*failed)

    slowest = max(read.seconds for read in reads.seen)
    first = min(i[1] for i in imports)
    runs = [
        f"{','.join(w)} {(a - first).total_seconds():.1f}-{(b - first).total_seconds():.1f} s"
        for w, a, b, _ in sorted(imports, key=lambda i: i[1])
    ]
    print(
        f"\nscale-out: {len(union)} articles from {sum(len(b.entries) for b in files)} entries;"
        f" tasks {dict(tasks)}; {len(reads.seen)} reads {dict(statuses)}"
        f" ({dict(reads.per_port())} by port, {dict(during)} while importing),"
        f" slowest {slowest:.2f} s;"
        f" imports ran {runs}; all done {imported_after:.1f} s after the start;"
        f" test {time.monotonic() - started:.1f} s"
    )


def shown_count(visitor: Visitor, path: str, port: int) -> int:
    """The "N articles" a list page shows."""
    status, html = visitor.get(path, port=port)
    assert status == 200, (path, status)
    match = RESULT_COUNT.search(html)
    assert match, f"no count on {path}"
    return int(match.group(1).replace(",", ""))


# The load balancer's health check ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "host", ["catalogue.example.org", "10.0.0.5:8000"], ids=["site-host", "backend-address"]
)
def test_a_load_balancer_health_check_over_plain_http_gets_200(host: str) -> None:
    with override_settings(
        DEBUG=False,
        ALLOWED_HOSTS=["catalogue.example.org"],
        SECURE_SSL_REDIRECT=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    ):
        response = Client(HTTP_HOST=host).get("/health/")

    assert (response.status_code, response.content) == (200, b"ok")


# The facet index, asked for by every web process ------------------------------------


@pytest.mark.django_db
def test_the_facet_index_is_not_built_again_for_the_version_it_is_at(
    import_text: Callable[..., ImportBatch],
) -> None:
    import_text(entry("k1", title="Cryoanalgesia", year="2020", journal="Pain Medicine"))
    built = facet_index.build()
    assert built is not None

    # What a request to another web process does at the same version: ask again
    # (the tests' task backend runs the job at once).
    facet_index.build_facet_index.enqueue()

    held = FacetBitmap.objects.filter(facet="all").values_list("version", "build")
    assert list(held) == [(built.version, built.build)]
