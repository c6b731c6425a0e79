"""How does the catalogue hold up under many clients at once, served as in production?

    .venv/bin/python bench/load.py                                # 100k articles, 50 clients, 60 s
    .venv/bin/python bench/load.py --size 10k --duration 15 --databases sqlite
    .venv/bin/python bench/load.py --size 10k --duration 15 --imports 3
    .venv/bin/python bench/load.py --database-url sqlite:////srv/catalogue/copy.sqlite3

For each database: a catalogue (the one in --database-url, or one made by
`manage.py generate_catalogue SIZE --seed SEED` and `build_facet_index`,
reused from --workdir when it is there), `collectstatic` into the work
directory, then gunicorn with the repository's gunicorn.conf.py on a free
loopback port with DEBUG=0, and beside it `manage.py db_worker`, as the
Procfile runs them. wrk then keeps --clients connections busy for
--duration seconds (after --warmup seconds that are not counted), each
request a page picked at random from bench/query_speed.py's `query_mix()`;
"article detail" is a random one of 500 articles rather than always the
same. Reported: requests/s, latency p50/p95/p99 as the clients saw it,
non-2xx responses and socket errors; and per page the time gunicorn's access
log gives (the server's side, without the wait in the listen queue).

`--imports N` also starts N `manage.py import_bibtex` processes, each with a
different generated Scopus-style file (bench/generate.py, --import-entries
each), when the measured run starts, and reports for each whether it
completed, how long it took and how many "database is locked" errors it
met. The catalogue is then a copy, so a kept one stays as it was.

PostgreSQL is the server in DATABASE_URL when that points at PostgreSQL (run
under scripts/with-postgres); otherwise this script runs its PostgreSQL pass
under scripts/with-postgres itself. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402  (a sibling module, not a package)
    database_url,
    default_databases,
    drop_database,
    is_postgres,
    log,
    percentile,
    postgres_admin,
    work_folder,
)
from query_speed import (  # noqa: E402
    ROOT,
    WITH_POSTGRES,
    _setup_django,
    _sizes,
    query_mix,
)

DETAIL_SAMPLE = 500
# The access log line of gunicorn.conf.py: ... "GET /path HTTP/1.1" 200 1234 56ms ...
ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ (?P<ms>\d+)ms'
)
LOCKED = "database is locked"
SUMMARY = re.compile(r"\d+ created, \d+ updated")


# -- preparing a catalogue, in a process of its own ----------------------------


def prepare(generate: int, seed: int) -> None:
    """Make sure the catalogue in DATABASE_URL is ready; print its mix as one JSON line.

    With `generate`, an empty database is migrated and filled with that many
    articles; a database holding exactly that many is reused.
    """
    try:
        _setup_django()
        from django.core.management import call_command
        from django.db import connection

        from catalogue.models import Article

        generated: dict[str, Any] = {"reused": True}
        if generate:
            call_command("migrate", verbosity=0)
            held = Article.objects.count()
            if held not in (0, generate):
                raise RuntimeError(f"the database holds {held} articles, not 0 or {generate}")
            if not held:
                started = time.perf_counter()
                call_command("generate_catalogue", generate, seed=seed, verbosity=0)
                generated = {"reused": False, "seconds": time.perf_counter() - started}
        articles = Article.objects.count()
        if not articles:
            raise RuntimeError("the catalogue is empty (manage.py generate_catalogue N fills one)")
        # As the background worker does after a change; without it every page
        # counts its facets in SQL until the worker has built it.
        call_command("build_facet_index", verbosity=0)
        if connection.vendor == "postgresql":
            # What an operator does after a bulk load. Otherwise autovacuum
            # works through millions of new link rows during the measured
            # minute, taking a CPU from the server.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
        ids = list(Article.objects.values_list("pk", flat=True))
        sample = random.Random(seed).sample(ids, min(DETAIL_SAMPLE, len(ids)))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                server = "PostgreSQL " + cursor.fetchone()[0].split()[0]
        else:
            import sqlite3

            server = "SQLite " + sqlite3.sqlite_version
        result = {
            "articles": articles,
            "generated": generated,
            "server": server,
            "mix": query_mix(),
            "details": [f"/articles/{pk}/" for pk in sample],
        }
    except Exception as error:  # reported, not a crash of the whole run
        result = {"error": f"{type(error).__name__}: {error}"[:300]}
    print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _result_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return None


def _lua(mix: list[list[str]], details: list[str]) -> str:
    """A wrk script: each request a page of the mix, picked at random."""
    pages = [url if name != "article detail" else "" for name, url in mix]
    return f"""
local pages = {{{", ".join(json.dumps(p) for p in pages)}}}
local details = {{{", ".join(json.dumps(d) for d in details)}}}
local headers = {{["X-Forwarded-Proto"] = "https", ["Accept"] = "text/html"}}
local threads = {{}}
statuses = {{}}  -- global: done() reads each thread's through thread:get

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local path = pages[math.random(#pages)]
  if path == "" then
    path = details[math.random(#details)]
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {{}}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {{}}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "duration_us": %d, "bytes": %d,'
    .. ' "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f,'
    .. ' "errors": {{"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}},'
    .. ' "statuses": {{%s}}}}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ", ")))
end
"""


class Server:
    """gunicorn (with gunicorn.conf.py) and a db_worker on one database."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.port = 0
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[TextIO] = []

    def _start(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.out").open("w")
        err = (self.logs / f"{name}.err").open("w")
        self.files += [out, err]
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=out, stderr=err, start_new_session=True
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        for _attempt in range(3):  # a free port can be taken before gunicorn binds it
            self.port = _free_port()
            self.env["BIND"] = f"127.0.0.1:{self.port}"
            gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
            web = self._start([*gunicorn, "catalogue.wsgi"], "web")
            if self._wait_until_up(web):
                break
            self.stop()
        else:
            raise RuntimeError("gunicorn did not start: " + self.tail("web.err"))
        self._start([sys.executable, "manage.py", "db_worker", "--no-reload"], "worker")

    def _wait_until_up(self, web: subprocess.Popen[bytes], seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and web.poll() is None:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/health/", headers={"X-Forwarded-Proto": "https"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        return False

    def tail(self, name: str, lines: int = 5) -> str:
        text = (self.logs / name).read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def count(self, name: str, needle: str) -> int:
        path = self.logs / name
        return path.read_text(errors="replace").count(needle) if path.exists() else 0

    def stop(self) -> None:
        # SIGTERM: gunicorn lets requests finish (graceful_timeout), the
        # worker its current task; then they are killed.
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []
        for file in self.files:
            file.close()
        self.files = []


class Imports:
    """N `manage.py import_bibtex` processes, one file each, started together."""

    def __init__(self, files: list[Path], env: dict[str, str], logs: Path) -> None:
        self.files = files
        self.env = env
        self.logs = logs
        self.runs: list[dict[str, Any]] = []

    def start(self) -> None:
        for number, path in enumerate(self.files, 1):
            log = (self.logs / f"import-{number}.log").open("w")
            command = [sys.executable, "manage.py", "import_bibtex", "--no-progress", str(path)]
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            run = {"file": path.name, "process": process, "log": log, "started": time.monotonic()}
            # A thread per import notes when it ends, while wrk has the main thread.
            run["waiter"] = threading.Thread(target=self._time, args=[run], daemon=True)
            run["waiter"].start()
            self.runs.append(run)

    @staticmethod
    def _time(run: dict[str, Any]) -> None:
        run["process"].wait()
        run["seconds"] = time.monotonic() - run["started"]

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for run in self.runs:
            run["waiter"].join(max(0.0, deadline - time.monotonic()))
        for run in self.runs:
            process = run["process"]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
                run["waiter"].join()
                run["seconds"] = None  # stopped, not finished
            run["log"].close()

    def report(self, load_seconds: float) -> list[dict[str, Any]]:
        rows = []
        for number, run in enumerate(self.runs, 1):
            output = (self.logs / f"import-{number}.log").read_text(errors="replace")
            lines = [line for line in output.strip().splitlines() if line.strip()]
            # The command's summary ("N created, M updated, ..."), else its last words.
            summaries = [line for line in lines if SUMMARY.search(line)]
            seconds = run.get("seconds")
            rows.append(
                {
                    "file": run["file"],
                    "exit_status": run["process"].returncode,
                    "completed": seconds is not None and run["process"].returncode == 0,
                    "seconds": seconds,
                    "during_load": seconds is not None and seconds <= load_seconds,
                    "locked": output.count(LOCKED),
                    "last_line": (summaries or lines or [""])[-1][:160],
                }
            )
        return rows


def _wrk(url: str, script: Path, clients: int, seconds: float) -> dict[str, Any]:
    # One wrk thread: it needs a fraction of a core at these rates, and the
    # other cores are the server's. The timeout is far above any page, so
    # that slow pages are counted with their time, not dropped as timeouts.
    command = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "120s"]
    command += ["-s", str(script), url]
    process = subprocess.run(command, capture_output=True, text=True)
    result = _result_line(process.stdout)
    if result is None:
        raise RuntimeError(f"wrk failed (exit status {process.returncode}): {process.stderr}")
    return result


def _pages(access_log: Path, offset: int, mix: list[list[str]]) -> list[dict[str, Any]]:
    """Server-side times per page of the mix, from the access log past `offset`."""
    names = {url: name for name, url in mix}
    times: dict[str, list[int]] = {name: [] for name, _ in mix}
    failed: dict[str, int] = dict.fromkeys(times, 0)
    with access_log.open(errors="replace") as lines:
        lines.seek(offset)
        for line in lines:
            match = ACCESS.search(line)
            if not match or match["path"] == "/health/":
                continue
            path = match["path"]
            name = "article detail" if path.startswith("/articles/") else names.get(path)
            if name is None:
                continue
            times[name].append(int(match["ms"]))
            if not match["status"].startswith("2"):
                failed[name] += 1
    return [
        {
            "name": name,
            "requests": len(times[name]),
            "p50_ms": percentile(times[name], 50),
            "p95_ms": percentile(times[name], 95),
            "non_2xx": failed[name],
        }
        for name, _ in mix
    ]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.keep = args.workdir is not None
        self.runs: list[dict[str, Any]] = []

    def env(self, database_url: str) -> dict[str, str]:
        env = dict(
            os.environ,
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            STATIC_ROOT=str(self.workdir / "static"),
            DATABASE_URL=database_url,
            LOG_LEVEL="WARNING",
        )
        if self.args.workers:
            env["WEB_CONCURRENCY"] = str(self.args.workers)
        if self.args.threads:
            env["GUNICORN_THREADS"] = str(self.args.threads)
        return env

    # Databases: the same names as query_speed.py, so --workdir shares them.

    def _name(self) -> str:
        return f"bench_query_{self.args.size}_seed{self.args.seed}"

    def _catalogue(self, kind: str) -> str:
        return database_url(kind, self._name(), self.workdir, keep=self.keep)

    def _copy(self, kind: str, url: str) -> str:
        """A copy to import into, so that the kept catalogue stays as it was."""
        if kind == "sqlite":
            source = Path(url.removeprefix("sqlite:///"))
            target = self.workdir / "imports-copy.sqlite3"
            drop_database(kind, f"sqlite:///{target}")
            # The backup API copies a consistent database, WAL included.
            import sqlite3

            with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
                src.backup(dst)
            return f"sqlite:///{target}"
        name = f"{self._name()}_imports"
        with postgres_admin() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name}")
            connection.execute(f"CREATE DATABASE {name} TEMPLATE {self._name()}")
        return f"{url.rpartition('/')[0]}/{name}"

    def _prepare(self, url: str, generate: int) -> dict[str, Any]:
        command = [sys.executable, str(Path(__file__).resolve()), "--prepare", str(generate)]
        command += ["--seed", str(self.args.seed)]
        process = subprocess.run(
            command, cwd=ROOT, env=self.env(url), capture_output=True, text=True
        )
        result = _result_line(process.stdout)
        if result is None:
            tail = (process.stderr or process.stdout).strip().splitlines()[-3:]
            result = {"error": f"exit status {process.returncode}: {' | '.join(tail)}"[:300]}
        return result

    def _collectstatic(self) -> None:
        if (self.workdir / "static" / "staticfiles.json").exists():
            return
        command = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
        env = self.env("sqlite:///:memory:")
        subprocess.run(command, env=env, cwd=ROOT, check=True)

    def _bibtex_files(self) -> list[Path]:
        files = []
        for number in range(1, self.args.imports + 1):
            path = self.workdir / f"import-{self.args.import_entries}-seed{100 + number}.bib"
            if not path.exists():
                command = [sys.executable, "bench/generate.py", "--style", "scopus"]
                command += ["--entries", str(self.args.import_entries)]
                command += ["--seed", str(100 + number), "-o", str(path)]
                subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            files.append(path)
        return files

    def measure(self, kind: str, given_url: str | None) -> None:
        args = self.args
        run: dict[str, Any] = {"database": kind, "clients": args.clients}
        self.runs.append(run)
        if given_url:
            url = given_url
            log(f"{kind}: the catalogue in --database-url")
            prepared = self._prepare(url, 0)
        else:
            url = self._catalogue(kind)
            log(f"{kind}: {args.size:,} articles (generated unless kept in --workdir)")
            prepared = self._prepare(url, args.size)
        if "error" in prepared:
            run["error"] = prepared["error"]
            log(f"  failed: {run['error']}")
            return
        generated = prepared["generated"]
        if not generated["reused"]:
            log(f"  generated in {generated['seconds']:.1f} s")
        run.update(articles=prepared["articles"], server=prepared["server"])

        files = self._bibtex_files() if args.imports else []
        serve_url = self._copy(kind, url) if files and not given_url else url
        logs = self.workdir / f"logs-{kind}"
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir()
        env = self.env(serve_url)
        server = Server(env, logs)
        script = self.workdir / "mix.lua"
        script.write_text(_lua(prepared["mix"], prepared["details"]))
        try:
            server.start()
            run["workers"] = env.get("WEB_CONCURRENCY") or "default"
            run["threads"] = env.get("GUNICORN_THREADS") or "default"
            base = f"http://127.0.0.1:{server.port}"
            if args.warmup > 0:
                log(f"  warming up for {args.warmup:.0f} s (not counted)")
                _wrk(base, script, args.clients, args.warmup)
            offset = (logs / "web.out").stat().st_size
            imports = Imports(files, env, logs)
            imports.start()
            log(
                f"  {args.clients} clients for {args.duration:.0f} s"
                + (f", {len(files)} imports of {args.import_entries:,} entries" if files else "")
            )
            started = time.monotonic()
            run["load"] = _wrk(base, script, args.clients, args.duration)
            load_seconds = time.monotonic() - started
            run["loadavg"] = os.getloadavg()[0]
            if files:
                log("  waiting for the imports to finish")
                imports.wait(args.import_timeout)
                run["imports"] = imports.report(load_seconds)
            run["pages"] = _pages(logs / "web.out", offset, prepared["mix"])
        except Exception as error:
            run["error"] = f"{type(error).__name__}: {error}"[:300]
            log(f"  failed: {run['error']}")
        finally:
            server.stop()
        run["locked_web"] = server.count("web.err", LOCKED)
        run["locked_worker"] = server.count("worker.err", LOCKED)
        run["server_errors"] = server.count("web.err", "Internal Server Error")
        if serve_url != url:
            drop_database(kind, serve_url)
        if not self.keep and not given_url:
            drop_database(kind, url)

    def run(self) -> None:
        self._collectstatic()
        if self.args.database_url:
            kind = "postgres" if is_postgres(self.args.database_url) else "sqlite"
            self.measure(kind, self.args.database_url)
            return
        for kind in self.args.databases:
            if kind == "postgres" and not is_postgres(os.environ.get("DATABASE_URL", "")):
                self._postgres_pass()
            else:
                self.measure(kind, None)

    def _postgres_pass(self) -> None:
        """This script again, under scripts/with-postgres, for PostgreSQL only."""
        out = self.workdir / "postgres-results.json"
        out.unlink(missing_ok=True)
        args = self.args
        command = [
            str(WITH_POSTGRES), sys.executable, str(Path(__file__).resolve()),
            "--databases", "postgres", "--size", str(args.size), "--seed", str(args.seed),
            "--clients", str(args.clients), "--duration", str(args.duration),
            "--warmup", str(args.warmup), "--imports", str(args.imports),
            "--import-entries", str(args.import_entries),
            "--import-timeout", str(args.import_timeout),
            "--workdir", str(self.workdir), "--json", str(out), "--quiet",
        ]  # fmt: skip
        if args.workers:
            command += ["--workers", str(args.workers)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        log("PostgreSQL pass: " + shlex.join(command))
        status = subprocess.run(command, cwd=ROOT).returncode
        if status != 0 or not out.exists():
            log(f"the PostgreSQL pass failed (exit status {status}); PostgreSQL rows are missing")
            return
        self.runs += json.loads(out.read_text())["runs"]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| database | articles | workers × threads | clients | seconds | requests | requests/s"
        " | p50 ms | p95 ms | p99 ms | max ms | non-2xx | socket errors"
        " (connect/read/write/timeout) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        load = run.get("load")
        if load is None:
            lines.append(f"| {run['database']} | failed: {run.get('error', '?')} ||||||||||||")
            continue
        seconds = load["duration_us"] / 1e6
        ok = sum(n for status, n in load["statuses"].items() if status.startswith("2"))
        errors = load["errors"]
        socket_errors = "/".join(str(errors[k]) for k in ("connect", "read", "write", "timeout"))
        lines.append(
            f"| {run['server']} | {run['articles']:,} | {run['workers']} × {run['threads']}"
            f" | {run['clients']} | {seconds:.0f} | {load['requests']:,}"
            f" | {load['requests'] / seconds:,.1f} | {_ms(load['p50_us'] / 1000)}"
            f" | {_ms(load['p95_us'] / 1000)} | {_ms(load['p99_us'] / 1000)}"
            f" | {_ms(load['max_us'] / 1000)} | {load['requests'] - ok:,} | {socket_errors} |"
        )
    lines += [
        "",
        "Per page, as gunicorn timed it (from the start of the request to the end of the"
        " response; without the wait in the listen queue):",
        "",
        "| database | page | requests | p50 ms | p95 ms | non-2xx |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        for page in run.get("pages", []):
            lines.append(
                f"| {run['database']} | {page['name']} | {page['requests']:,}"
                f" | {_ms(page['p50_ms'])} | {_ms(page['p95_ms'])} | {page['non_2xx']:,} |"
            )
    if any("imports" in run for run in runs):
        lines += [
            "",
            "| database | import | completed | seconds | finished while the clients ran"
            f' | "{LOCKED}" | its summary (or last line) |',
            "|---|---|---|---:|---|---:|---|",
        ]
        for run in runs:
            for row in run.get("imports", []):
                if row["completed"]:
                    completed = "yes"
                elif row["seconds"] is None:
                    completed = "no (stopped at --import-timeout)"
                else:
                    completed = f"no (exit status {row['exit_status']})"
                last = row["last_line"].replace("|", "\\|")
                lines.append(
                    f"| {run['database']} | {row['file']} | {completed} | {_ms(row['seconds'])}"
                    f" | {'yes' if row['during_load'] else 'no'} | {row['locked']} | {last} |"
                )
    lines.append("")
    for run in runs:
        if "locked_web" in run:
            lines.append(
                f"{run['database']}, over the whole run (warm-up and imports included):"
                f" {run['server_errors']} server errors (500) logged by the web server;"
                f' "{LOCKED}" {run["locked_web"]} times in its log and'
                f" {run['locked_worker']} times in the background worker's."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size",
        type=lambda s: _sizes(s)[0],
        default=100_000,
        help="articles to generate, e.g. 10k or 100000 (default 100k)",
    )
    parser.add_argument("--seed", type=int, default=1, help="generate_catalogue's seed")
    parser.add_argument(
        "--database-url",
        help="measure this catalogue instead of generating one (it is not migrated;"
        " with --imports it is written to)",
    )
    parser.add_argument(
        "--databases",
        type=lambda s: s.split(","),
        default=None,
        help="sqlite,postgres (default: sqlite, and postgres when available)",
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load not counted")
    parser.add_argument("--workers", type=int, help="WEB_CONCURRENCY (default: the config's)")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS (default: the config's)")
    parser.add_argument(
        "--imports", type=int, default=0, help="import_bibtex processes run during the load"
    )
    parser.add_argument("--import-entries", type=int, default=2000, help="entries per import")
    parser.add_argument(
        "--import-timeout",
        type=float,
        default=900,
        help="seconds to wait for the imports after the load ends; then they are stopped",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the generated catalogues, BibTeX files and logs here, and reuse them"
        " (the same catalogues as query_speed.py --workdir)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare is not None:
        prepare(args.prepare, args.seed)
        return
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    if args.databases is None:
        args.databases = default_databases()
    started = time.perf_counter()
    with work_folder(args.workdir, "catalogue-load-") as workdir:
        bench = Bench(args, workdir)
        bench.run()
    command = shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])
    if args.json:
        args.json.write_text(json.dumps({"command": command, "runs": bench.runs}, indent=1))
    if args.quiet:
        return
    print(table(bench.runs))
    print(f"\nCommand: {command}")
    loads = ", ".join(f"{run['loadavg']:.1f}" for run in bench.runs if "loadavg" in run)
    print(
        f"Total {(time.perf_counter() - started) / 60:.1f} min; {os.cpu_count()} CPUs, shared"
        " by the server, wrk and any imports; load average at the end of each measured run:"
        f" {loads or '–'}."
    )


if __name__ == "__main__":
    main()
