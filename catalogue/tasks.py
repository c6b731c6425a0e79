"""Uploads as background jobs: read for a preview, then import, on a worker.

An upload becomes an `ImportBatch` holding the file (`create_upload`) and a
`preview_import` task. When the preview is ready the user imports
(`start_import` enqueues `run_import`) or cancels (`cancel`). A job whose
worker died is noticed by its silent heartbeat (`fail_stale_batches`) and can
be resumed (`resume`): an import carries on after the entries it had
committed.

The tasks run on `manage.py db_worker`; the functions that change a batch's
state run in the web request. Every state change is a conditional UPDATE
(`_move`), so a double click or a second worker cannot start a job twice.

>>> batch = create_upload(uploaded_file, name="refs.bib", user=request.user)
>>> # ... the worker reads it; batch.status becomes "previewed"
>>> start_import(batch)
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from catalogue.bibtex import UnreadableFile
from catalogue.importer import import_file, preview_file, undo_batch
from catalogue.limits import TooManyEntries, check_entry_count
from catalogue.models import ImportBatch

logger = logging.getLogger(__name__)

Status = ImportBatch.Status

STALE_ERROR = (
    "The worker stopped, or could not write to the database (see its log): resume or cancel."
)
STOPPED_ERROR = "The worker was stopped while running this job — resume or cancel."
# How often a preview writes its progress; an import writes once per chunk.
PROGRESS_INTERVAL_SECONDS = 1.0
# Where uploads wait (ImportBatch.upload's upload_to, without the dated folders).
UPLOADS = "imports"
# Jobs that need their uploaded file no more.
FINISHED = (Status.DONE, Status.CANCELLED, Status.UNDONE)
# A worker is running these; the other states wait for a worker or the user.
WORKING = (Status.PREVIEWING, Status.IMPORTING)


def _move(batch: ImportBatch, from_: tuple[str, ...], **values: Any) -> bool:
    """Set `values` on `batch` if its status is still one of `from_`.

    Returns whether it did; `batch` is refreshed either way.
    """
    moved = ImportBatch.objects.filter(pk=batch.pk, status__in=from_).update(**values)
    batch.refresh_from_db()
    return bool(moved)


def _discard_upload(batch: ImportBatch) -> None:
    """Delete the uploaded file: the batch is finished with it.

    The batch lets go of it first: a worker killed in between leaves a file
    that no batch holds, which `remove_abandoned_uploads` deletes later.
    """
    if batch.upload:
        name = batch.upload.name
        ImportBatch.objects.filter(pk=batch.pk).update(upload="")
        batch.upload.storage.delete(name)
        batch.upload = ""


# Starting, resuming and cancelling (called from the views) --------------------


def create_upload(file: File, *, name: str, user: AbstractBaseUser | None) -> ImportBatch:
    """Store an uploaded file as a pending batch and queue its preview.

    The batch and its task commit together: a web worker killed in between
    leaves neither, never a batch that no worker will preview. The file is
    written first; one left without a batch is removed by the next upload.
    """
    remove_abandoned_uploads()
    batch = ImportBatch(
        source_name=name[:300],
        created_by=user if user is not None and user.pk else None,
        status=Status.PENDING,
    )
    with transaction.atomic():
        batch.upload.save(file.name or "upload.bib", file, save=True)
        preview_import.enqueue(batch.pk)
    batch.refresh_from_db()
    return batch


def remove_abandoned_uploads() -> int:
    """Delete uploaded files that no batch holds; return how many.

    A web worker killed while saving an upload leaves its file behind. Only
    files older than CATALOGUE_JOB_STALE_SECONDS go, so that an upload being
    saved at this moment, its batch not yet committed, is left alone.
    """
    folder = Path(settings.MEDIA_ROOT) / UPLOADS
    if not folder.is_dir():
        return 0
    held = {
        Path(settings.MEDIA_ROOT, name).resolve()
        for name in ImportBatch.objects.exclude(upload="").values_list("upload", flat=True)
    }
    cutoff = stale_cutoff().timestamp()
    removed = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.resolve() not in held and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def start_import(batch: ImportBatch) -> bool:
    """Queue the import of a previewed batch; False if it was not previewed."""
    total = (batch.preview or {}).get("total", 0)
    fresh = {"processed_entries": 0, "total_entries": total, "started_at": None}
    if not _move(batch, (Status.PREVIEWED,), status=Status.QUEUED, heartbeat_at=None, **fresh):
        return False
    run_import.enqueue(batch.pk)
    batch.refresh_from_db()
    return True


def can_resume(batch: ImportBatch) -> bool:
    """A failed job can run again if its file is still there."""
    return batch.status == Status.FAILED and bool(batch.upload)


def resume(batch: ImportBatch) -> bool:
    """Run a failed job again: an import carries on after what it committed,
    a preview starts over."""
    if not can_resume(batch):
        return False
    if batch.preview is None:
        fresh = {"processed_entries": 0, "total_entries": 0, "heartbeat_at": None}
        if not _move(batch, (Status.FAILED,), status=Status.PENDING, error="", **fresh):
            return False
        preview_import.enqueue(batch.pk)
    else:
        # Keep the rate shown honest: count only the time the job was running.
        started_at = None
        if batch.started_at and batch.heartbeat_at:
            started_at = timezone.now() - (batch.heartbeat_at - batch.started_at)
        if not _move(
            batch,
            (Status.FAILED,),
            status=Status.QUEUED,
            error="",
            heartbeat_at=None,
            started_at=started_at,
            finished_at=None,
        ):
            return False
        run_import.enqueue(batch.pk)
    batch.refresh_from_db()
    return True


CANCELLABLE = (Status.PENDING, Status.PREVIEWED, Status.QUEUED, Status.FAILED)


def can_cancel(batch: ImportBatch) -> bool:
    return batch.status in CANCELLABLE


def cancel(batch: ImportBatch, *, user: AbstractBaseUser | None) -> bool:
    """Give up on a batch that is not running; take back anything it committed.

    A job is cancelled before a worker starts it (the task then finds it
    cancelled and does nothing), after its preview, or after it failed.
    An import that stopped part way has committed some chunks: those are
    undone, so a cancelled batch leaves the catalogue as it was.
    """
    if not _move(batch, CANCELLABLE, status=Status.CANCELLED, finished_at=timezone.now()):
        return False
    if batch.changes.exists():
        undo_batch(batch, user=user)
        ImportBatch.objects.filter(pk=batch.pk).update(status=Status.CANCELLED)
        batch.refresh_from_db()
    _discard_upload(batch)
    batch.refresh_from_db()
    return True


def stale_cutoff() -> Any:
    return timezone.now() - timedelta(seconds=settings.CATALOGUE_JOB_STALE_SECONDS)


def fail_stale_batches(*, pk: int | None = None) -> int:
    """Mark running jobs whose worker has gone silent as failed; return how many.

    A worker writes `heartbeat_at` as it goes (a preview about once a
    second, an import once per chunk). If it is older than
    `CATALOGUE_JOB_STALE_SECONDS`, the worker was killed or restarted and
    nothing will finish the job: say so, so that the user can resume it.
    If the worker was merely slow, its next write sets the status back.

    A job that finished, but whose worker was killed before it deleted the
    uploaded file, lets go of the file here.
    """
    batches = ImportBatch.objects.all() if pk is None else ImportBatch.objects.filter(pk=pk)
    for batch in batches.filter(status__in=FINISHED).exclude(upload=""):
        _discard_upload(batch)
    cutoff = stale_cutoff()
    stale = batches.filter(
        Q(status__in=WORKING)
        & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        | Q(status__in=(Status.PENDING, Status.QUEUED), pk__in=_claimed_long_ago(cutoff))
    )
    return stale.update(status=Status.FAILED, error=STALE_ERROR)


def _claimed_long_ago(cutoff: Any) -> set[int]:
    """Batches whose latest task a worker took before `cutoff` but never started.

    A worker killed between taking a task (which marks it running, so no
    other worker takes it) and the task's first write leaves the batch
    pending or queued, and nothing else would ever move it. A killed
    worker's task stays "running" in the worker's table for good, so only a
    batch's latest task counts: once the batch is resumed, a new task waits
    for the next worker.
    """
    waiting = ImportBatch.objects.filter(status__in=(Status.PENDING, Status.QUEUED))
    tasks = DBTaskResult.objects.filter(
        task_path__in=[preview_import.module_path, run_import.module_path],
        args_kwargs__args__0__in=list(waiting.values_list("pk", flat=True)),
    ).order_by("enqueued_at")
    latest = {
        call["args"][0]: (status, started_at)
        for call, status, started_at in tasks.values_list("args_kwargs", "status", "started_at")
    }
    return {
        pk
        for pk, (status, started_at) in latest.items()
        if status == TaskResultStatus.RUNNING and started_at and started_at < cutoff
    }


def is_waiting_long(batch: ImportBatch) -> bool:
    """Queued long ago and no worker has started it: is one running?"""
    waiting_since = batch.heartbeat_at or batch.created_at
    return batch.status in (Status.PENDING, Status.QUEUED) and waiting_since < stale_cutoff()


# The tasks (run by `manage.py db_worker`) ---------------------------------------


@task()
def preview_import(batch_id: int) -> str:
    """Read a pending batch's file and store what importing it would do."""
    batch = ImportBatch.objects.get(pk=batch_id)
    now = timezone.now()
    claimed = _move(
        batch,
        (Status.PENDING,),
        status=Status.PREVIEWING,
        started_at=now,
        heartbeat_at=now,
        processed_entries=0,
        total_entries=0,
    )
    if not claimed:
        return f"skipped: batch {batch_id} is {batch.status}"
    last_write = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_write
        # `total` is counted before the first entry is read, so a file over the
        # limit stops after its first chunk; one whose entries the count misses
        # (several on a line) stops once the reading passes the limit.
        check_entry_count(total, at_least=done >= total)
        if time.monotonic() - last_write < PROGRESS_INTERVAL_SECONDS:
            return
        last_write = time.monotonic()
        _previewing(batch_id).update(
            status=Status.PREVIEWING,
            processed_entries=done,
            total_entries=total,
            heartbeat_at=timezone.now(),
        )

    try:
        preview = preview_file(batch.upload.path, progress=progress).as_dict()
    except UnreadableFile as error:
        _fail(batch, str(error))
        _discard_upload(batch)  # reading it again would say the same
        return "unreadable"
    except TooManyEntries as error:
        _fail(batch, str(error))
        _discard_upload(batch)  # a resume would refuse it again
        return "too many entries"
    except Exception as error:
        logger.exception("Preview of import batch %s failed", batch_id)
        _fail(batch, f"Reading the file failed: {_short(error)}")
        return "failed"
    except BaseException:
        # The worker is being stopped (a second Ctrl+C or SIGTERM).
        _fail(batch, STOPPED_ERROR)
        raise
    total = preview["total"]
    _previewing(batch_id).update(
        status=Status.PREVIEWED,
        error="",
        preview=preview,
        processed_entries=total,
        total_entries=total,
        heartbeat_at=timezone.now(),
    )
    return "previewed"


def _previewing(batch_id: int) -> QuerySet[ImportBatch]:
    """The batch, if this preview still owns it: previewing, or taken for
    stopped while it was only slow (and so not resumed or cancelled since)."""
    return ImportBatch.objects.filter(
        Q(status=Status.PREVIEWING) | Q(status=Status.FAILED, error=STALE_ERROR), pk=batch_id
    )


@task()
def run_import(batch_id: int) -> str:
    """Import a queued batch's file; resumes after what it already committed."""
    batch = ImportBatch.objects.get(pk=batch_id)
    if not _move(batch, (Status.QUEUED,), status=Status.IMPORTING, heartbeat_at=timezone.now()):
        return f"skipped: batch {batch_id} is {batch.status}"
    try:
        import_file(batch.upload.path, batch=batch)
    except UnreadableFile as error:
        # Raised before anything is written.
        _fail(batch, str(error))
        _discard_upload(batch)
        return "unreadable"
    except Exception as error:
        # import_file has undone what the batch wrote and reset its progress,
        # so a resume starts over.
        logger.exception("Import batch %s failed", batch_id)
        try:
            batch.refresh_from_db()
            if batch.status in (Status.QUEUED, Status.CANCELLED):
                # Resumed or cancelled while this import waited to undo itself.
                return "failed"
            _fail(batch, batch.error or f"The import failed and was undone: {_short(error)}")
        except DatabaseError:
            # Nothing can be written (a read-only database): once it can be,
            # the silent heartbeat marks the job stopped, to resume or cancel.
            logger.critical("Import batch %s failed, and that could not be recorded", batch_id)
            raise
        return "failed"
    except BaseException:
        # The worker is being stopped: the chunks committed so far stay, and
        # a resume carries on after them.
        _fail(batch, STOPPED_ERROR)
        raise
    _discard_upload(batch)
    return "done"


def _fail(batch: ImportBatch, message: str, **values: Any) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=Status.FAILED, error=message[:2000], finished_at=timezone.now(), **values
    )
    batch.refresh_from_db()


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
