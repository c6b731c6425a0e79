"""How fast does the catalogue import BibTeX, next to bibtexparser alone?

    .venv/bin/python bench/import_speed.py                       # 10k, 100k, 1M
    .venv/bin/python bench/import_speed.py --sizes 10000,100000  # quicker

For each size one synthetic file is generated (bench/generate.py) and, on
that same file, measured:

(a) bare parse: `bibtexparser.parse_string(text)` with its default middlewares;
(r) the catalogue's own reader alone (`read_bibtex`, or `iter_bibtex` when
    the code has it), to split import time into reading and storing;
(b) a full import into a fresh, migrated database (`import_file` when the
    importer has it, else `import_bibtex`), with the peak RSS of that process
    plus that of the process that reads the file for it, if there is one;
(c) a re-import of the unchanged file into the same database, which must
    create and update nothing.

Every measurement runs in a fresh subprocess (peak RSS is that process's
`ru_maxrss`, plus its children's); timings are medians over `--repeats` runs. Databases: a SQLite
file in a temporary directory, and PostgreSQL: the one in DATABASE_URL when
it points at PostgreSQL (run under scripts/with-postgres), otherwise a pass
of this script under scripts/with-postgres when PostgreSQL is installed.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import default_databases, drop_database, is_postgres, log, postgres_admin, work_folder

ROOT = Path(__file__).resolve().parent.parent
STYLES = ("scopus", "handwritten", "mixed")  # as in bench/generate.py
WITH_POSTGRES = ROOT / "scripts" / "with-postgres"
# Peak RSS per byte of file, until a run in this session measures it: a bare
# bibtexparser parse holds about 12 times the file (see README).
DEFAULT_RSS_FACTOR = {"parse": 13.0, "read": 13.0, "import": 15.0}


# -- the worker: one measurement in one process --------------------------------


def _peak_rss_mb() -> float:
    """This process's peak RSS plus its children's (the import's reader process):
    an upper bound on both together, since pages they share count twice."""
    return _peak_rss_of_children_mb() + resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_of_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalogue.settings")
    import django

    django.setup()


def _import(path: Path) -> dict[str, Any]:
    from catalogue import importer

    started = time.perf_counter()
    if hasattr(importer, "import_file"):
        function = importer.import_file
        kwargs: dict[str, Any] = {}
        parameters = inspect.signature(function).parameters
        if "batch" in parameters and parameters["batch"].default is inspect.Parameter.empty:
            from catalogue.models import ImportBatch

            kwargs["batch"] = ImportBatch.objects.create(source_name=path.name)
        if "progress" in parameters:
            kwargs["progress"] = None
        if "source_name" in parameters:
            kwargs["source_name"] = path.name
        read_ahead = _reads_ahead()
        result = function(path, **kwargs)
        batch = result if hasattr(result, "created_count") else kwargs.get("batch")
        how = "import_file, read in a second process" if read_ahead else "import_file"
    else:
        batch = importer.import_bibtex(path.read_bytes(), source_name=path.name)
        how = "import_bibtex"
    seconds = time.perf_counter() - started
    if batch is None:
        raise RuntimeError("import_file returned no batch; cannot read its counts")
    if batch.pk:
        batch.refresh_from_db()
    return {
        "seconds": seconds,
        "how": how,
        "created": batch.created_count,
        "updated": batch.updated_count,
        "unchanged": batch.unchanged_count,
        "failed": batch.failed_count,
    }


def _reads_ahead() -> bool:
    """Whether this checkout's importer reads in a second process (catalogue/read_ahead.py)."""
    try:
        from catalogue import read_ahead
    except ImportError:
        return False
    return read_ahead.possible()


def _parse(path: Path) -> dict[str, Any]:
    import bibtexparser

    started = time.perf_counter()
    library = bibtexparser.parse_string(path.read_text(encoding="utf-8"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "entries": len(library.entries), "how": "parse_string"}


def _read(path: Path) -> dict[str, Any]:
    from catalogue import bibtex

    started = time.perf_counter()
    if hasattr(bibtex, "iter_bibtex"):
        how = "iter_bibtex"
        entries = sum(1 for item in bibtex.iter_bibtex(path) if hasattr(item, "title"))
    else:
        how = "read_bibtex"
        entries = len(bibtex.read_bibtex(path.read_text(encoding="utf-8")).records)
    return {"seconds": time.perf_counter() - started, "entries": entries, "how": how}


def worker(mode: str, path: Path, memory_limit_mb: int, project: Path) -> None:
    """Run one measurement and print its result as one JSON line."""
    sys.path.insert(0, str(project))  # measure that checkout's `catalogue`
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.disable(logging.WARNING)  # bibtexparser logs every failed block
    try:
        if mode == "parse":
            result = _parse(path)
        elif mode == "read":
            result = _read(path)
        else:
            _setup_django()
            if mode == "migrate":
                from django.core.management import call_command
                from django.db import connection

                call_command("migrate", verbosity=0)
                # Closing the last connection moves SQLite's write-ahead log
                # into the file; a copy of the file alone would miss it.
                connection.close()
                result = {"seconds": 0.0}
            else:
                result = _import(path)
    except MemoryError:
        result = {"error": f"MemoryError (limit {memory_limit_mb} MB)"}
    except Exception as error:  # reported in the table, not a crash of the whole run
        result = {"error": f"{type(error).__name__}: {error}"[:300]}
    if "catalogue" in sys.modules:
        result["code"] = str(Path(sys.modules["catalogue"].__file__ or "").parent)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["children_peak_rss_mb"] = _peak_rss_of_children_mb()
    print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator ----------------------------------------------------------


def _run_worker(
    mode: str, path: Path, database_url: str | None, limit_mb: int, project: Path
) -> dict[str, Any]:
    env = dict(os.environ, DEBUG="0", SECRET_KEY="bench-only-not-secret", LOG_LEVEL="WARNING")
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, str(path)]
    command += ["--memory-limit-mb", str(limit_mb), "--project", str(project)]
    process = subprocess.run(command, env=env, capture_output=True, text=True, cwd=project)
    for line in reversed(process.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (process.stderr or process.stdout).strip().splitlines()[-3:]
    return {"error": f"exit status {process.returncode}: {' | '.join(tail)}"[:300]}


class Databases:
    """Fresh migrated databases, copied from one migrated template."""

    def __init__(self, kind: str, workdir: Path, limit_mb: int, project: Path) -> None:
        self.kind = kind
        self.project = project
        self.workdir = workdir
        self.limit_mb = limit_mb
        self.count = 0
        self.template = self._template()

    def _url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / name}.sqlite3"
        base, _, _ = os.environ["DATABASE_URL"].rpartition("/")
        return f"{base}/{name}"

    def _template(self) -> str:
        name = "bench_template"
        if self.kind == "postgres":
            with postgres_admin() as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {name}")
                connection.execute(f"CREATE DATABASE {name}")
        result = _run_worker("migrate", Path("-"), self._url(name), self.limit_mb, self.project)
        if "error" in result:
            raise SystemExit(f"migrating the {self.kind} template failed: {result['error']}")
        return name

    def fresh(self) -> str:
        self.count += 1
        name = f"bench_run_{self.count}"
        if self.kind == "sqlite":
            template = self.workdir / f"{self.template}.sqlite3"
            shutil.copyfile(template, self.workdir / f"{name}.sqlite3")
        else:
            with postgres_admin() as connection:
                connection.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return self._url(name)

    def drop(self, url: str) -> None:
        drop_database(self.kind, url)


def _file_for(size: int, style: str, seed: int, workdir: Path) -> tuple[Path, dict[str, Any]]:
    from bench.generate import write_file

    path = workdir / f"bench-{style}-seed{seed}-{size}.bib"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("bytes") == path.stat().st_size:
            return path, meta
    log(f"generating {size} {style} entries into {path}")
    started = time.perf_counter()
    entries = write_file(path, size, style=style, seed=seed)
    meta = {
        "entries": entries,
        "bytes": path.stat().st_size,
        "seconds": time.perf_counter() - started,
        "command": (
            f"python bench/generate.py --entries {size} --style {style} --seed {seed} -o {path}"
        ),
    }
    meta_path.write_text(json.dumps(meta))
    log(f"  {entries} entries, {meta['bytes'] / 1e6:.0f} MB in {meta['seconds']:.0f} s")
    return path, meta


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.limit_mb = args.memory_limit_mb
        self.rss_factor = dict(DEFAULT_RSS_FACTOR)
        self.results: dict[str, Any] = {"runs": [], "files": {}}

    def repeats(self, size: int) -> int:
        return self.args.repeats_large if size >= self.args.large else self.args.repeats

    def _fits(self, mode: str, size_bytes: int, streaming: bool) -> str:
        """'' if a run should fit in memory, else why it is skipped."""
        if streaming or self.args.force:
            return ""
        need_mb = self.rss_factor[mode] * size_bytes / 2**20
        if need_mb <= self.limit_mb:
            return ""
        limit_gb = self.limit_mb / 1024
        return f"skipped: would need about {need_mb / 1024:.0f} GB (limit {limit_gb:.0f} GB)"

    def _learn(self, mode: str, result: dict[str, Any], size_bytes: int) -> None:
        if "error" not in result and size_bytes > 50e6:
            self.rss_factor[mode] = result["peak_rss_mb"] * 2**20 / size_bytes

    def measure(
        self,
        size: int,
        mode: str,
        database: str,
        path: Path,
        meta: dict[str, Any],
        url: str | None = None,
    ) -> dict[str, Any]:
        result = _run_worker(mode, path, url, self.limit_mb, self.args.project)
        result.update(size=size, mode=mode, database=database, entries=meta["entries"])
        if "seconds" in result and "error" not in result:
            result["entries_per_s"] = meta["entries"] / result["seconds"]
        self.results["runs"].append(result)
        shown = result.get("error") or (
            f"{result['entries_per_s']:,.0f} entries/s, {result['seconds']:.1f} s, "
            f"peak {result['peak_rss_mb']:,.0f} MB"
            + (
                f", {result['created']} created / {result['updated']} updated"
                f" / {result['unchanged']} unchanged / {result['failed']} failed"
                if "created" in result
                else ""
            )
        )
        log(f"  {size:>9,} {database:<8} {mode:<8} {result.get('how', '')}: {shown}")
        return result

    def run(self) -> None:
        args = self.args
        sizes = sorted(args.sizes)
        files = {size: _file_for(size, args.style, args.seed, self.workdir) for size in sizes}
        for size, (_, meta) in files.items():
            self.results["files"][str(size)] = meta
        streaming = _has_streaming(args.project)
        self.results["project"] = str(args.project)
        self.results["streaming"] = streaming
        if not args.imports_only:
            for size in sizes:
                path, meta = files[size]
                for mode in ("parse", "read"):
                    reason = self._fits(mode, meta["bytes"], streaming and mode == "read")
                    for _ in range(self.repeats(size)):
                        if reason:
                            self._skip(size, mode, "-", reason)
                            break
                        result = self.measure(size, mode, "-", path, meta)
                        self._learn(mode, result, meta["bytes"])
                        if "error" in result:
                            break
        for database in args.databases:
            if database == "postgres" and not is_postgres(os.environ.get("DATABASE_URL", "")):
                self._postgres_pass(sizes)
                continue
            databases = Databases(database, self.workdir, self.limit_mb, args.project)
            for size in sizes:
                path, meta = files[size]
                reason = self._fits("import", meta["bytes"], streaming)
                for _ in range(self.repeats(size)):
                    if reason:
                        self._skip(size, "import", database, reason)
                        break
                    url = databases.fresh()
                    try:
                        first = self.measure(size, "import", database, path, meta, url)
                        self._learn("import", first, meta["bytes"])
                        if "error" in first:
                            break
                        self.measure(size, "reimport", database, path, meta, url)
                    finally:
                        databases.drop(url)

    def _skip(self, size: int, mode: str, database: str, reason: str) -> None:
        log(f"  {size:>9,} {database:<8} {mode:<8} {reason}")
        for skipped in (mode, "reimport") if mode == "import" else (mode,):
            self.results["runs"].append(
                {"size": size, "mode": skipped, "database": database, "error": reason}
            )

    def _postgres_pass(self, sizes: list[int]) -> None:
        """Run the PostgreSQL imports under scripts/with-postgres, on the same files."""
        out = self.workdir / "postgres-results.json"
        command = [
            str(WITH_POSTGRES), sys.executable, str(Path(__file__).resolve()),
            "--databases", "postgres", "--imports-only",
            "--sizes", ",".join(map(str, sizes)), "--style", self.args.style,
            "--seed", str(self.args.seed), "--workdir", str(self.workdir),
            "--repeats", str(self.args.repeats), "--repeats-large", str(self.args.repeats_large),
            "--large", str(self.args.large), "--memory-limit-mb", str(self.limit_mb),
            "--json", str(out), "--quiet", "--project", str(self.args.project),
        ]  # fmt: skip
        if self.args.force:
            command.append("--force")
        log("PostgreSQL pass: " + shlex.join(command))
        status = subprocess.run(command, cwd=ROOT).returncode
        if status != 0 or not out.exists():
            log(f"the PostgreSQL pass failed (exit status {status}); PostgreSQL rows are missing")
            return
        self.results["runs"] += json.loads(out.read_text())["runs"]


def _has_streaming(project: Path) -> bool:
    """Whether the measured code reads or imports a file as a stream.

    Only decides whether the memory estimate applies; the workers themselves
    pick `iter_bibtex` / `import_file` with hasattr().
    """
    package = project / "catalogue"
    sources = [package / "importer.py", *sorted((package / "bibtex").glob("*.py"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources if p.exists())
    return "def iter_bibtex(" in text or "def import_file(" in text


def _select(
    runs: list[dict[str, Any]], size: int, mode: str, database: str
) -> list[dict[str, Any]]:
    return [
        r for r in runs if r["size"] == size and r["mode"] == mode and r["database"] == database
    ]


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r and "error" not in r]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def table(results: dict[str, Any]) -> str:
    runs = results["runs"]
    sizes = sorted({r["size"] for r in runs})
    databases = [d for d in ("sqlite", "postgres") if any(r["database"] == d for r in runs)]
    lines = [
        "| size | database | bare parse entries/s | import entries/s | ratio | peak RSS MB"
        " | re-import entries/s | re-import speed-up | re-import changes |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    notes: list[str] = []
    for size in sizes:
        parse = [r for r in runs if r["size"] == size and r["mode"] == "parse"]
        parse_speed = _median(parse, "entries_per_s")
        for database in databases:
            first = _select(runs, size, "import", database)
            again = _select(runs, size, "reimport", database)
            if not first:
                continue
            import_speed = _median(first, "entries_per_s")
            reimport_speed = _median(again, "entries_per_s")
            ratio = import_speed / parse_speed if import_speed and parse_speed else None
            speed_up = reimport_speed / import_speed if reimport_speed and import_speed else None
            peaks = [r["peak_rss_mb"] for r in first if "error" not in r]
            changes = sorted({(r["created"], r["updated"]) for r in again if "created" in r})
            checked = (
                "–"
                if not changes
                else "none ✓"
                if changes == [(0, 0)]
                else "; ".join(f"{c} created, {u} updated ✗" for c, u in changes)
            )
            lines.append(
                f"| {size:,} | {database} | {_fmt(parse_speed)} | {_fmt(import_speed)}"
                f" | {_fmt(ratio, '.2f', '×')} | {_fmt(max(peaks) if peaks else None)}"
                f" | {_fmt(reimport_speed)} | {_fmt(speed_up, '.1f', '×')} | {checked} |"
            )
            for r in first + again + parse:
                if "error" in r:
                    notes.append(f"{size:,} {r['database']} {r['mode']}: {r['error']}")
    detail = [
        "",
        "| size | measurement | database | runs | median s | median entries/s | peak RSS MB"
        " | how |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        for mode in ("parse", "read", "import", "reimport"):
            for database in ("-", *databases):
                group = [r for r in _select(runs, size, mode, database) if "error" not in r]
                if not group:
                    continue
                seconds = _fmt(_median(group, "seconds"), ".2f")
                speed = _fmt(_median(group, "entries_per_s"))
                peak = _fmt(max(r["peak_rss_mb"] for r in group))
                detail.append(
                    f"| {size:,} | {mode} | {database} | {len(group)} | {seconds} | {speed}"
                    f" | {peak} | {group[0].get('how', '')} |"
                )
    out = "\n".join(lines + detail)
    if notes:
        out += "\n\nNot measured or failed:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes))
    return out


def _sizes(text: str) -> list[int]:
    units = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        factor = units.get(item[-1:], 1)
        sizes.append(int(float(item.rstrip("km")) * factor))
    return sizes


def _default_memory_limit_mb() -> int:
    available = 16 * 1024
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(min(16 * 1024, available * 0.75))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="comma-separated entry counts, e.g. 10000,100000 or 10k,1m",
    )
    parser.add_argument("--style", choices=STYLES, default="mixed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--databases",
        type=lambda s: s.split(","),
        default=None,
        help="sqlite,postgres (default: sqlite, and postgres when available)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    parser.add_argument("--repeats-large", type=int, default=1, help="runs for sizes >= --large")
    parser.add_argument("--large", type=int, default=500_000)
    parser.add_argument("--workdir", type=Path, help="keep generated files (and reuse them) here")
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=_default_memory_limit_mb(),
        help="address-space limit for each measuring process",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even what is estimated not to fit in --memory-limit-mb",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--project",
        type=Path,
        default=ROOT,
        help="the checkout whose catalogue is measured (default: this one)",
    )
    parser.add_argument("--imports-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip

    args.project = args.project.resolve()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), args.memory_limit_mb, args.project)
        return
    sys.path.insert(0, str(ROOT))  # for bench.generate
    if args.databases is None:
        args.databases = default_databases()
    started = time.perf_counter()
    with work_folder(args.workdir, "catalogue-bench-") as workdir:
        bench = Bench(args, workdir)
        bench.run()
    results = bench.results
    results["command"] = shlex.join([".venv/bin/python", "bench/import_speed.py", *sys.argv[1:]])
    results["seconds"] = time.perf_counter() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.quiet:
        return
    print(table(results))
    print("\nCommands:\n")
    print(f"    {results['command']}")
    for meta in results["files"].values():
        print(
            f"    {meta['command']}   # {meta['entries']:,} entries,"
            f" {meta['bytes'] / 1e6:,.0f} MB, {meta['seconds']:.0f} s"
        )
    print(
        f"\nTotal {results['seconds'] / 60:.1f} min; {os.cpu_count()} CPUs;"
        f" load average at the end {os.getloadavg()[0]:.1f};"
        f" Python {sys.version.split()[0]}; memory limit per process {args.memory_limit_mb:,} MB."
    )


if __name__ == "__main__":
    main()
