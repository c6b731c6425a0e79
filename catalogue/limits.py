"""Limits against abuse: sign-in lockouts, uploads per hour, entries per upload.

Password guessing is counted by django-axes (configured in settings.py); this
module gives it the client's address (`client_ip`) and the page a locked-out
sign-in gets (`lockout_response`). The upload limits are the catalogue's own:
`next_upload_at` for the upload form, `check_entry_count` for the worker that
reads an upload.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timeuntil

from catalogue.models import ImportBatch

HOUR = timedelta(hours=1)


# Signing in --------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str | None:
    """The address a sign-in came from, as the lockout counts it.

    Behind the HTTPS proxy (BEHIND_HTTPS_PROXY, which sets
    SECURE_PROXY_SSL_HEADER) every request comes from the proxy, which
    appends the address it saw to X-Forwarded-For: the last entry is the only
    one a client cannot write itself. Without the proxy the header is
    ignored, as anyone may send it. Anything that is not an IP address gives
    None, which the database stores as such.

    >>> request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    >>> client_ip(request)  # behind the proxy; without it, REMOTE_ADDR: '127.0.0.1'
    '203.0.113.7'
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        address = forwarded or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The "429 Too Many Requests" page for a locked-out sign-in, site or admin.

    django-axes calls it (AXES_LOCKOUT_CALLABLE) after recording the attempt,
    which starts the cool-off over, so the whole cool-off is left to wait.
    """
    cool_off = get_cool_off(request)
    now = timezone.now()
    response = render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": get_failure_limit(request, credentials),
            "username": get_client_username(request, credentials) or "",
            "wait": timeuntil(now + cool_off, now) if cool_off else None,
        },
        status=429,
    )
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


# Uploading ---------------------------------------------------------------------


def next_upload_at(
    user: AbstractBaseUser | AnonymousUser, *, now: datetime | None = None
) -> datetime | None:
    """When `user` may start another upload, or None if they may now.

    Their batches of the last hour count against CATALOGUE_UPLOADS_PER_HOUR
    (0: no limit), whatever became of them. Being rows in the database, they
    count alike in every process; two uploads at the same instant may both
    get through, which a limit on the pace of work can allow.

    >>> next_upload_at(user)  # 20 in the last hour, the earliest at 14:05
    datetime.datetime(2025, 5, 6, 15, 5, tzinfo=datetime.timezone.utc)
    """
    limit = settings.CATALOGUE_UPLOADS_PER_HOUR
    if not limit or not user.pk:
        return None
    now = now or timezone.now()
    recent = ImportBatch.objects.filter(created_by=user.pk, created_at__gt=now - HOUR)
    # The earliest of the `limit` latest uploads frees its place an hour on.
    earliest = list(
        recent.order_by("-created_at").values_list("created_at", flat=True)[limit - 1 : limit]
    )
    return earliest[0] + HOUR if earliest else None


class TooManyEntries(Exception):
    """A web upload holds more entries than CATALOGUE_UPLOAD_MAX_ENTRIES."""


def check_entry_count(count: int, *, at_least: bool = False) -> None:
    """Raise TooManyEntries if an upload of `count` entries is over the limit.

    `at_least`: more entries may follow (the file is still being read).

    >>> check_entry_count(1_250)  # with CATALOGUE_UPLOAD_MAX_ENTRIES = 1000
    Traceback (most recent call last):
    TooManyEntries: The file has 1,250 entries; uploads are limited to 1,000. ...
    """
    limit = settings.CATALOGUE_UPLOAD_MAX_ENTRIES
    if limit and count > limit:
        has = f"at least {count:,}" if at_least else f"{count:,}"
        raise TooManyEntries(
            f"The file has {has} entries; uploads are limited to {limit:,}. "
            "Split it into smaller files, or ask an administrator to import it "
            "on the server with `manage.py import_bibtex`."
        )
