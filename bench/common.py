"""What the benchmark scripts share: logging, databases, percentiles, work folders.

The scripts run as `python bench/<script>.py`, so this sits beside them on
the import path; it imports nothing of the project's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def setup_django_on_sqlite(database: Path, project: Path) -> None:
    """Django as a production worker runs it (DEBUG off), on this SQLite file."""
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="catalogue.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(project.resolve()))
    import django

    django.setup()


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


def default_databases() -> list[str]:
    """SQLite, and PostgreSQL when DATABASE_URL names one or its server is installed."""
    can_postgres = is_postgres(os.environ.get("DATABASE_URL", "")) or bool(
        shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    )
    return ["sqlite", "postgres"] if can_postgres else ["sqlite"]


@contextmanager
def work_folder(kept: Path | None, prefix: str) -> Iterator[Path]:
    """`kept` (made if missing), or a temporary folder removed afterwards."""
    if kept is not None:
        kept = kept.resolve()
        kept.mkdir(parents=True, exist_ok=True)
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        yield Path(temporary)


def percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def postgres_admin() -> Any:
    """A connection to the server of DATABASE_URL, for creating and dropping databases."""
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def database_url(kind: str, name: str, workdir: Path, *, keep: bool) -> str:
    """The URL of database `name`: reused when `keep`d and there, otherwise made afresh."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / name}.sqlite3"
        if not keep:
            drop_database(kind, url)
        return url
    with postgres_admin() as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if exists and not keep:
            connection.execute(f"DROP DATABASE {name}")
        if not exists or not keep:
            connection.execute(f"CREATE DATABASE {name}")
    return f"{os.environ['DATABASE_URL'].rpartition('/')[0]}/{name}"


def drop_database(kind: str, url: str) -> None:
    if kind == "sqlite":
        # .reserve: the disk space an import keeps for its undo (catalogue/disk_reserve.py).
        for suffix in ("", "-wal", "-shm", ".reserve"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        with postgres_admin() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2]}")
