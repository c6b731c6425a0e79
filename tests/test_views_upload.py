"""The upload form: who may use it, what it refuses, and what an upload becomes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalogue.models import Article, ImportBatch
from tests.conftest import entry

pytestmark = pytest.mark.django_db


def upload(client: Client, data: bytes, name: str = "refs.bib"):  # noqa: ANN201
    return client.post("/upload/", {"file": SimpleUploadedFile(name, data)})


def test_anonymous_user_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/upload/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/upload/"


def test_user_without_import_permission_is_refused(client: Client) -> None:
    client.force_login(User.objects.create_user("reader", password="x-long-password"))
    assert client.get("/upload/").status_code == 403
    assert upload(client, b"@article{a, title={T}}").status_code == 403
    assert Article.objects.count() == 0


def test_upload_needs_a_csrf_token(importer_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(importer_user)
    assert upload(client, b"@article{a, title={T}}").status_code == 403
    assert Article.objects.count() == 0


def imported(client: Client, data: bytes, name: str = "refs.bib") -> ImportBatch:
    """Upload, check the preview page, press Import; return the finished batch."""
    response = upload(client, data, name)
    assert response.status_code == 302
    batch = ImportBatch.objects.latest("pk")
    assert response["Location"] == f"/imports/{batch.pk}/"
    assert "What importing would do" in client.get(response["Location"]).content.decode()
    assert client.post(f"/imports/{batch.pk}/import/").status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    return batch


def test_seed_upload_shows_the_report_and_second_upload_creates_nothing(
    importer_client: Client, seed_bytes: bytes
) -> None:
    first = imported(importer_client, seed_bytes, "seed.bib")
    assert first.created_count == 1
    page = importer_client.get(f"/imports/{first.pk}/").content.decode()
    assert "Import report: seed.bib" in page
    second = imported(importer_client, seed_bytes, "seed.bib")
    assert second.preview["unchanged"] == 1
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 1)
    assert Article.objects.count() == 1


def test_upload_reports_the_broken_entry_line_and_keeps_the_good_ones(
    importer_client: Client,
) -> None:
    text = (
        entry("good1", title="One")
        + "@article{bad,\n title = {Open\n\n"
        + entry("good2", title="Two")
    )
    batch = imported(importer_client, text.encode())
    assert batch.failed_count == 1
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "<td>4</td><td><code>bad</code></td>" in html
    assert Article.objects.count() == 2


def test_pasted_text_is_imported(importer_client: Client) -> None:
    response = importer_client.post("/upload/", {"text": entry("p", title="Pasted")})
    batch = ImportBatch.objects.get()
    assert response["Location"] == batch.get_absolute_url()
    importer_client.post(f"/imports/{batch.pk}/import/")
    batch.refresh_from_db()
    assert batch.source_name == "pasted text"
    assert Article.objects.get().title == "Pasted"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b"", "empty"),
    ],
)
def test_unreadable_file_gets_a_clear_message(
    importer_client: Client, data: bytes, message: str
) -> None:
    response = upload(importer_client, data)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["file"])
    assert message.lower() in errors.lower()
    assert ImportBatch.objects.count() == 0


def test_file_over_the_size_limit_is_refused_with_the_limit(
    importer_client: Client, settings
) -> None:  # noqa: ANN001
    settings.CATALOGUE_UPLOAD_MAX_BYTES = 1000
    response = upload(importer_client, entry("big", title="x" * 2000).encode())
    assert response.status_code == 400
    assert "the limit is 1000" in " ".join(response.context["form"].errors["file"])
    assert Article.objects.count() == 0


def test_empty_form_asks_for_a_file_or_text(importer_client: Client) -> None:
    response = importer_client.post("/upload/", {})
    assert response.status_code == 400
    assert "Choose a file or paste some BibTeX." in response.content.decode()


def test_import_report_page_needs_the_permission(
    client: Client, importer_client: Client, seed_bytes: bytes
) -> None:
    batch = imported(importer_client, seed_bytes)
    assert importer_client.get(f"/imports/{batch.pk}/").status_code == 200
    assert client.get(f"/imports/{batch.pk}/").status_code == 302


def test_import_report_lists_the_first_problems_and_counts_them_all(
    importer_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalogue.models.PROBLEMS_LISTED", 3)
    monkeypatch.setattr("catalogue.importer.PREVIEW_LIST_LIMIT", 3)
    monkeypatch.setattr("catalogue.importer.CHUNK_SIZE", 4)  # problems from several chunks
    # Seven entries shortened with a warning, then five without a title.
    text = "".join(entry(f"w{i}", title="T", volume="9" * 300) for i in range(7))
    text += "".join(entry(f"e{i}", year="2020") for i in range(5))
    upload(importer_client, text.encode())
    preview_page = importer_client.get(ImportBatch.objects.get().get_absolute_url())
    assert "<dt>Cannot be imported</dt><dd>5</dd>" in preview_page.content.decode()
    assert "7 warnings (the entries would be imported)" in preview_page.content.decode()
    importer_client.post(f"{ImportBatch.objects.get().get_absolute_url()}import/")
    batch = ImportBatch.objects.get()
    assert (batch.failed_count, batch.warning_count) == (5, 7)
    assert [p["key"] for p in batch.errors] == ["e0", "e1", "e2"]
    assert [p["key"] for p in batch.warnings] == ["w0", "w1", "w2"]
    html = importer_client.get(f"/imports/{batch.pk}/").content.decode()
    assert "The first 3 of 5 are listed." in html
    assert "7 warnings (the entries were imported)" in html
    assert "The first 3 of 7 are listed." in html
    assert "<code>e3</code>" not in html
