"""How fast are search and browsing on a large catalogue?

    .venv/bin/python bench/query_speed.py                        # 10k, 100k, 1M
    .venv/bin/python bench/query_speed.py --sizes 10k --databases sqlite

For each size and database a fresh, migrated database is filled by
`manage.py generate_catalogue SIZE --seed SEED` (whose rate is reported too),
then a fixed mix of pages is requested through Django's test `Client` with
DEBUG=0, as production serves them: the time of the whole request and
response (middleware, queries, template), p50 and p95 over `--repeats` rounds,
and the number of SQL queries each page makes. The mix, with the terms that
generate_catalogue documents:

    no filters              /
    rare, medium and very   /?q=<rare term>  /?q=<~4% term>  /?q=<>90% term>
      common search term
    keyword filter          /?keyword=<most common keyword>
    journal filter          /?journal=<busiest journal>
    term, keyword, years    /?q=<~4% term>&keyword=<most common>&year_min=2010&year_max=2020
    deep page               /?page=2000 (the last page when there are fewer)
    keyword, journal and    /keywords/<most common>/  /journals/<busiest>/
      author pages          /authors/<most prolific>/
    article detail          /articles/<the middle article>/

The most common keyword, busiest journal and most prolific author are looked
up in the generated catalogue (untimed). Each (size, database) runs in a
fresh process. PostgreSQL is the server in DATABASE_URL when that points at
PostgreSQL (run under scripts/with-postgres); otherwise this script runs its
PostgreSQL pass under scripts/with-postgres itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    database_url,
    default_databases,
    drop_database,
    is_postgres,
    log,
    percentile,
    work_folder,
)

ROOT = Path(__file__).resolve().parent.parent
WITH_POSTGRES = ROOT / "scripts" / "with-postgres"
PAGE = re.compile(rb"Page (\d+) of (\d+)")


# -- the worker: one size on one database, in one process ---------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalogue.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _fill(size: int, seed: int) -> dict[str, Any]:
    """Migrate, and generate the catalogue unless a kept one is there already."""
    from django.core.management import call_command

    from catalogue.models import Article

    call_command("migrate", verbosity=0)
    held = Article.objects.count()
    if held == size:
        generated: dict[str, Any] = {"reused": True}
    elif held:
        raise RuntimeError(f"the database holds {held} articles, not 0 or {size}")
    else:
        started = time.perf_counter()
        call_command("generate_catalogue", size, seed=seed, verbosity=0)
        seconds = time.perf_counter() - started
        generated = {"reused": False, "seconds": seconds, "articles_per_s": size / seconds}
    # As the background worker would after the catalogue changed.
    started = time.perf_counter()
    call_command("build_facet_index", verbosity=0, stdout=io.StringIO())
    generated["facet_index_seconds"] = time.perf_counter() - started
    # The build's writes go to disk now, not in the background while pages
    # are timed: the first rounds at a million were otherwise the slowest.
    os.sync()
    return generated


def _database_bytes() -> int:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
    name = Path(connection.settings_dict["NAME"])
    return sum(p.stat().st_size for p in name.parent.glob(name.name + "*"))


def query_mix() -> list[tuple[str, str]]:
    """(name, URL) of every page the benchmark requests."""
    from django.db.models import Count

    from catalogue.management.commands.generate_catalogue import (
        COMMON_TERMS,
        MEDIUM_TERM,
        RARE_TERMS,
    )
    from catalogue.models import Article, ArticleKeyword, Author, Authorship, Journal, Keyword

    def top(queryset: Any, field: str) -> Any:
        return queryset.values(field).annotate(n=Count("pk")).order_by("-n", field)[0][field]

    keyword = Keyword.objects.get(pk=top(ArticleKeyword.objects.all(), "keyword")).slug
    journal = Journal.objects.get(pk=top(Article.objects.filter(journal__isnull=False), "journal"))
    author = Author.objects.get(pk=top(Authorship.objects.all(), "author")).slug
    ids = Article.objects.order_by("pk").values_list("pk", flat=True)
    middle = ids.filter(pk__gte=(ids.first() + ids.last()) // 2).first()
    return [
        ("no filters", "/"),
        ("rare term", f"/?q={RARE_TERMS[0]}"),
        ("medium term (~4%)", f"/?q={MEDIUM_TERM}"),
        ("common term (>90%)", f"/?q={COMMON_TERMS[0]}"),
        ("keyword filter", f"/?keyword={keyword}"),
        ("journal filter", f"/?journal={journal.slug}"),
        (
            "term + keyword + years",
            f"/?q={MEDIUM_TERM}&keyword={keyword}&year_min=2010&year_max=2020",
        ),
        ("page 2,000", "/?page=2000"),
        ("keyword page", f"/keywords/{keyword}/"),
        ("journal page", f"/journals/{journal.slug}/"),
        ("author page", f"/authors/{author}/"),
        ("article detail", f"/articles/{middle}/"),
    ]


def _matches(url: str) -> int:
    """How many articles the page lists in all (untimed)."""
    from django.http import QueryDict

    from catalogue.filters import ArticleFilter
    from catalogue.models import Article, Author, Journal, Keyword

    path, _, query = url.partition("?")
    parts = path.strip("/").split("/")
    if path == "/":
        return ArticleFilter(QueryDict(query), queryset=Article.objects.all()).qs.count()
    if parts[0] == "keywords":
        return (
            Keyword.objects.get(slug=parts[1]).article_keywords.values("article").distinct().count()
        )
    if parts[0] == "journals":
        return Journal.objects.get(slug=parts[1]).articles.count()
    if parts[0] == "authors":
        return Author.objects.get(slug=parts[1]).articles.count()
    return 1


def _measure(repeats: int, budget: float) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # The time to make each page, not to fetch it from the page cache, which
    # would answer every repeat (bench/load.py measures the server with it).
    settings.CATALOGUE_PAGE_CACHE_ENTRIES = 0
    client = Client()
    results = []
    for name, url in query_mix():
        # The first request warms caches (templates, the OS's file cache, the
        # process's copy of the facet index, the search's bitmap) and counts
        # the queries. Its time is reported apart, as "first".
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, secure=True)
        first_ms = (time.perf_counter() - started) * 1000
        page = PAGE.search(response.content)
        results.append(
            {
                "name": name,
                "url": url,
                "status": response.status_code,
                "sql_queries": len(captured.captured_queries),
                "bytes": len(response.content),
                "page": f"{int(page[1]):,} of {int(page[2]):,}" if page else "",
                "matches": _matches(url),
                "first_ms": first_ms,
                "ms": [],
            }
        )
    # Rounds over the whole mix, so that noise spreads over every query.
    for _ in range(repeats):
        for result in results:
            if sum(result["ms"]) / 1000 > budget:
                continue
            started = time.perf_counter()
            response = client.get(result["url"], secure=True)
            result["ms"].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                result["status"] = response.status_code
    return results


def worker(size: int, seed: int, repeats: int, budget: float) -> None:
    """Fill the database in DATABASE_URL and print the measurements as one JSON line."""
    try:
        _setup_django()
        from django.db import connection

        generation = _fill(size, seed)
        result: dict[str, Any] = {
            "generation": generation,
            "database_bytes": _database_bytes(),
            "queries": _measure(repeats, budget),
        }
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                result["server"] = cursor.fetchone()[0].split()[0]
        else:
            result["server"] = sqlite3.sqlite_version
    except Exception as error:  # reported in the table, not a crash of the whole run
        result = {"error": f"{type(error).__name__}: {error}"[:300]}
    print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator ----------------------------------------------------------


def _env(workdir: Path, database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=str(workdir / "static"),
        LOG_LEVEL="ERROR",
        DATABASE_URL=database_url,
    )


def _collectstatic(workdir: Path) -> None:
    """DEBUG=0 serves hashed static file names from a manifest: make one."""
    if (workdir / "static" / "staticfiles.json").exists():
        return
    env = _env(workdir, os.environ.get("DATABASE_URL", "sqlite:///:memory:"))
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(command, env=env, cwd=ROOT, check=True)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.keep = args.workdir is not None
        self.results: dict[str, Any] = {"runs": []}

    def _database(self, kind: str, size: int) -> str:
        """The URL of the database for a size: kept ones are reused, others fresh."""
        name = f"bench_query_{size}_seed{self.args.seed}"
        return database_url(kind, name, self.workdir, keep=self.keep)

    def measure(self, kind: str, size: int) -> None:
        args = self.args
        url = self._database(kind, size)
        log(f"{size:,} articles on {kind}: generating and measuring")
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(size)]
        command += ["--seed", str(args.seed), "--repeats", str(args.repeats)]
        command += ["--budget", str(args.budget)]
        process = subprocess.run(
            command, env=_env(self.workdir, url), cwd=ROOT, capture_output=True, text=True
        )
        result: dict[str, Any] = {}
        for line in reversed(process.stdout.splitlines()):
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
                break
        else:
            tail = (process.stderr or process.stdout).strip().splitlines()[-3:]
            result = {"error": f"exit status {process.returncode}: {' | '.join(tail)}"[:300]}
        result.update(size=size, database=kind)
        self.results["runs"].append(result)
        if "error" in result:
            log(f"  failed: {result['error']}")
        elif not result["generation"]["reused"]:
            generation = result["generation"]
            log(
                f"  generated in {generation['seconds']:.1f} s"
                f" ({generation['articles_per_s']:,.0f} articles/s)"
            )
        if not self.keep:
            drop_database(kind, url)

    def run(self) -> None:
        _collectstatic(self.workdir)
        for kind in self.args.databases:
            if kind == "postgres" and not is_postgres(os.environ.get("DATABASE_URL", "")):
                self._postgres_pass()
                continue
            for size in sorted(self.args.sizes):
                self.measure(kind, size)

    def _postgres_pass(self) -> None:
        """This script again, under scripts/with-postgres, for PostgreSQL only."""
        out = self.workdir / "postgres-results.json"
        out.unlink(missing_ok=True)
        args = self.args
        command = [
            str(WITH_POSTGRES), sys.executable, str(Path(__file__).resolve()),
            "--databases", "postgres", "--sizes", ",".join(map(str, args.sizes)),
            "--seed", str(args.seed), "--repeats", str(args.repeats),
            "--budget", str(args.budget), "--workdir", str(self.workdir),
            "--json", str(out), "--quiet",
        ]  # fmt: skip
        log("PostgreSQL pass: " + shlex.join(command))
        status = subprocess.run(command, cwd=ROOT).returncode
        if status != 0 or not out.exists():
            log(f"the PostgreSQL pass failed (exit status {status}); PostgreSQL rows are missing")
            return
        self.results["runs"] += json.loads(out.read_text())["runs"]


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "–" if value is None else f"{value:{spec}}"


def table(results: dict[str, Any]) -> str:
    runs = sorted(
        results["runs"], key=lambda r: (r["size"], ("sqlite", "postgres").index(r["database"]))
    )
    lines = [
        "| size | database | generated in | articles/s | facet index built in | database size |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        generation = run.get("generation", {})
        if "error" in run:
            lines.append(f"| {run['size']:,} | {run['database']} | failed: {run['error']} | | | |")
            continue
        if generation["reused"]:
            took, rate = "reused", "–"
        else:
            took = f"{generation['seconds']:,.1f} s"
            rate = f"{generation['articles_per_s']:,.0f}"
        lines.append(
            f"| {run['size']:,} | {run['database']} {run['server']} | {took} | {rate}"
            f" | {_fmt(generation.get('facet_index_seconds'), ',.1f')} s"
            f" | {run['database_bytes'] / 2**20:,.0f} MB |"
        )
    lines += [
        "",
        "| size | database | query | matches | SQL queries | runs | p50 ms | p95 ms | first ms"
        " | URL |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for q in run.get("queries", []):
            note = "" if q["status"] == 200 else f" (status {q['status']})"
            if q["name"].startswith("page ") and q["page"]:
                note += f" (page {q['page']})"
            lines.append(
                f"| {run['size']:,} | {run['database']} | {q['name']}{note} | {q['matches']:,}"
                f" | {q['sql_queries']} | {len(q['ms'])} | {_fmt(percentile(q['ms'], 50), ',.1f')}"
                f" | {_fmt(percentile(q['ms'], 95), ',.1f')}"
                f" | {_fmt(q.get('first_ms'), ',.0f')} | `{q['url']}` |"
            )
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    units = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        factor = units.get(item[-1:], 1)
        sizes.append(int(float(item.rstrip("km")) * factor))
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="comma-separated article counts, e.g. 10000,100000 or 10k,1m",
    )
    parser.add_argument(
        "--databases",
        type=lambda s: s.split(","),
        default=None,
        help="sqlite,postgres (default: sqlite, and postgres when available)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="stop repeating a page once its requests took this many seconds in all",
    )
    parser.add_argument("--seed", type=int, default=1, help="generate_catalogue's seed")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the generated databases (and reuse them) here; SQLite files, and"
        " PostgreSQL databases bench_query_<size>_seed<seed> on a lasting server",
    )
    parser.add_argument("--json", type=Path, help="also write every single timing here")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        worker(args.worker, args.seed, args.repeats, args.budget)
        return
    if args.databases is None:
        args.databases = default_databases()
    started = time.perf_counter()
    with work_folder(args.workdir, "catalogue-query-bench-") as workdir:
        bench = Bench(args, workdir)
        bench.run()
    results = bench.results
    results["command"] = shlex.join([".venv/bin/python", "bench/query_speed.py", *sys.argv[1:]])
    results["seconds"] = time.perf_counter() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.quiet:
        return
    print(table(results))
    print(f"\nCommand: {results['command']}")
    print(
        f"Total {results['seconds'] / 60:.1f} min; {os.cpu_count()} CPUs;"
        f" load average at the end {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]};"
        f" {args.repeats} timed requests per page (fewer past --budget {args.budget:.0f} s)."
    )


if __name__ == "__main__":
    main()
