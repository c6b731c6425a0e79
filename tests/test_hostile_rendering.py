"""HTML and JavaScript in imported values stay text on every page and export.

tests/data/hostile.bib puts markup, event handlers, `javascript:` and
`data:` links and spreadsheet formulas into titles, abstracts, authors,
keywords, journals, URLs and DOIs. It is uploaded and imported through the
browser's path, then every page that shows it is read back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from catalogue.models import Article, Author, ImportBatch, Journal, Keyword
from tests.test_access import URLS

pytestmark = pytest.mark.django_db
HOSTILE = Path(__file__).parent / "data" / "hostile.bib"
FILE_NAME = '"><img src=x onerror=alert(1)>.bib'
# Markup from the file that must never reach a page as markup.
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    '<iframe src="javascript:alert(1)">',
    "<style>body{display:none}</style>",
    "<body onload=alert(1)>",
    "<b>7</b>",
    "<i>9</i>",
    '<a href="javascript:alert(1)">',
    '<img src="data:text/html',
]
# Some hostile value is on every page checked (so the check is not vacuous).
SHOWN = ("alert(1)", "HYPERLINK", "@SUM", "/C calc")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Tags(HTMLParser):
    """What a browser would run or follow in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in {"href", "src", "action", "formaction", "xlink:href", "srcdoc"}:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
                if scheme.startswith(("javascript:", "data:", "vbscript:")):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and not dict(attrs).get("src"):
            self.problems.append("inline <script>")
        if tag in {"iframe", "object", "embed", "base"}:
            self.problems.append(f"<{tag}>")


def assert_inert(response: HttpResponse) -> None:
    """No hostile markup, handler or link survives on the page; some value shows."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for fragment in MARKUP:
        assert fragment not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html, re.IGNORECASE) == []
    # Escaping leaves no ">" inside a value, so a tag runs to the next ">";
    # with its quoted values blanked, only attribute names are left.
    tags_alone = [re.sub(r"\"[^\"]*\"|'[^']*'", '""', t) for t in re.findall(r"<[a-z][^>]*>", html)]
    assert [t for t in tags_alone if re.search(r"\sonerror\s*=", t, re.IGNORECASE)] == []
    assert re.findall(r"href\s*=\s*[\"']?\s*(?:javascript|data):", html, re.IGNORECASE) == []
    tags = _Tags()
    tags.feed(html)
    assert tags.problems == []
    request = response.request
    assert any(value in html for value in SHOWN), (request["PATH_INFO"], request["QUERY_STRING"])


@pytest.fixture
def curator(db: None) -> User:
    return User.objects.create_superuser("curator", password="a-long-test-password")


@pytest.fixture
def client_as_curator(curator: User) -> Client:
    client = Client()
    client.force_login(curator)
    return client


def upload(client: Client, text: bytes, name: str = FILE_NAME) -> ImportBatch:
    response = client.post(reverse("catalogue:upload"), {"file": SimpleUploadedFile(name, text)})
    assert response.status_code == 302
    return ImportBatch.objects.latest("pk")


@pytest.fixture
def hostile(client_as_curator: Client) -> ImportBatch:
    """hostile.bib, previewed and imported through the upload pages."""
    batch = upload(client_as_curator, HOSTILE.read_bytes())
    assert batch.status == ImportBatch.Status.PREVIEWED
    assert_inert(client_as_curator.get(batch.get_absolute_url()))  # the preview
    client_as_curator.post(reverse("catalogue:import-start", args=[batch.pk]))
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == (ImportBatch.Status.DONE, 3)
    return batch


def test_the_importer_keeps_hostile_values_as_text_and_drops_hostile_dois(
    hostile: ImportBatch,
) -> None:
    article = Article.objects.get(citation_key="hostile2021script")
    assert article.title.startswith("Zymurgy <script>alert(1)</script>")
    assert article.url == "javascript:alert(1)"
    assert article.doi == ""
    assert any("is not a DOI" in p["message"] for p in hostile.problems)


def pages(batch: ImportBatch) -> Iterator[str]:
    yield "/"
    yield "/?q=zymurgy"  # titles highlighted, abstracts cut to snippets
    yield "/?q=zymurgy&sort=title"
    yield "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    yield "/?q=%22%3E%3Cimg+src%3Dx+onerror%3Dalert(1)%3E"
    yield f"/?keyword={Keyword.objects.get(name='<script>alert(1)</script>').slug}"
    yield "/?keyword=scriptalert1scrip&q=zymurgy"  # no such keyword: "did you mean"
    for article in Article.objects.all():
        yield article.get_absolute_url()
    for model, index in ((Keyword, "keyword"), (Journal, "journal"), (Author, "author")):
        for row in model.objects.all():
            yield row.get_absolute_url()
        yield reverse(f"catalogue:{index}-list")
        # A–Z by the folded name: "<iframe …" is under I.
        hostile_rows = [r for r in model.objects.all() if any(v in str(r) for v in SHOWN)]
        for letter in {row.normalised[:1].upper() for row in hostile_rows}:
            yield reverse(f"catalogue:{index}-list") + f"?letter={letter}"
        yield reverse(f"catalogue:{index}-list") + "?contains=alert&order=count"
    yield reverse("catalogue:import-list")
    yield batch.get_absolute_url()
    yield reverse("catalogue:import-undo", args=[batch.pk])


def test_catalogue_and_import_pages_show_hostile_values_as_text(
    hostile: ImportBatch, client_as_curator: Client
) -> None:
    for url in pages(hostile):
        assert_inert(client_as_curator.get(url))


def test_a_preview_of_changes_shows_old_and_new_hostile_values_as_text(
    hostile: ImportBatch, client_as_curator: Client
) -> None:
    changed = HOSTILE.read_bytes().replace(b"in titles", b"in <script>alert(1)</script> titles")

    batch = upload(client_as_curator, changed)

    assert batch.preview["updated"] == 1
    assert_inert(client_as_curator.get(batch.get_absolute_url()))


def admin_pages() -> Iterator[str]:
    for model in (Article, Author, Keyword, Journal, ImportBatch):
        name = f"admin:catalogue_{model._meta.model_name}"
        yield reverse(f"{name}_changelist")
        yield reverse(f"{name}_changelist") + "?q=alert"
        for row in model.objects.all():
            if not any(value in str(row) for value in SHOWN):
                continue  # nothing hostile to show
            yield reverse(f"{name}_change", args=[row.pk])
            yield reverse(f"{name}_history", args=[row.pk])
            if model is not ImportBatch:
                yield reverse(f"{name}_delete", args=[row.pk])


def test_admin_pages_show_hostile_values_as_text(
    hostile: ImportBatch, client_as_curator: Client
) -> None:
    for url in admin_pages():
        assert_inert(client_as_curator.get(url))


def test_an_admin_edit_of_a_hostile_value_stays_text(
    hostile: ImportBatch, client_as_curator: Client
) -> None:
    keyword = Keyword.objects.get(name="javascript:alert(1)")
    response = client_as_curator.post(
        reverse("admin:catalogue_keyword_change", args=[keyword.pk]),
        {"name": "<svg onload=alert(1)> and javascript:alert(1)"},
        follow=True,
    )

    assert_inert(response)  # the list, with "was changed successfully"
    assert_inert(client_as_curator.get(keyword.get_absolute_url()))


@pytest.mark.parametrize("q", ["<scr", '">', "javasc", "=HYPER", "Datum"])
def test_suggestions_are_json_data_not_markup(hostile: ImportBatch, client: Client, q: str) -> None:
    response = client.get(reverse("catalogue:suggest"), {"q": q})

    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    labels = [r["label"] for r in response.json()["results"]]
    assert labels  # found, and given back exactly as stored, for suggest.js to set as text
    names = {
        *Keyword.objects.values_list("name", flat=True),
        *Journal.objects.values_list("name", flat=True),
        *(str(a) for a in Author.objects.all()),
        *(a.display_name for a in Author.objects.all()),
    }
    assert set(labels) <= names


def test_import_progress_is_json(hostile: ImportBatch, client_as_curator: Client) -> None:
    response = client_as_curator.get(reverse("catalogue:import-progress", args=[hostile.pk]))

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["url"] == hostile.get_absolute_url()


def exports(batch: ImportBatch) -> Iterator[str]:
    """Every export the catalogue has, found by name: ones added later are checked too."""
    article = Article.objects.get(citation_key="hostile2021script")
    for url in URLS:
        if not url.name or not re.search(r"export|bibtex|ris|csl|csv", url.name):
            continue
        if "<int:pk>" in url.route:
            yield reverse(url.name, args=[article.pk])
        elif "<" not in url.route:
            yield reverse(url.name) + "?q=zymurgy"
            yield reverse(url.name)


def test_exports_are_downloads_that_keep_hostile_values_as_data(
    hostile: ImportBatch, client: Client
) -> None:
    found = list(exports(hostile))
    assert len(found) >= 3  # the list's and one article's BibTeX, at least
    for url in found:
        response = client.get(url)
        body = b"".join(response.streaming_content if response.streaming else [response.content])
        text = body.decode()
        kind = response["Content-Type"]

        assert response.status_code == 200, url
        assert not kind.startswith(("text/html", "image/svg")), (url, kind)
        assert response["Content-Disposition"].startswith("attachment"), url
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "<script>alert(1)</script>" in text.replace("\\", ""), url  # data, kept
        if kind.startswith("text/csv"):
            cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
            assert not [c for c in cells if c.startswith(FORMULA_START)], url
