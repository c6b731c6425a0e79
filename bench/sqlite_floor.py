"""How long does SQLite itself take to store an import, next to the bare parse?

    .venv/bin/python bench/sqlite_floor.py FILE [--repeats 3] [--workdir DIR]

1. Imports FILE into a fresh, migrated SQLite database (`import_file`, as the
   worker does) and records every statement the storing process runs, with
   its parameters, and every commit.
2. Replays that recording into another fresh copy of the same migrated
   database through Django's own sqlite3 connection (its PRAGMAs and
   functions), calling the `sqlite3` module directly and timing only its
   calls: what SQLite takes to write what the import writes, with no Python
   of the importer's or Django's around it.
3. Times bibtexparser's bare `parse_string` of the same file, as
   `import_speed.py` does.
4. Imports FILE again, unrecorded, into another fresh copy: the import's
   time and each of its two processes' CPU time.
5. Reads FILE as the reading process does (`iter_bibtex` and what storing
   needs from each record alone), in this process, and pickles each chunk
   as it is sent, then unpickles it as the storing process receives it.

The replay is a floor for the storing process: no change to the importer's
Python makes storing faster than that without writing less. SQLite has one
writer, so that work stays in one process, and so does receiving what the
reading process sends. The throughput goal (an import at 0.8 times the bare
parse's entries/s) leaves the whole import bare parse / 0.8 seconds, on two
cores: the table says how much of them each process's work takes. Steps 2
to 5 run `--repeats` times, each in a fresh process, taking turns; medians.
The recording of a 100,000-entry file takes about 0.8 GB in the work
folder. `--commit-every N` and `--pragma NAME=VALUE` change the replay, to
see what larger transactions or other settings would save before building
them.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

from common import drop_database, log, setup_django_on_sqlite, work_folder

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "commit"


def _plain(value: Any) -> Any:
    """A parameter as the sqlite3 module sees it, picklable without the project.

    Choices are str subclasses defined in catalogue.models.
    """
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool | int | float | bytes) or value is None:
        return value
    raise TypeError(f"a parameter of type {type(value).__name__} cannot be recorded")


def record(source: Path, database: Path, recording: Path) -> dict[str, Any]:
    """Import `source` into `database`, writing the storing process's SQL to `recording`."""
    setup_django_on_sqlite(database, ROOT)
    from django.db import connection

    from catalogue import importer
    from catalogue.models import ImportBatch

    storing_process = os.getpid()  # not the reading process forked from it
    with recording.open("wb") as out:

        def write(entry: tuple[Any, ...]) -> None:
            if os.getpid() == storing_process:
                pickle.dump(entry, out, protocol=pickle.HIGHEST_PROTOCOL)

        def recorder(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            if many:
                params = [[_plain(value) for value in row] for row in params]
            elif params is not None:
                params = [_plain(value) for value in params]
            write((sql, params, many))
            return execute(sql, params, many, context)

        # Commits do not pass through execute wrappers: record them on the way.
        connection.ensure_connection()
        commit = connection._commit

        def recorded_commit() -> None:
            write((COMMIT,))
            commit()

        connection._commit = recorded_commit
        started = time.perf_counter()
        with connection.execute_wrapper(recorder):
            batch = ImportBatch.objects.create(source_name=source.name)
            importer.import_file(source, batch=batch)
        seconds = time.perf_counter() - started
    batch.refresh_from_db()
    return {"seconds": seconds, "created": batch.created_count, "failed": batch.failed_count}


def replay(
    database: Path, recording: Path, *, commit_every: int = 1, pragmas: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run the recorded statements and commits against `database`; time SQLite's calls.

    `commit_every` n: only every nth commit (and the last), to see what larger
    transactions would save; `pragmas` ("name=value") override the import's own.
    """
    setup_django_on_sqlite(database, ROOT)
    from django.db import connection
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

    connection.ensure_connection()
    raw = connection.connection  # with the settings' PRAGMAs, in autocommit
    overridden = {pragma.partition("=")[0].strip() for pragma in pragmas}
    for pragma in pragmas:
        raw.execute(f"PRAGMA {pragma}")
    qmark: dict[str, str] = {}
    statements = commits = 0.0
    count = recorded_commits = 0
    with recording.open("rb") as stream:
        while True:
            try:
                entry = pickle.load(stream)
            except EOFError:
                break
            if entry == (COMMIT,):
                recorded_commits += 1
                if recorded_commits % commit_every == 0:
                    started = time.perf_counter()
                    raw.commit()
                    commits += time.perf_counter() - started
                continue
            sql, params, many = entry
            if sql.startswith("BEGIN") and raw.in_transaction:
                continue  # the commit before it was skipped
            if sql.startswith("PRAGMA") and sql.split()[1] in overridden:
                continue
            if params is not None and sql not in qmark:
                # What Django's SQLite cursor does to every statement, done once here.
                qmark[sql] = FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")
            started = time.perf_counter()
            if params is None:
                raw.execute(sql).fetchall()
            elif many:
                raw.executemany(qmark[sql], params)
            else:
                raw.execute(qmark[sql], params).fetchall()
            statements += time.perf_counter() - started
            count += 1
    started = time.perf_counter()
    raw.commit()  # what a skipped last commit left open
    commits += time.perf_counter() - started
    articles = raw.execute("SELECT count(*) FROM catalogue_article").fetchone()[0]
    return {
        "seconds": statements + commits,
        "statements": statements,
        "commits": commits,
        "count": count,
        "articles": articles,
    }


def import_plainly(source: Path, database: Path) -> dict[str, Any]:
    """Import `source` into `database` as the worker does: its time, and each process's CPU time."""
    setup_django_on_sqlite(database, ROOT)
    from catalogue import importer
    from catalogue.models import ImportBatch

    batch = ImportBatch.objects.create(source_name=source.name)
    before, started = os.times(), time.perf_counter()
    importer.import_file(source, batch=batch)
    seconds, after = time.perf_counter() - started, os.times()
    # The reading process is a child, waited for when the import ends.
    return {
        "seconds": seconds,
        "storing_cpu": after.user + after.system - before.user - before.system,
        "reading_cpu": after.children_user
        + after.children_system
        - before.children_user
        - before.children_system,
    }


def transfer(source: Path, database: Path) -> dict[str, Any]:
    """The reading process's work in this process, chunk by chunk, and the handing over.

    Reading is `importer._items` without a second process; each chunk is
    then pickled as `read_ahead` sends it and unpickled as it is received.
    """
    setup_django_on_sqlite(database, ROOT)
    from multiprocessing.reduction import ForkingPickler

    from django.conf import settings

    from catalogue import importer

    settings.CATALOGUE_IMPORT_READ_AHEAD = False  # read here, not in a child
    times = {"reading": 0.0, "sending": 0.0, "receiving": 0.0}
    items = importer._items(source)
    while True:
        started = time.perf_counter()
        chunk = list(islice(items, importer.CHUNK_SIZE))
        times["reading"] += time.perf_counter() - started
        if not chunk:
            return times
        started = time.perf_counter()
        sent = ForkingPickler.dumps(("items", chunk))
        times["sending"] += time.perf_counter() - started
        del chunk
        started = time.perf_counter()
        ForkingPickler.loads(sent)
        times["receiving"] += time.perf_counter() - started


def parse(source: Path) -> dict[str, Any]:
    import bibtexparser

    started = time.perf_counter()
    library = bibtexparser.parse_string(source.read_text(encoding="utf-8"))
    return {"seconds": time.perf_counter() - started, "entries": len(library.entries)}


def _in_fresh_process(step: str, *arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step, *arguments]
    process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if process.returncode != 0:
        raise SystemExit(f"the {step} step failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.splitlines()[-1])


def _migrated_template(workdir: Path) -> Path:
    template = workdir / "floor_template.sqlite3"
    drop_database("sqlite", f"sqlite:///{template}")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{template}", "DEBUG": "0"}
    env.setdefault("SECRET_KEY", "bench-only-not-secret")
    manage = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    subprocess.run(manage, env=env, cwd=ROOT, check=True)
    # Copies of the file alone must hold the tables: fold the log into it.
    with closing(sqlite3.connect(template)) as database:
        database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return template


def _fresh_copy(template: Path, name: str) -> Path:
    copy = template.with_name(f"{name}.sqlite3")
    drop_database("sqlite", f"sqlite:///{copy}")
    shutil.copyfile(template, copy)
    return copy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the databases and recording here")
    parser.add_argument(
        "--commit-every", type=int, default=1, help="replay only every nth commit (default 1)"
    )
    parser.add_argument(
        "--pragma",
        action="append",
        default=[],
        help="NAME=VALUE for the replaying connection, instead of the import's; repeatable",
    )
    # One measurement in this process: --step NAME and the function's paths.
    steps = {
        "record": record,
        "replay": replay,
        "parse": parse,
        "import": import_plainly,
        "transfer": transfer,
    }
    parser.add_argument("--step", choices=steps, help=argparse.SUPPRESS)
    parser.add_argument("more_paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    replaying = {"commit_every": args.commit_every, "pragmas": tuple(args.pragma)}
    if args.step:
        options = replaying if args.step == "replay" else {}
        print(json.dumps(steps[args.step](args.file, *args.more_paths, **options)))
        return

    source = args.file.resolve()
    with work_folder(args.workdir, "catalogue-floor-") as workdir:
        template = _migrated_template(workdir)
        recording = workdir / "storing.pickle"
        imported = _in_fresh_process(
            "record", str(source), str(_fresh_copy(template, "recorded")), str(recording)
        )
        log(f"import, recording: {imported['seconds']:.1f} s, {imported['created']:,} created")
        replays, parses, imports, transfers = [], [], [], []
        for _ in range(args.repeats):
            options = [f"--commit-every={args.commit_every}"]
            options += [f"--pragma={pragma}" for pragma in args.pragma]
            replayed = _fresh_copy(template, "replayed")
            replays.append(_in_fresh_process("replay", str(replayed), str(recording), *options))
            log(
                f"replay: {replays[-1]['statements']:.1f} s statements"
                f" + {replays[-1]['commits']:.1f} s commits"
            )
            parses.append(_in_fresh_process("parse", str(source)))
            log(f"bare parse: {parses[-1]['seconds']:.1f} s")
            plain = str(_fresh_copy(template, "imported"))
            imports.append(_in_fresh_process("import", str(source), plain))
            log(
                f"import: {imports[-1]['seconds']:.1f} s, CPU {imports[-1]['storing_cpu']:.1f} s"
                f" storing + {imports[-1]['reading_cpu']:.1f} s reading"
            )
            empty = str(_fresh_copy(template, "read"))
            transfers.append(_in_fresh_process("transfer", str(source), empty))
            log(
                f"reading alone: {transfers[-1]['reading']:.1f} s, sending"
                f" {transfers[-1]['sending']:.1f} s, receiving {transfers[-1]['receiving']:.1f} s"
            )
        if replays[-1]["articles"] != imported["created"]:
            raise SystemExit("the replay did not write what the import wrote")

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    bare = median(parses, "seconds")
    allowed = bare / 0.8
    whole = median(imports, "seconds")
    floor = median(replays, "seconds")
    receiving = median(transfers, "receiving")
    only_storing = floor + receiving
    storing_cpu, reading_cpu = median(imports, "storing_cpu"), median(imports, "reading_cpu")
    rows = [
        ("bare parse", bare),
        ("the whole import at 0.8× the bare parse: the goal's time", allowed),
        ("the import, unrecorded", whole),
        ("its storing process's CPU time", storing_cpu),
        ("its reading process's CPU time", reading_cpu),
        ("SQLite's statements, replayed", median(replays, "statements")),
        ("SQLite's commits, replayed (with their waits for the disk)", median(replays, "commits")),
        ("receiving the reading process's chunks (unpickling)", receiving),
        ("what only the storing process can do: SQLite and receiving", only_storing),
        ("the rest of the import's time: the storing process's own work", whole - only_storing),
        ("reading alone, in one process", median(transfers, "reading")),
        ("sending the chunks (pickling)", median(transfers, "sending")),
    ]
    print(
        f"| {source.name}: {parses[0]['entries']:,} entries | seconds | share of the goal's time |"
    )
    print("|---|---:|---:|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.1f} | {seconds / allowed:.0%} |")
    print(f"| the import, while recorded (one run) | {imported['seconds']:.1f} | |")
    if args.commit_every != 1 or args.pragma:
        changed = [f"a commit every {args.commit_every}"] if args.commit_every != 1 else []
        changed += args.pragma
        print(f"| (replayed with: {', '.join(changed)}) | | |")
    print(f"\nMedians of {args.repeats} runs of each step, taking turns.")
    print(f"The import ran at {bare / whole:.2f}× the bare parse's entries/s.")
    print(f"SQLite alone took {floor / bare:.2f}× the bare parse's time.")
    print(
        f"Both processes' CPU time, {storing_cpu + reading_cpu:.1f} s, against the goal's time"
        f" on two cores, {2 * allowed:.1f} s."
    )
    print(
        f"The storing process's own work, {whole - only_storing:.1f} s now, has"
        f" {allowed - only_storing:.1f} s of the goal's time left on its core; the reading"
        f" process's CPU time leaves {allowed - reading_cpu:.1f} s on the other."
    )


if __name__ == "__main__":
    main()
