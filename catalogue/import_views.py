"""The import pages: upload, a job's progress and preview, history, undo.

Every page needs the "Can import BibTeX files" permission; undoing needs
"Can undo imports" too. The work happens on the background worker (see
`catalogue.tasks`); these views only show a batch's state and move it on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import IO

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import RequestDataTooBig
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalogue import limits, tasks
from catalogue.bibtex import UnreadableFile, decode_bytes
from catalogue.forms import UploadForm
from catalogue.importer import undo_batch
from catalogue.models import ArticleChange, ImportBatch

HISTORY_PAGE_SIZE = 25
# The upload view refuses PDFs, archives and empty files at once, from the
# first bytes; the worker reads the whole file.
SNIFF_BYTES = 64 * 1024

Status = ImportBatch.Status

can_import = permission_required("catalogue.import_bibtex", raise_exception=True)
can_undo = permission_required("catalogue.undo_importbatch", raise_exception=True)


@login_required
@can_import
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """A file or pasted text becomes a batch whose preview a worker prepares."""
    if request.method == "POST" and (next_at := limits.next_upload_at(request.user)):
        return _upload_limit_reached(request, next_at)
    try:
        form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    except RequestDataTooBig:
        limit = filesizeformat(settings.CATALOGUE_UPLOAD_MAX_BYTES)
        return _upload_page(
            request,
            UploadForm(),
            status=400,
            refusal=f"The pasted text is over the {limit} limit; "
            "upload it as a file instead, or split it.",
        )
    if form.is_bound and form.is_valid():
        file, name = _uploaded(form)
        try:
            _check_readable(file)
        except UnreadableFile as error:
            form.add_error("file" if form.cleaned_data.get("file") else "text", str(error))
        else:
            batch = tasks.create_upload(file, name=name, user=request.user)
            return redirect(batch)
    return _upload_page(request, form, status=400 if form.is_bound or form.errors else 200)


def _upload_page(
    request: HttpRequest, form: UploadForm, *, status: int, refusal: str = ""
) -> HttpResponse:
    """The form; `refusal` says why a post was turned away before the form read it."""
    return render(
        request,
        "catalogue/upload.html",
        {
            "form": form,
            "refusal": refusal,
            "upload_limit": settings.CATALOGUE_UPLOAD_MAX_BYTES,
            "max_entries": settings.CATALOGUE_UPLOAD_MAX_ENTRIES,
            "uploads_per_hour": settings.CATALOGUE_UPLOADS_PER_HOUR,
        },
        status=status,
    )


def _upload_limit_reached(request: HttpRequest, next_at: datetime) -> HttpResponse:
    """429 with the form, saying when the next upload is possible; nothing is stored."""
    wait = (next_at - timezone.now()).total_seconds()
    refusal = (
        f"Uploads are limited to {settings.CATALOGUE_UPLOADS_PER_HOUR:,} an hour for each "
        "user, and you have made that many in the last hour. The next upload is possible at "
        f"{timezone.localtime(next_at):%H:%M %Z} (in {_duration(wait)})."
    )
    response = _upload_page(request, UploadForm(), status=429, refusal=refusal)
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _uploaded(form: UploadForm) -> tuple[File, str]:
    """The file to store and a name for the batch; pasted text becomes a file."""
    file = form.cleaned_data.get("file")
    if file:
        return file, file.name
    return ContentFile(form.cleaned_data["text"].encode("utf-8"), name="pasted.bib"), "pasted text"


def _check_readable(file: IO[bytes]) -> None:
    """Raise UnreadableFile for a PDF, an archive, an image or an empty file."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    more = bool(file.read(1))
    file.seek(0)
    if more and not head.strip():
        return  # only leading blank space so far: the worker reads the rest
    decode_bytes(head)


@dataclass(frozen=True)
class JobProgress:
    """How far a job has got, as the page and progress.json show it."""

    processed: int
    total: int
    rate: float | None  # entries a second
    eta: float | None  # seconds left
    text: str


def job_progress(batch: ImportBatch, now: datetime | None = None) -> JobProgress:
    """Entries done of total, rate and time left, from `started_at` on.

    >>> job_progress(batch).text
    '5,000 of 20,000 entries imported · 1,250 a second · about 12 seconds left'
    """
    now = now or timezone.now()
    processed, total = batch.processed_entries, batch.total_entries
    rate = eta = None
    if batch.status in tasks.WORKING and batch.started_at and processed:
        elapsed = (now - batch.started_at).total_seconds()
        if elapsed > 0:
            rate = processed / elapsed
            eta = max(total - processed, 0) / rate
    if batch.status in (Status.PENDING, Status.QUEUED):
        text = "Waiting for the background worker to start…"
    elif not total:
        text = "Counting the entries…"
    else:
        # Before the import proper, entries have only been read for the preview.
        imported = batch.status in (Status.IMPORTING, Status.DONE, Status.UNDONE) or (
            batch.status == Status.FAILED and batch.started_at is not None
        )
        verb = "imported" if imported else "read"
        parts = [f"{processed:,} of {total:,} entries {verb}"]
        if rate:
            parts.append(f"{rate:,.0f} a second")
        if eta is not None and processed < total:
            parts.append(f"about {_duration(eta)} left")
        text = " · ".join(parts)
    return JobProgress(processed=processed, total=total, rate=rate, eta=eta, text=text)


def _duration(seconds: float) -> str:
    if seconds < 60:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes / 60:.1f} hours"


def _batch(pk: int) -> ImportBatch:
    # A job whose worker died is failed here, so its page offers to resume it.
    tasks.fail_stale_batches(pk=pk)
    return get_object_or_404(ImportBatch.objects.select_related("created_by", "undone_by"), pk=pk)


@login_required
@can_import
@require_GET
def import_batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(pk)
    return render(
        request,
        "catalogue/import_batch_detail.html",
        {
            "batch": batch,
            "progress": job_progress(batch),
            "waiting_long": tasks.is_waiting_long(batch),
            "can_cancel": tasks.can_cancel(batch),
            "can_resume": tasks.can_resume(batch),
            "committed": batch.status == Status.FAILED and batch.changes.exists(),
            "can_undo": batch.status == Status.DONE
            and request.user.has_perm("catalogue.undo_importbatch"),
        },
    )


@never_cache
@login_required
@can_import
@require_GET
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """What progress.js polls: the page reloads itself when `status` changes."""
    batch = _batch(pk)
    return JsonResponse(
        {
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "running": batch.is_running,
            **asdict(job_progress(batch)),
            "url": batch.get_absolute_url(),
        }
    )


@login_required
@can_import
@require_POST
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Import a previewed batch. A second click finds it queued and does nothing."""
    tasks.start_import(get_object_or_404(ImportBatch, pk=pk))
    return redirect("catalogue:import-batch-detail", pk=pk)


@login_required
@can_import
@require_POST
def import_resume(request: HttpRequest, pk: int) -> HttpResponse:
    tasks.resume(_batch(pk))
    return redirect("catalogue:import-batch-detail", pk=pk)


@login_required
@can_import
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    tasks.cancel(_batch(pk), user=request.user)
    return redirect("catalogue:import-batch-detail", pk=pk)


@login_required
@can_import
@can_undo
@require_http_methods(["GET", "POST"])
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm, saying what will happen; POST undoes the import."""
    batch = get_object_or_404(ImportBatch.objects.select_related("created_by"), pk=pk)
    if batch.status != Status.DONE:
        return redirect(batch)
    if request.method == "POST":
        undo_batch(batch, user=request.user)
        return redirect(batch)
    Action = ArticleChange.Action
    counts = batch.changes.aggregate(
        created=Count("pk", filter=Q(action=Action.CREATED)),
        updated=Count("pk", filter=Q(action=Action.UPDATED)),
    )
    return render(request, "catalogue/import_undo_confirm.html", {"batch": batch, **counts})


@login_required
@can_import
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    """Every import, newest first."""
    tasks.fail_stale_batches()
    batches = ImportBatch.objects.select_related("created_by").order_by("-created_at", "-pk")
    page = Paginator(batches, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalogue/import_list.html", {"page": page})
