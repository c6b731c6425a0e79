"""Limits against abuse: sign-in lockouts against password guessing, uploads
per user and hour, and entries per upload."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.utils import timezone

from catalogue.models import Article, ImportBatch
from tests.conftest import entry
from tests.test_settings import manage

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
SIGN_IN_PAGES = ["/accounts/login/", "/admin/login/"]


# Signing in --------------------------------------------------------------------


def staff_user(username: str = "alice") -> User:
    """Staff, so that the admin's sign-in would let them in too."""
    return User.objects.create_user(username, password=PASSWORD, is_staff=True)


def sign_in(client: Client, page: str, username: str, password: str) -> HttpResponse:
    return client.post(page, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_locked(client: Client, page: str, username: str = "alice") -> list[int]:
    """Wrong passwords up to the limit; the status of each answer."""
    return [
        sign_in(client, page, username, f"wrong-{n}").status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]


def cool_off_passes(by: timedelta) -> None:
    """Move every recorded failure `by` into the past."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


@pytest.mark.parametrize("page", SIGN_IN_PAGES)
def test_sign_in_is_locked_after_the_failure_limit_even_with_the_right_password(
    page: str,
) -> None:
    staff_user()
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT

    statuses = fail_until_locked(client, page)
    response = sign_in(client, page, "alice", PASSWORD)

    assert statuses == [200] * (limit - 1) + [429]
    assert response.status_code == 429
    assert not signed_in(client)
    html = response.content.decode()
    assert f"After {limit} failed attempts to sign in as “alice” from this address" in html
    assert "Wait 15\xa0minutes before you try again." in html
    assert response["Retry-After"] == "900"


def test_the_lockout_page_is_the_sites_own_with_its_security_policy() -> None:
    staff_user()
    client = Client()
    fail_until_locked(client, "/admin/login/")

    response = sign_in(client, "/admin/login/", "alice", PASSWORD)

    html = response.content.decode()
    assert "<title>Too many attempts – Literature catalogue</title>" in html
    assert '<a class="site-name" href="/">Literature catalogue</a>' in html
    assert "Traceback" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("page", SIGN_IN_PAGES)
def test_a_lockout_leaves_other_users_and_other_addresses_free(page: str) -> None:
    staff_user("alice")
    staff_user("bob")
    fail_until_locked(Client(REMOTE_ADDR="192.0.2.1"), page, "alice")

    bob_there = Client(REMOTE_ADDR="192.0.2.1")
    alice_elsewhere = Client(REMOTE_ADDR="192.0.2.2")

    assert sign_in(bob_there, page, "bob", PASSWORD).status_code == 302
    assert sign_in(alice_elsewhere, page, "alice", PASSWORD).status_code == 302
    assert signed_in(bob_there)
    assert signed_in(alice_elsewhere)


@pytest.mark.parametrize("page", SIGN_IN_PAGES)
def test_the_lockout_ends_once_the_cool_off_has_passed(page: str) -> None:
    staff_user()
    client = Client()
    fail_until_locked(client, page)

    cool_off_passes(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    response = sign_in(client, page, "alice", PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_an_attempt_during_the_lockout_starts_the_wait_over() -> None:
    staff_user()
    client = Client()
    fail_until_locked(client, "/accounts/login/")
    cool_off_passes(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))

    during = sign_in(client, "/accounts/login/", "alice", PASSWORD)
    cool_off_passes(timedelta(minutes=2))
    after_the_first_wait = sign_in(client, "/accounts/login/", "alice", PASSWORD)

    assert during.status_code == 429
    assert after_the_first_wait.status_code == 429
    assert not signed_in(client)


def test_a_successful_sign_in_clears_the_failures_before_it() -> None:
    staff_user()
    client = Client()
    almost = settings.AXES_FAILURE_LIMIT - 1
    for n in range(almost):
        sign_in(client, "/accounts/login/", "alice", f"wrong-{n}")
    assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    statuses = [
        sign_in(client, "/accounts/login/", "alice", f"again-{n}").status_code
        for n in range(almost)
    ]

    assert statuses == [200] * almost
    assert sign_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302


def test_without_the_proxy_a_forged_forwarded_for_does_not_escape_the_lockout(
    settings,  # noqa: ANN001
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = None
    staff_user()
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
            "/accounts/login/", {"username": "alice", "password": f"wrong-{n}"}
        )

    forged = Client(HTTP_X_FORWARDED_FOR="198.51.100.200")

    assert sign_in(forged, "/accounts/login/", "alice", PASSWORD).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_the_proxy_the_lockout_counts_the_address_the_proxy_saw(
    settings,  # noqa: ANN001
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    staff_user()
    # The proxy appends the address it saw; what comes before it, the client wrote.
    guesser = Client(HTTP_X_FORWARDED_FOR="203.0.113.7")
    fail_until_locked(guesser, "/accounts/login/")

    same_guesser_forging = Client(HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7")
    someone_else = Client(HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert sign_in(same_guesser_forging, "/accounts/login/", "alice", PASSWORD).status_code == 429
    assert sign_in(someone_else, "/accounts/login/", "alice", PASSWORD).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_the_test_clients_login_works_when_given_a_request() -> None:
    """axes refuses to authenticate without a request, so that no way of
    signing in escapes the count; tests pass an empty one (or force_login)."""
    staff_user()
    client = Client()

    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert signed_in(client)


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, "5 0:15:00 [['username', 'ip_address']] True"),
        (
            {
                "AXES_FAILURE_LIMIT": "10",
                "AXES_COOLOFF_MINUTES": "60",
                "AXES_LOCKOUT_PARAMETERS": "ip_address,username+user_agent",
            },
            "10 1:00:00 ['ip_address', ['username', 'user_agent']] False",
        ),
        ({"AXES_COOLOFF_MINUTES": "0"}, "5 None [['username', 'ip_address']] True"),
    ],
)
def test_lockout_settings_come_from_the_environment(env: dict[str, str], printed: str) -> None:
    names = (
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "AXES_LOCKOUT_PARAMETERS",
        "AXES_RESET_ON_SUCCESS",
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings as s; print(*(getattr(s, n) for n in {names}))",
        **env,
    )
    assert result.stdout.strip() == printed, result.stderr


def test_an_unknown_lockout_parameter_stops_the_start() -> None:
    result = manage("check", AXES_LOCKOUT_PARAMETERS="usename+ip_address")

    assert result.returncode != 0
    assert "AXES_LOCKOUT_PARAMETERS: unknown usename" in result.stderr


# Uploads per hour -----------------------------------------------------------------


def importer(username: str = "importer", **fields: object) -> Client:
    user = User.objects.create_user(username, password=PASSWORD, **fields)
    user.user_permissions.add(Permission.objects.get(codename="import_bibtex"))
    client = Client()
    client.force_login(user)
    return client


def paste(client: Client, key: str = "k") -> HttpResponse:
    return client.post("/upload/", {"text": entry(key, title="Pasted")})


def test_upload_over_the_hourly_limit_answers_429_saying_when_the_next_is_possible(
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_UPLOADS_PER_HOUR = 2
    client = importer()
    assert [paste(client, "a").status_code, paste(client, "b").status_code] == [302, 302]
    first = ImportBatch.objects.earliest("created_at").created_at

    response = paste(client, "c")

    assert response.status_code == 429
    assert ImportBatch.objects.count() == 2
    next_at = timezone.localtime(first + timedelta(hours=1))
    assert response.context["refusal"] == (
        "Uploads are limited to 2 an hour for each user, and you have made that many in the "
        f"last hour. The next upload is possible at {next_at:%H:%M} UTC (in 60 minutes)."
    )
    assert response.context["refusal"] in response.content.decode()
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert 'name="text"' in response.content.decode()
    assert client.get("/upload/").status_code == 200


def test_uploads_older_than_an_hour_no_longer_count(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOADS_PER_HOUR = 1
    client = importer()
    paste(client, "a")
    ImportBatch.objects.update(created_at=F("created_at") - timedelta(minutes=61))

    assert paste(client, "b").status_code == 302


def test_each_user_has_an_upload_limit_of_their_own(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOADS_PER_HOUR = 1
    first, second = importer("first"), importer("second")

    assert [paste(first).status_code, paste(first).status_code] == [302, 429]
    assert paste(second).status_code == 302


def test_superusers_are_held_to_the_upload_limit_too(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOADS_PER_HOUR = 1
    client = importer("root", is_superuser=True, is_staff=True)

    assert [paste(client, "a").status_code, paste(client, "b").status_code] == [302, 429]


def test_no_upload_limit_when_set_to_zero(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOADS_PER_HOUR = 0
    client = importer()

    assert [paste(client, f"k{n}").status_code for n in range(3)] == [302] * 3


def test_the_upload_form_says_what_the_limits_are(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOADS_PER_HOUR = 20
    settings.CATALOGUE_UPLOAD_MAX_ENTRIES = 100_000

    html = importer().get("/upload/").content.decode()

    assert "Files up to 50.0\xa0MB and 100,000 entries, at most 20 uploads an hour." in html


def test_pasted_text_over_the_size_limit_is_refused_with_a_message(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOAD_MAX_BYTES = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048

    response = importer().post("/upload/", {"text": entry("big", title="x" * 4096)})

    assert response.status_code == 400
    assert "The pasted text is over the 1.0\xa0KB limit" in response.content.decode()
    assert not ImportBatch.objects.exists()


# Entries per upload ---------------------------------------------------------------


def bibtex(count: int, *, separator: str = "") -> bytes:
    return separator.join(entry(f"e{n}", title=f"Title {n}") for n in range(count)).encode()


def upload_file(client: Client, data: bytes) -> ImportBatch:
    response = client.post("/upload/", {"file": SimpleUploadedFile("many.bib", data)})
    assert response.status_code == 302
    return ImportBatch.objects.latest("pk")


def uploaded_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_upload_with_more_entries_than_the_limit_fails_and_imports_nothing(
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_UPLOAD_MAX_ENTRIES = 1_000
    client = importer()

    batch = upload_file(client, bibtex(1_250))

    assert batch.status == ImportBatch.Status.FAILED
    assert batch.error == (
        "The file has 1,250 entries; uploads are limited to 1,000. Split it into smaller "
        "files, or ask an administrator to import it on the server with "
        "`manage.py import_bibtex`."
    )
    assert batch.preview is None
    assert not batch.upload
    assert uploaded_files() == []
    assert not Article.objects.exists()
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "The file has 1,250 entries; uploads are limited to 1,000." in page
    assert "Resume" not in page


def test_entries_the_count_misses_are_refused_once_reading_passes_the_limit(
    settings,  # noqa: ANN001
) -> None:
    """The quick count takes entries on one line for one; reading finds them."""
    settings.CATALOGUE_UPLOAD_MAX_ENTRIES = 10
    client = importer()

    batch = upload_file(client, bibtex(30).replace(b"\n", b" "))

    assert batch.status == ImportBatch.Status.FAILED
    assert batch.error.startswith("The file has at least 30 entries; uploads are limited to 10.")
    assert not Article.objects.exists()


def test_upload_with_as_many_entries_as_the_limit_is_previewed(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOAD_MAX_ENTRIES = 25

    batch = upload_file(importer(), bibtex(25))

    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.preview["total"] == 25


def test_the_command_line_import_is_not_limited(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOAD_MAX_ENTRIES = 10
    path = tmp_path / "many.bib"
    path.write_bytes(bibtex(30))

    call_command("import_bibtex", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    assert Article.objects.count() == 30
