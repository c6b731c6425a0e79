"""Profile one import into a fresh SQLite database with cProfile.

    .venv/bin/python bench/profile_import.py FILE [--top 40] [--project DIR] [-o import.prof]

Prints the top functions by cumulative and by own time, and the time spent
under the reading side (`read_bibtex`) and the storing side (`store_records`).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from common import setup_django_on_sqlite

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("-o", "--output", type=Path, help="save the raw profile here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="catalogue-profile-") as tmp:
        setup_django_on_sqlite(Path(tmp) / "profile.sqlite3", args.project)
        import logging

        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        logging.disable(logging.WARNING)
        from catalogue import importer

        data = args.file.read_bytes()
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        batch = importer.import_bibtex(data, source_name=args.file.name)
        profile.disable()
        seconds = time.perf_counter() - started
    print(
        f"{args.file.name}: {batch.created_count} created in {seconds:.1f} s under cProfile"
        f" (code from {Path(importer.__file__).parent.parent})\n"
    )
    if args.output:
        profile.dump_stats(str(args.output))
    stats = pstats.Stats(profile)
    stats.strip_dirs()
    cumulative = {
        f"{func[0]}:{func[2]}": value[3]
        for func, value in stats.stats.items()  # type: ignore[attr-defined]
    }
    for name in ("reader.py:read_bibtex", "importer.py:store_records", "encoding.py:decode_bytes"):
        if name in cumulative:
            print(f"  {name:<32} {cumulative[name]:8.1f} s cumulative")
    print()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
