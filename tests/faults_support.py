"""Real processes on a throwaway SQLite file, for tests/test_faults.py.

A `Site` is a migrated database file, a media folder and the environment
that points `manage.py`, `db_worker` and gunicorn at them. The test kills
those processes with SIGKILL and looks at the file with the `sqlite3`
module (`Site.health`), as an operator would after a crash.

What a user does between kills (upload, press Import, open the job's page,
press Resume) goes through a `Controller`: one long-lived
`python -m tests.faults_support` process that calls `catalogue.tasks` and
the job's page with Django's test client, so each step does not pay for
Django's start-up.

Some faults need to land at one exact moment inside a process. The
processes started with `tests.faults_settings` install `FaultsConfig`,
whose hooks do nothing unless their variable is set:

- `FAULT_KILL_ON_TASK_STARTED=catalogue.tasks.run_import`: the worker
  SIGKILLs itself when django-tasks says it has claimed that task, before
  the task's code runs.
- `FAULT_KILL_BEFORE_CREATING=catalogue.ImportBatch`, `FAULT_KILL_AFTER_CREATING=...`:
  the process SIGKILLs itself right before, or right after, the INSERT of
  such a row.
- `FAULT_DISK_FULL_FLAG=/path`: once that file exists, each database
  connection of the process may not grow the file beyond its size at that
  moment (`PRAGMA max_page_count`): SQLite then fails writes with
  SQLITE_FULL, "database or disk is full", as on a full disk.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from django.apps import AppConfig

ROOT = Path(__file__).resolve().parent.parent
WORKER_ARGS = ("db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1")
FAULT_SETTINGS = "tests.faults_settings"
# All the processes get from the test's environment: none of the settings a
# developer's shell may hold (DATABASE_URL, DEBUG, ...) leaks into them.
INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.01) -> Any:
    """Poll `condition` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: no log)"
    return f"--- {path.name} ---\n" + "\n".join(
        path.read_text(errors="replace").splitlines()[-lines:]
    )


class Site:
    """A migrated SQLite file, a media folder, and the processes started on them."""

    def __init__(self, folder: Path, *, template: Path | None = None, stale_seconds: int = 1):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.database = folder / "catalogue.sqlite3"
        self.media = folder / "media"
        self.tmp = folder / "tmp"
        self.tmp.mkdir(exist_ok=True)
        self.env = {k: os.environ[k] for k in INHERITED if k in os.environ}
        self.env.update(
            DATABASE_URL=f"sqlite:///{self.database}",
            MEDIA_ROOT=str(self.media),
            CATALOGUE_JOB_STALE_SECONDS=str(stale_seconds),
            ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        self.processes: list[subprocess.Popen[Any]] = []
        self.log_of: dict[int, Path] = {}
        if template is not None:
            shutil.copyfile(template, self.database)
        else:
            self.manage("migrate", "--verbosity", "0")
            with self.opened() as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # Processes ----------------------------------------------------------------

    def process_env(self, *, faults: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        env = {**self.env, **extra}
        if faults:
            env.update(faults, DJANGO_SETTINGS_MODULE=FAULT_SETTINGS)
        return env

    def manage(self, *args: str, timeout: float = 180, **env: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.process_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stderr[-3000:]}"
        return result.stdout

    def start(
        self,
        command: list[str],
        name: str,
        *,
        faults: dict[str, str] | None = None,
        session: bool = False,
        **env: str,
    ) -> subprocess.Popen[bytes]:
        """Start a process in the project folder; its output goes to `<name>-<n>.log`."""
        log = self.folder / f"{name}-{len(self.processes) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.process_env(faults=faults, **env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=session,
            )
        self.processes.append(process)
        self.log_of[process.pid] = log
        return process

    def worker(self, *, faults: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.start([sys.executable, "manage.py", *WORKER_ARGS], "worker", faults=faults)

    def run_worker_until_idle(self) -> str:
        """`db_worker --batch`: run what is queued, then exit."""
        return self.manage(*WORKER_ARGS, "--batch", "--verbosity", "0")

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL, as the OOM killer or `kill -9` would; wait until it is gone."""
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait(20)

    def logs(self) -> str:
        """The ends of the last few processes' logs, for assertion messages."""
        return "\n".join(tail(self.log_of[p.pid]) for p in self.processes[-4:])

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    if process.pid == os.getpgid(process.pid):  # its own session
                        os.killpg(process.pid, signal.SIGKILL)
                    else:
                        process.kill()
                process.wait(20)

    @contextmanager
    def controller(self) -> Iterator[Controller]:
        log = self.folder / f"controller-{len(self.processes) + 1}.log"
        with log.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults_support"],
                cwd=ROOT,
                env=self.process_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.processes.append(process)
        self.log_of[process.pid] = log
        controller = Controller(process, log)
        try:
            controller.wait_ready()
            yield controller
        finally:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(20)

    # The database file, read directly ----------------------------------------

    def connect(self, timeout: float = 20) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=timeout, isolation_level=None)

    @contextmanager
    def opened(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        try:
            yield db
        finally:
            db.close()

    def files(self) -> list[Path]:
        """The database file and the WAL files SQLite keeps next to it."""
        names = (self.database.name, f"{self.database.name}-wal", f"{self.database.name}-shm")
        return [self.folder / name for name in names if (self.folder / name).exists()]

    def job(self, pk: int) -> dict[str, Any]:
        """The batch's row and what the catalogue holds, from one snapshot."""
        with self.opened() as db:
            db.execute("BEGIN")
            row = db.execute(
                "SELECT status, processed_entries, total_entries, error, upload,"
                " created_count, updated_count, unchanged_count, failed_count, preview"
                " FROM catalogue_importbatch WHERE id = ?",
                (pk,),
            ).fetchone()
            articles = db.execute("SELECT COUNT(*) FROM catalogue_article").fetchone()[0]
            changes = db.execute(
                "SELECT COUNT(*) FROM catalogue_articlechange WHERE batch_id = ?", (pk,)
            ).fetchone()[0]
            tasks = db.execute(
                "SELECT task_path, status, args_kwargs FROM django_tasks_database_dbtaskresult"
                " ORDER BY enqueued_at"
            ).fetchall()
            db.execute("COMMIT")
        names = ("status", "processed", "total", "error", "upload", "created", "updated")
        job = dict(zip((*names, "unchanged", "failed"), row[:-1], strict=True))
        job.update(
            preview_total=json.loads(row[-1])["total"] if row[-1] else None,
            articles=articles,
            changes=changes,
            tasks=[
                (path.rsplit(".", 1)[-1], status)
                for path, status, args in tasks
                if json.loads(args).get("args") == [pk]
            ],
        )
        return job

    def health(self) -> list[str]:
        """What is wrong with the database file: [] when it is sound.

        SQLite's own checks (pages, indexes, foreign keys, the full-text
        index), then what triggers keep: one full-text row per article and
        the article counts of journals, authors and keywords.
        """
        problems = []
        with self.opened() as db:
            integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if integrity != ["ok"]:
                problems.append(f"integrity_check: {integrity[:5]}")
            if keys := db.execute("PRAGMA foreign_key_check").fetchall():
                problems.append(f"foreign_key_check: {keys[:5]}")
            try:
                db.execute(
                    "INSERT INTO catalogue_article_fts(catalogue_article_fts)"
                    " VALUES ('integrity-check')"
                )
            except sqlite3.DatabaseError as error:
                problems.append(f"full-text index: {error}")
            checks = {
                "full-text rows not matching articles": "SELECT (SELECT COUNT(*) FROM"
                " catalogue_article_fts) - (SELECT COUNT(*) FROM catalogue_article)",
                "articles missing from the full-text index": "SELECT COUNT(*) FROM"
                " catalogue_article a WHERE NOT EXISTS (SELECT 1 FROM catalogue_article_fts f"
                " WHERE f.rowid = a.id)",
                "journals with a wrong article_count": "SELECT COUNT(*) FROM catalogue_journal j"
                " WHERE article_count <> (SELECT COUNT(*) FROM catalogue_article a"
                " WHERE a.journal_id = j.id)",
                "authors with a wrong article_count": "SELECT COUNT(*) FROM catalogue_author x"
                " WHERE article_count <> (SELECT COUNT(DISTINCT article_id)"
                " FROM catalogue_authorship WHERE author_id = x.id)",
                "keywords with a wrong article_count": "SELECT COUNT(*) FROM catalogue_keyword x"
                " WHERE article_count <> (SELECT COUNT(DISTINCT article_id)"
                " FROM catalogue_articlekeyword WHERE keyword_id = x.id)",
            }
            db.execute("BEGIN")
            for what, sql in checks.items():
                if found := db.execute(sql).fetchone()[0]:
                    problems.append(f"{what}: {found}")
            db.execute("COMMIT")
        return problems

    def batches(self) -> list[tuple[int, str]]:
        with self.opened() as db:
            return db.execute("SELECT id, status FROM catalogue_importbatch ORDER BY id").fetchall()

    def citation_keys(self) -> list[str]:
        with self.opened() as db:
            return [k for (k,) in db.execute("SELECT citation_key FROM catalogue_article")]

    def stored_uploads(self) -> list[Path]:
        return sorted(p for p in self.media.rglob("*") if p.is_file())


class Watch:
    """Polls a running job from outside, as cheaply as possible."""

    def __init__(self, site: Site, pk: int):
        self.pk = pk
        self.db = site.connect()
        self.probe = site.connect(timeout=0)

    def row(self) -> tuple[str, int, int]:
        return self.db.execute(
            "SELECT status, processed_entries, total_entries FROM catalogue_importbatch"
            " WHERE id = ?",
            (self.pk,),
        ).fetchone()

    def writing(self) -> bool:
        """Whether some process holds the write lock (is inside a write transaction)."""
        try:
            self.probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        self.probe.execute("ROLLBACK")
        return False

    def close(self) -> None:
        self.db.close()
        self.probe.close()


class Controller:
    """Talks to `python -m tests.faults_support`: one JSON line each way."""

    def __init__(self, process: subprocess.Popen[str], log: Path):
        self.process = process
        self.log = log

    def wait_ready(self) -> None:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        assert line, f"the controller did not start:\n{tail(self.log)}"

    def __getattr__(self, op: str) -> Callable[..., Any]:
        def call(**args: Any) -> Any:
            self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
            line = self.process.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the controller died:\n{tail(self.log)}"
            reply = json.loads(line)
            assert "error" not in reply, reply.get("traceback", reply)
            return reply["result"]

        return call


# HTTP, as a browser does it ----------------------------------------------------

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """Cookies, CSRF tokens and redirects left to the caller: just enough HTTP."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                method, path, body=body, headers={"Cookie": self.cookie_header(), **(headers or {})}
            )
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        self.remember(response.headers)
        return response.status, response.headers, text

    def remember(self, headers: http.client.HTTPMessage) -> None:
        for value in headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def token(self, path: str) -> str:
        status, _, html = self.request("GET", path)
        assert status == 200, (path, status, html[:500])
        match = TOKEN.search(html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def log_in(self, username: str, password: str) -> None:
        token = self.token("/accounts/login/")
        body = f"csrfmiddlewaretoken={token}&username={username}&password={password}".encode()
        status, headers, html = self.request(
            "POST",
            "/accounts/login/",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302, (status, html[:1000])


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[str, bytes]:
    """A multipart/form-data body with these fields and one file; (content type, body)."""
    boundary = "----faults" + os.urandom(8).hex()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
        "\r\nContent-Type: application/x-bibtex\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def start_post(browser: Browser, path: str, content_type: str, length: int) -> socket.socket:
    """Open a connection and send a POST's headers; the caller sends the body."""
    sock = socket.create_connection(("127.0.0.1", browser.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{browser.port}\r\n"
        f"Cookie: {browser.cookie_header()}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """The status and headers of the response on `sock` (HTTP/1.1, Connection: close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed without a response: {data[:200]!r}")
        data += piece
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        key, _, value = line.partition(":")
        headers.setdefault(key.strip().lower(), value.strip())
    return status, headers


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


# Fault hooks (in processes started with tests.faults_settings) -------------------


class FaultsConfig(AppConfig):
    name = "tests.faults_support"
    label = "faults_support"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save, pre_save
        from django_tasks.signals import task_started

        if os.environ.get("FAULT_KILL_ON_TASK_STARTED"):
            task_started.connect(_kill_on_task_started, weak=False)
        if model := os.environ.get("FAULT_KILL_BEFORE_CREATING"):
            pre_save.connect(_kill_before_creating, sender=model, weak=False)
        if model := os.environ.get("FAULT_KILL_AFTER_CREATING"):
            post_save.connect(_kill_after_creating, sender=model, weak=False)
        if os.environ.get("FAULT_DISK_FULL_FLAG"):
            connection_created.connect(_limit_growth, weak=False)


def _die() -> None:
    sys.stderr.write(f"faults: SIGKILL to myself ({os.getpid()})\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_on_task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    if task_result.task.module_path == os.environ["FAULT_KILL_ON_TASK_STARTED"]:
        _die()


def _kill_before_creating(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance._state.adding:
        _die()


def _kill_after_creating(sender: Any, created: bool, **kwargs: Any) -> None:
    if created:
        _die()


def _limit_growth(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Once the flag file exists, the file may not grow: SQLITE_FULL, as on a full disk."""
    if connection.vendor != "sqlite":
        return
    flag = Path(os.environ["FAULT_DISK_FULL_FLAG"])
    limited = False

    def limit_growth(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        nonlocal limited
        if not limited and flag.exists():
            raw = context["connection"].connection
            (pages,) = raw.execute("PRAGMA page_count").fetchone()
            raw.execute(f"PRAGMA max_page_count = {pages}")
            limited = True
        return execute(sql, params, many, context)

    # One wrapper per connection: the last one made its own.
    wrappers = connection.execute_wrappers
    wrappers[:] = [w for w in wrappers if getattr(w, "__name__", "") != "limit_growth"]
    wrappers.append(limit_growth)


# The controller (python -m tests.faults_support) -------------------------------


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """Do what the test asks, one JSON line at a time, as the web app would."""
    import django

    django.setup()
    from django.core.files import File
    from django.db import close_old_connections
    from django.test import Client
    from django.utils.html import escape

    from catalogue import tasks
    from catalogue.models import ImportBatch

    client = Client()

    def job(batch: ImportBatch) -> dict[str, Any]:
        batch.refresh_from_db()
        return {
            "status": batch.status,
            "error": batch.error,
            "processed": batch.processed_entries,
            "can_resume": tasks.can_resume(batch),
        }

    def user(username: str, password: str = "") -> int:
        from django.contrib.auth.models import Permission, User

        person = User.objects.create_user(username, password=password or None)
        person.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
        return person.pk

    def log_in(username: str) -> None:
        from django.contrib.auth.models import User

        client.force_login(User.objects.get(username=username))

    def upload(path: str, name: str) -> int:
        with open(path, "rb") as file:
            return tasks.create_upload(File(file, name=name), name=name, user=None).pk

    def previewed(path: str, name: str, total: int) -> int:
        """A batch as it stands once its preview is ready (the preview's counts aside)."""
        batch = ImportBatch(source_name=name, status=ImportBatch.Status.PREVIEWED)
        batch.preview = {"total": total}
        with open(path, "rb") as file:
            batch.upload.save(name, File(file, name=name), save=True)
        return batch.pk

    def start(pk: int) -> bool:
        return tasks.start_import(ImportBatch.objects.get(pk=pk))

    def recover(pk: int) -> dict[str, Any]:
        """What the user does on the job's page: read it; press Resume if it is there."""
        html = client.get(f"/imports/{pk}/").content.decode()
        batch = ImportBatch.objects.get(pk=pk)
        seen = job(batch)
        seen["resume_button"] = f'action="/imports/{pk}/resume/"' in html
        seen["error_shown"] = bool(batch.error) and escape(batch.error) in html
        seen["resumed"] = False
        if seen["resume_button"]:
            response = client.post(f"/imports/{pk}/resume/")
            seen["resumed"] = response.status_code == 302 and job(batch)["status"] in (
                ImportBatch.Status.PENDING,
                ImportBatch.Status.QUEUED,
            )
        return seen

    ops = {f.__name__: f for f in (user, log_in, upload, previewed, start, recover)}
    print(json.dumps({"ready": True}), file=stdout, flush=True)
    for line in stdin:
        request = json.loads(line)
        try:
            reply = {"result": ops[request.pop("op")](**request)}
        except Exception as error:
            reply = {"error": repr(error), "traceback": traceback.format_exc()}
        finally:
            close_old_connections()  # as after a request: CONN_MAX_AGE is 0 on SQLite
        print(json.dumps(reply, default=str), file=stdout, flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalogue.settings")
    serve(sys.stdin, sys.stdout)
