from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import caches
from django.test import Client

from catalogue.importer import import_bibtex
from catalogue.models import ImportBatch

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _background_tasks_run_at_once(settings, tmp_path: Path) -> None:  # noqa: ANN001
    """Enqueued tasks run inside the test (no worker); uploads go to a temp folder."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default"],
        }
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    # Hashing test users' passwords properly takes most of a second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Every request renders its page (tests compare pages before and after a
    # setting changes); tests/test_page_cache.py turns the cache on.
    settings.CATALOGUE_PAGE_CACHE_ENTRIES = 0


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Cached suggestion words and pages must not outlive the test's database."""
    for alias in ("default", "pages"):
        caches[alias].clear()


@pytest.fixture
def seed_bytes() -> bytes:
    """The owner's own example: a Scopus export of one review article."""
    return (DATA / "seed.bib").read_bytes()


@pytest.fixture
def import_text(db: None) -> Callable[..., ImportBatch]:
    def run(text: str | bytes, source_name: str = "test.bib") -> ImportBatch:
        return import_bibtex(text, source_name=source_name)

    return run


@pytest.fixture
def seeded(import_text: Callable[..., ImportBatch], seed_bytes: bytes) -> ImportBatch:
    return import_text(seed_bytes, "seed.bib")


@pytest.fixture
def importer_user(db: None) -> User:
    user = User.objects.create_user("importer", password="a-long-test-password")
    user.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
    return user


@pytest.fixture
def importer_client(importer_user: User) -> Client:
    client = Client()
    client.force_login(importer_user)
    return client


def entry(key: str, **fields: str) -> str:
    """A small @article entry for tests: entry("k1", title="T", year="2020")."""
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
    return f"@article{{{key},\n{body}\n}}\n"


@pytest.fixture
def query_count(db: None) -> Callable[[Callable[[], object]], int]:
    """How many queries a call makes: for N+1 guards that compare two sizes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(call: Callable[[], object]) -> int:
        with CaptureQueriesContext(connection) as captured:
            call()
        return len(captured.captured_queries)

    return count


def trigger_names() -> set[str]:
    """The triggers in the test database: a SQLite table rebuild drops its own."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        return {name for (name,) in cursor.fetchall()}
