"""Uploading a .bib file in the browser: sign in, preview, import, progress, report.

The jobs run as they do in production: the upload view queues them in the
database (django-tasks-db's backend, not the immediate one the other tests
use) and a worker runs them. Here the worker is django-tasks-db's own loop,
run in the test's thread at the moment the test chooses, until the queue is
empty: what `manage.py db_worker --batch` does. So each step has a page that
shows a waiting job, then a worker that finishes it.

With JavaScript on, progress.js polls once a second and reloads the page
when the job moves on. The page's clock is stopped (Playwright's fake
timers) and moved on by the test once the worker is done: no sleeps, and no
poll reaches the server while the worker uses the database (on SQLite the
live server shares the test thread's in-memory connection).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Page, expect

from catalogue.models import Article, ImportBatch

from .conftest import PASSWORD

UPLOAD = Path(__file__).resolve().parent.parent / "data" / "upload.bib"
POLL_MS = 1000  # progress.js asks for progress.json this often
CLOCK_START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def database_queue(settings) -> None:  # noqa: ANN001
    """Tasks wait in the database for a worker, as in production."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def run_worker() -> None:
    """Run the queued tasks to the end, as `manage.py db_worker --batch` does.

    The command itself would also install its SIGINT/SIGTERM handlers, which
    would outlive it and take Ctrl-C away from pytest; its Worker is the rest.
    """
    Worker(
        queue_names=["default"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="browser-tests",
    ).run()
    failed = DBTaskResult.objects.failed().values_list("traceback", flat=True)
    assert not failed, "\n".join(failed)


def upload_file(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Import", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import BibTeX")
    page.get_by_label("BibTeX file").set_input_files(UPLOAD)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of upload.bib")


def expect_waiting_job(page: Page, heading: str) -> None:
    progress = page.locator(".job-progress")
    expect(progress.get_by_role("heading")).to_have_text(heading)
    expect(progress.get_by_role("progressbar")).to_be_visible()
    expect(progress.locator("#progress-text")).to_have_text(
        "Waiting for the background worker to start…"
    )


def expect_preview(page: Page) -> None:
    preview = page.get_by_role("region", name="What importing would do")
    expect(preview.locator(".counts > div")).to_have_text(
        [
            "Entries4",
            "New3",
            "Updated0",
            "Unchanged0",
            "Possible duplicates0",
            "Cannot be imported1",
        ]
    )
    expect(preview.get_by_text("Nothing has been imported yet.")).to_be_visible()


def expect_report(page: Page) -> None:
    report = page.get_by_role("region", name="Import report: upload.bib")
    expect(report.locator(".counts > div")).to_have_text(
        ["Created3", "Updated0", "Unchanged0", "Failed1"]
    )
    expect(report.locator(".problems")).to_contain_text("Untitled2024")


def test_a_signed_in_importer_uploads_previews_and_imports_a_file_with_live_progress(
    page: Page, importer: User, database_queue: None
) -> None:
    # The page's clock stands still: no timer fires until the test moves it on.
    # (It runs from CLOCK_START until paused: pause a little ahead, never in its past.)
    page.clock.install(time=CLOCK_START)
    page.clock.pause_at(CLOCK_START + timedelta(minutes=1))
    page.goto("/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill(importer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    upload_file(page)
    expect_waiting_job(page, "Waiting to be read")
    expect(page.get_by_role("link", name="Refresh")).to_be_hidden()  # progress.js polls instead

    run_worker()
    page.clock.run_for(POLL_MS)
    expect_preview(page)
    assert Article.objects.count() == 0

    page.get_by_role("button", name="Import", exact=True).click()
    expect_waiting_job(page, "Waiting to import")

    run_worker()
    page.clock.run_for(POLL_MS)
    expect_report(page)
    assert ImportBatch.objects.get().status == ImportBatch.Status.DONE

    page.get_by_role("link", name="See the newest articles").click()
    expect(page.locator(".article-list .article-title")).to_have_text(
        [
            "Thermal imaging of frozen tissue",
            "Pulsed radiofrequency for shoulder pain",
            "Cryoablation of small renal masses",
        ]
    )


def test_without_javascript_the_refresh_link_follows_the_job(
    page_without_js: Page, importer: User, database_queue: None
) -> None:
    page = page_without_js
    page.goto("/upload/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/upload/$"))
    page.get_by_label("Username").fill(importer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/upload/$"))

    page.get_by_label("BibTeX file").set_input_files(UPLOAD)
    page.get_by_role("button", name="Upload and preview").click()
    expect_waiting_job(page, "Waiting to be read")
    refresh = page.get_by_role("link", name="Refresh")

    refresh.click()  # nothing has run yet
    expect_waiting_job(page, "Waiting to be read")

    run_worker()
    refresh.click()
    expect_preview(page)

    page.get_by_role("button", name="Import", exact=True).click()
    expect_waiting_job(page, "Waiting to import")

    run_worker()
    refresh.click()
    expect_report(page)
