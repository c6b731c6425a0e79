"""Settings come from the environment; checked in fresh processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path: Path) -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection; c = connection.cursor();"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0],"
        " c.execute('PRAGMA busy_timeout').fetchone()[0],"
        " connection.transaction_mode)",
        DATABASE_URL=f"sqlite:///{tmp_path / 'wal.sqlite3'}",
    )
    assert result.stdout.split() == ["wal", "20000", "IMMEDIATE"], result.stderr


def test_production_refuses_to_start_without_secret_key() -> None:
    result = manage("check", DEBUG="0", SECRET_KEY="", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment when DEBUG is off." in result.stderr


def test_production_settings_pass_the_deployment_check() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="a-" + "production-secret-that-is-long-and-random-enough-" * 2,
        ALLOWED_HOSTS="catalogue.example.org",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("sqlite:////tmp/other.sqlite3", "django.db.backends.sqlite3"),
        ("postgres://u:p@db.example.org:5432/cat", "django.db.backends.postgresql"),
    ],
)
def test_database_url_chooses_the_engine(url: str, engine: str) -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])",
        DATABASE_URL=url,
    )
    assert result.stdout.strip() == engine, result.stderr


def test_what_django_loads_at_startup_is_left_out_of_garbage_collection() -> None:
    code = "import gc, django; django.setup(); print(gc.get_freeze_count())"
    frozen = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "catalogue.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert frozen.returncode == 0, frozen.stderr
    assert int(frozen.stdout) > 10_000  # Django's and the catalogue's modules, at least
