"""Uploads as background jobs: preview, import, progress, history, cancel,
undo and resuming a job whose worker died.

Tasks run at once inside the request here (conftest sets the immediate
backend); the last test runs the real `db_worker` and kills it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from catalogue.demo import generate_bibtex
from catalogue.importer import import_bibtex, import_file
from catalogue.models import Article, ImportBatch
from catalogue.tasks import STALE_ERROR, fail_stale_batches, preview_import, run_import
from tests.conftest import entry

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
Status = ImportBatch.Status

THREE = entry("a1", title="One", year="2020") + entry("a2", title="Two") + entry("a3", title="3")


def upload(client: Client, data: bytes | str, name: str = "refs.bib") -> ImportBatch:
    """Upload through the form; return the batch it redirected to."""
    raw = data.encode() if isinstance(data, str) else data
    response = client.post("/upload/", {"file": ContentFile(raw, name=name)})
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = ImportBatch.objects.latest("pk")
    assert response["Location"] == f"/imports/{batch.pk}/"
    return batch


def post(client: Client, batch: ImportBatch, action: str) -> ImportBatch:
    response = client.post(f"/imports/{batch.pk}/{action}/")
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{batch.pk}/"
    batch.refresh_from_db()
    return batch


def job(status: str, **values: object) -> ImportBatch:
    """A batch with an uploaded file, in any state."""
    batch = ImportBatch(source_name="refs.bib", status=status, **values)
    batch.upload.save("refs.bib", ContentFile(THREE.encode()), save=True)
    return batch


def user_with(*codenames: str) -> User:
    user = User.objects.create_user("-".join(codenames) or "reader", password="x-long-password")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def undo_client() -> Client:
    client = Client()
    client.force_login(user_with("import_bibtex", "undo_importbatch"))
    return client


def generated(count: int) -> str:
    return "".join(generate_bibtex(count))


# The flow --------------------------------------------------------------------


def test_upload_is_previewed_and_nothing_is_imported_until_asked(
    importer_client: Client,
) -> None:
    batch = upload(importer_client, THREE)
    assert batch.status == Status.PREVIEWED
    assert (batch.preview["total"], batch.preview["new"]) == (3, 3)
    assert Article.objects.count() == 0
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "What importing would do" in html
    assert f'action="/imports/{batch.pk}/import/"' in html
    assert f'action="/imports/{batch.pk}/cancel/"' in html


def test_import_button_imports_the_previewed_file_and_shows_the_report(
    importer_client: Client,
) -> None:
    batch = post(importer_client, upload(importer_client, THREE), "import")
    assert batch.status == Status.DONE
    assert (batch.created_count, batch.processed_entries, batch.total_entries) == (3, 3, 3)
    assert sorted(Article.objects.values_list("citation_key", flat=True)) == ["a1", "a2", "a3"]
    assert not batch.upload  # the file is deleted once imported
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "Import report: refs.bib" in html


def test_pressing_import_twice_imports_once(importer_client: Client) -> None:
    batch = upload(importer_client, THREE)
    post(importer_client, batch, "import")
    batch = post(importer_client, batch, "import")
    assert batch.status == Status.DONE
    assert Article.objects.count() == 3
    assert batch.changes.count() == 3


def test_preview_shows_changed_fields_old_and_new(importer_client: Client) -> None:
    import_bibtex(entry("k1", title="Old title", year="2019"), source_name="first.bib")
    batch = upload(importer_client, entry("k1", title="Old title", year="2021"))
    [update] = batch.preview["updates"]
    assert (update["key"], update["changes"]["year"]) == ("k1", [2019, 2021])
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "<strong>year</strong>: <del>2019</del> → <ins>2021</ins>" in html
    assert Article.objects.get().year == 2019


def test_preview_shows_failures_and_duplicates_with_their_lines(importer_client: Client) -> None:
    text = (
        entry("good", title="A study of things", year="2020", author="Smith, Ann")
        + "@article{bad,\n title = {Open\n\n"
        + entry("twin", title="A study of things", year="2020", author="Smith, Ann")
    )
    batch = upload(importer_client, text)
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    [failure] = batch.preview["failures"]
    assert failure["key"] == "bad"
    assert f"<td>{failure['line']}</td><td><code>bad</code></td>" in html
    assert batch.preview["duplicates"], batch.preview
    duplicate = batch.preview["duplicates"][0]
    assert duplicate["key"] == "twin"
    assert duplicate["reason"] in html


def test_pasted_text_is_stored_as_a_file_and_previewed(importer_client: Client) -> None:
    response = importer_client.post("/upload/", {"text": entry("p", title="Pasted")})
    batch = ImportBatch.objects.get()
    assert response["Location"] == f"/imports/{batch.pk}/"
    assert (batch.source_name, batch.status, batch.preview["new"]) == (
        "pasted text",
        Status.PREVIEWED,
        1,
    )
    assert batch.upload.name.endswith(".bib")


def test_cancel_after_the_preview_deletes_the_file_and_imports_nothing(
    importer_client: Client,
) -> None:
    batch = upload(importer_client, THREE)
    path = Path(batch.upload.path)
    batch = post(importer_client, batch, "cancel")
    assert batch.status == Status.CANCELLED
    assert not path.exists()
    assert not batch.upload
    assert Article.objects.count() == 0
    assert post(importer_client, batch, "import").status == Status.CANCELLED
    assert Article.objects.count() == 0
    assert (
        "This import was cancelled" in importer_client.get(f"/imports/{batch.pk}/").content.decode()
    )


def test_job_cancelled_before_a_worker_starts_it_is_skipped(importer_client: Client) -> None:
    batch = post(importer_client, job(Status.PENDING), "cancel")
    assert preview_import.call(batch.pk).startswith("skipped")
    batch.refresh_from_db()
    assert (batch.status, batch.preview) == (Status.CANCELLED, None)


def test_file_the_worker_cannot_read_fails_the_job_without_a_resume(
    importer_client: Client,
) -> None:
    # Blank space beyond what the upload form looks at, so only the worker sees it.
    batch = upload(importer_client, b" " * 70_000 + b"\n")
    assert batch.status == Status.FAILED
    assert "empty" in batch.error
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert batch.error in html
    assert "/resume/" not in html


@pytest.mark.parametrize(
    ("status", "task"), [(Status.PENDING, preview_import), (Status.QUEUED, run_import)]
)
def test_task_that_crashes_leaves_the_job_failed_not_running(status: str, task) -> None:  # noqa: ANN001
    batch = job(status, preview={"total": 3} if status == Status.QUEUED else None)
    Path(batch.upload.path).unlink()  # the file vanished from the disk
    assert task.call(batch.pk) == "failed"
    batch.refresh_from_db()
    assert batch.status == Status.FAILED
    assert "FileNotFoundError" in batch.error
    assert Article.objects.count() == 0


# Progress ---------------------------------------------------------------------


def running_import(processed: int = 500, total: int = 2000, seconds: int = 10) -> ImportBatch:
    now = timezone.now()
    return job(
        Status.IMPORTING,
        preview={"total": total},
        processed_entries=processed,
        total_entries=total,
        started_at=now - timedelta(seconds=seconds),
        heartbeat_at=now,
    )


def test_progress_json_gives_entries_rate_time_left_and_the_page(importer_client: Client) -> None:
    batch = running_import(processed=500, total=2000, seconds=10)
    response = importer_client.get(f"/imports/{batch.pk}/progress.json")
    data = response.json()
    assert "no-cache" in response["Cache-Control"]
    assert (data["status"], data["running"], data["processed"], data["total"]) == (
        "importing",
        True,
        500,
        2000,
    )
    assert data["rate"] == pytest.approx(50, rel=0.05)
    assert data["eta"] == pytest.approx(30, rel=0.05)
    assert data["url"] == f"/imports/{batch.pk}/"
    assert data["text"].startswith("500 of 2,000 entries imported · 50 a second · about 3")


def test_running_job_page_has_a_progress_bar_and_a_refresh_link_not_a_meta_refresh(
    importer_client: Client,
) -> None:
    batch = running_import(processed=500, total=2000)
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert 'max="2000" value="500"' in html
    assert "500 of 2,000 entries imported" in html
    assert f'<a href="/imports/{batch.pk}/">Refresh</a>' in html
    assert f'data-progress-url="/imports/{batch.pk}/progress.json"' in html
    assert "catalogue/progress.js" in html
    assert "http-equiv" not in html


def test_job_no_worker_has_started_asks_whether_one_is_running(
    importer_client: Client, settings
) -> None:  # noqa: ANN001
    settings.CATALOGUE_JOB_STALE_SECONDS = 60
    batch = job(Status.PENDING)
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "db_worker" not in html
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=1))
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "Is <code>manage.py db_worker</code> running?" in html


# A worker that died -------------------------------------------------------------


def test_import_whose_worker_died_is_shown_stopped_and_resumes_without_duplicates(
    importer_client: Client, tmp_path: Path
) -> None:
    entries = list(generate_bibtex(600))
    # The worker committed the first chunk (500 entries), then was killed.
    first_part = tmp_path / "first.bib"
    first_part.write_text("".join(entries[:500]))
    batch = job(Status.QUEUED, preview={"total": 600})
    import_file(first_part, batch=batch)
    Path(batch.upload.path).write_text("".join(entries))
    long_ago = timezone.now() - timedelta(minutes=5)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=Status.IMPORTING, total_entries=600, heartbeat_at=long_ago, finished_at=None
    )
    assert Article.objects.count() == 500

    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.error) == (Status.FAILED, STALE_ERROR)
    assert STALE_ERROR in html
    assert "500 of 600 entries had been imported" in html
    assert f'action="/imports/{batch.pk}/resume/"' in html

    batch = post(importer_client, batch, "resume")
    assert (batch.status, batch.processed_entries) == (Status.DONE, 600)
    assert Article.objects.count() == 600
    assert batch.changes.count() == 600


def claimed_task(batch: ImportBatch, *, enqueued: object, started: object | None) -> None:
    """A run_import task for `batch` in the worker's table: taken (running) if `started`."""
    DBTaskResult.objects.create(
        task_path=run_import.module_path,
        args_kwargs={"args": [batch.pk], "kwargs": {}},
        status=TaskResultStatus.RUNNING if started else TaskResultStatus.READY,
        enqueued_at=enqueued,
        run_after=enqueued,
        started_at=started,
        backend_name="default",
        exception_class_path="",
        traceback="",
    )


def test_a_job_whose_task_was_taken_long_ago_and_never_started_is_shown_stopped(
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_JOB_STALE_SECONDS = 20
    long_ago = timezone.now() - timedelta(minutes=5)
    batch = job(Status.QUEUED, preview={"total": 3})
    # A worker took the task, then was killed before the task's first write.
    claimed_task(batch, enqueued=long_ago, started=long_ago)

    assert fail_stale_batches() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.error) == (Status.FAILED, STALE_ERROR)


def test_a_resumed_job_is_not_taken_for_stopped_because_of_its_killed_workers_task(
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_JOB_STALE_SECONDS = 20
    long_ago = timezone.now() - timedelta(minutes=5)
    batch = job(Status.QUEUED, preview={"total": 3}, started_at=long_ago)
    # The killed worker's task stays "running" in the worker's table; the
    # resume queued a new one that no worker has taken yet.
    claimed_task(batch, enqueued=long_ago, started=long_ago + timedelta(seconds=1))
    claimed_task(batch, enqueued=timezone.now(), started=None)

    assert fail_stale_batches() == 0
    batch.refresh_from_db()
    assert batch.status == Status.QUEUED


def test_preview_whose_worker_died_starts_over_on_resume(importer_client: Client) -> None:
    batch = job(Status.PREVIEWING, started_at=timezone.now() - timedelta(minutes=5))
    assert importer_client.get(f"/imports/{batch.pk}/progress.json").json()["status"] == "failed"
    batch = post(importer_client, batch, "resume")
    assert (batch.status, batch.preview["new"]) == (Status.PREVIEWED, 3)


def test_cancelling_a_stopped_import_takes_back_what_it_committed(
    importer_client: Client, tmp_path: Path
) -> None:
    first_part = tmp_path / "first.bib"
    first_part.write_text(entry("a1", title="One", year="2020"))
    batch = job(Status.QUEUED, preview={"total": 3})
    import_file(first_part, batch=batch)
    ImportBatch.objects.filter(pk=batch.pk).update(status=Status.FAILED, error=STALE_ERROR)
    assert Article.objects.count() == 1
    batch = post(importer_client, batch, "cancel")
    assert batch.status == Status.CANCELLED
    assert Article.objects.count() == 0


# Undo ---------------------------------------------------------------------------


def test_undo_asks_to_confirm_then_removes_what_the_import_created(
    undo_client: Client,
) -> None:
    import_bibtex(entry("old", title="Kept"), source_name="earlier.bib")
    batch = post(undo_client, upload(undo_client, THREE), "import")
    html = undo_client.get(f"/imports/{batch.pk}/").content.decode()
    assert f'href="/imports/{batch.pk}/undo/"' in html
    confirm = undo_client.get(f"/imports/{batch.pk}/undo/").content.decode()
    assert "The 3 articles it created will be deleted." in confirm
    assert Article.objects.count() == 4
    batch = post(undo_client, batch, "undo")
    assert batch.status == Status.UNDONE
    assert list(Article.objects.values_list("citation_key", flat=True)) == ["old"]
    assert "Undone on" in undo_client.get(f"/imports/{batch.pk}/").content.decode()


def test_undo_keeps_an_article_edited_since_and_says_why(undo_client: Client) -> None:
    batch = post(undo_client, upload(undo_client, THREE), "import")
    Article.objects.filter(citation_key="a2").update(title="Corrected by hand")
    post(undo_client, batch, "undo")
    assert list(Article.objects.values_list("citation_key", flat=True)) == ["a2"]
    html = undo_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "Kept as they are" in html
    assert "<code>a2</code>" in html


def test_undo_needs_the_undo_permission(importer_client: Client) -> None:
    batch = post(importer_client, upload(importer_client, THREE), "import")
    assert "/undo/" not in importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert importer_client.get(f"/imports/{batch.pk}/undo/").status_code == 403
    assert importer_client.post(f"/imports/{batch.pk}/undo/").status_code == 403
    assert Article.objects.count() == 3


# History ------------------------------------------------------------------------


def test_history_lists_every_import_newest_first_with_who_status_and_counts(
    importer_client: Client, importer_user: User
) -> None:
    import_bibtex(THREE, source_name="from-shell.bib")
    batch = upload(importer_client, entry("new", title="New"), name="mine.bib")
    response = importer_client.get("/imports/")
    assert [b.source_name for b in response.context["page"]] == ["mine.bib", "from-shell.bib"]
    html = response.content.decode()
    assert f'<a href="/imports/{batch.pk}/">mine.bib</a>' in html
    assert "<td>importer</td>" in html
    assert "preview ready" in html
    assert '<td class="number">3</td>' in html


def test_history_is_paginated(importer_client: Client) -> None:
    ImportBatch.objects.bulk_create(ImportBatch(source_name=f"{i}.bib") for i in range(30))
    assert len(importer_client.get("/imports/").context["page"]) == 25
    assert len(importer_client.get("/imports/?page=2").context["page"]) == 5


@pytest.mark.parametrize("count", [1, 3])
def test_history_queries_do_not_grow_with_the_batches(
    importer_client: Client, importer_user: User, django_assert_num_queries, count: int
) -> None:  # noqa: ANN001
    ImportBatch.objects.bulk_create(
        ImportBatch(source_name=f"{i}.bib", created_by=importer_user) for i in range(count)
    )
    # session, user, user and group permissions, stale check (tasks taken but
    # never started, finished jobs still holding a file, then batches), count, page
    with django_assert_num_queries(9):
        importer_client.get("/imports/")


def test_imports_link_is_in_the_menu_only_for_importers(
    client: Client, importer_client: Client
) -> None:
    assert 'href="/imports/"' in importer_client.get("/").content.decode()
    assert 'href="/imports/"' not in client.get("/").content.decode()


# Who may do what ------------------------------------------------------------------

PAGES = ["/upload/", "/imports/", "/imports/{pk}/", "/imports/{pk}/progress.json"]
ACTIONS = ["import", "resume", "cancel", "undo"]


@pytest.mark.parametrize("url", PAGES + [f"/imports/{{pk}}/{a}/" for a in ACTIONS])
def test_anonymous_user_is_sent_to_sign_in(client: Client, url: str) -> None:
    url = url.format(pk=job(Status.PREVIEWED).pk)
    response = client.post(url) if url.rstrip("/").split("/")[-1] in ACTIONS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES + [f"/imports/{{pk}}/{a}/" for a in ACTIONS])
def test_user_without_import_permission_is_refused(client: Client, url: str) -> None:
    client.force_login(user_with())
    url = url.format(pk=job(Status.PREVIEWED).pk)
    response = client.post(url) if url.rstrip("/").split("/")[-1] in ACTIONS else client.get(url)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("import", Status.PREVIEWED),
        ("cancel", Status.PREVIEWED),
        ("resume", Status.FAILED),
        ("undo", Status.DONE),
    ],
)
def test_every_action_needs_a_csrf_token(action: str, status: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with("import_bibtex", "undo_importbatch"))
    batch = job(status, preview={"total": 3})
    assert client.post(f"/imports/{batch.pk}/{action}/").status_code == 403
    batch.refresh_from_db()
    assert batch.status == status


def test_upload_needs_a_csrf_token(importer_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(importer_user)
    assert client.post("/upload/", {"text": THREE}).status_code == 403
    assert ImportBatch.objects.count() == 0


def test_actions_refuse_get(importer_client: Client) -> None:
    batch = job(Status.PREVIEWED, preview={"total": 3})
    for action in ("import", "resume", "cancel"):
        assert importer_client.get(f"/imports/{batch.pk}/{action}/").status_code == 405


# The command line ----------------------------------------------------------------


def test_command_dry_run_prints_the_preview_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(THREE + "@article{bad,\n title = {Open\n\n")
    call_command("import_bibtex", str(path), "--dry-run", "--no-progress")
    out = capsys.readouterr().out
    assert f"{path}: would create 3, update 0, leave 0 unchanged" in out
    assert "nothing was written" in out
    assert "(bad)" in out
    assert (Article.objects.count(), ImportBatch.objects.count()) == (0, 0)


# A real worker, killed ------------------------------------------------------------


def _manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_worker_is_detected_and_a_new_one_finishes_the_import(tmp_path: Path) -> None:
    n = 2000
    database = tmp_path / "jobs.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        MEDIA_ROOT=str(tmp_path / "media"),
        CATALOGUE_JOB_STALE_SECONDS="1",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    source = tmp_path / "big.bib"
    source.write_text(generated(n))
    _manage(env, "migrate", "--verbosity", "0")
    # An upload whose preview the user has accepted: the import is queued.
    out = _manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        f"""
from django.core.files import File
from catalogue.models import ImportBatch
from catalogue.tasks import start_import
batch = ImportBatch(source_name="big.bib", status="previewed", preview={{"total": {n}}})
batch.upload.save("big.bib", File(open({str(source)!r}, "rb")), save=True)
start_import(batch)
print(batch.pk)
""",
    )
    pk = int(out.split()[-1])

    def batch_row() -> tuple[str, int, int]:
        with sqlite3.connect(database, timeout=20) as db:
            return db.execute(
                "SELECT status, processed_entries, total_entries FROM catalogue_importbatch"
                " WHERE id = ?",
                (pk,),
            ).fetchone()

    worker_args = ["db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"]
    worker = subprocess.Popen(
        [sys.executable, "manage.py", *worker_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: batch_row()[1] > 0, 60, "the worker to commit a chunk")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    status, processed, total = batch_row()
    assert (status, total) == ("importing", n)
    assert 0 < processed < n, "the import finished before the kill; make n bigger"

    time.sleep(1.2)  # CATALOGUE_JOB_STALE_SECONDS=1
    # What the user sees on the job's page, and their click on Resume.
    out = _manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        f"""
from django.contrib.auth.models import Permission, User
from django.test import Client
user = User.objects.create_user("importer")
user.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
client = Client()
client.force_login(user)
page = client.get("/imports/{pk}/").content.decode()
print("stopped" if "The worker stopped" in page and "/resume/" in page else page)
print(client.post("/imports/{pk}/resume/").status_code)
""",
    )
    assert out.split() == ["stopped", "302"], out
    _manage(env, *worker_args, "--batch", "--verbosity", "0")

    assert batch_row() == ("done", n, n)
    with sqlite3.connect(database) as db:
        articles, keys = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT source_key) FROM catalogue_article"
        ).fetchone()
    assert (articles, keys) == (n, n)
