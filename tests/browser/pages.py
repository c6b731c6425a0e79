"""The main pages, one of each kind, for the accessibility checks and the screenshots.

Each address is made from the `catalogue` fixture's data (tests/data/browser.bib)
and the signed-in importer, when the page needs one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.files.base import ContentFile

from catalogue import tasks
from catalogue.importer import import_bibtex
from catalogue.models import Article, ImportBatch

from .conftest import DATA


def _article(title: str) -> str:
    return Article.objects.get(title=title).get_absolute_url()


def _report(user: User) -> str:
    text = (DATA / "upload.bib").read_bytes()
    return import_bibtex(text, source_name="upload.bib", user=user).get_absolute_url()


def _preview(user: User) -> str:
    # The conftest's immediate task backend reads it for a preview at once.
    upload = ContentFile((DATA / "upload.bib").read_bytes(), name="upload.bib")
    batch = tasks.create_upload(upload, name="upload.bib", user=user)
    assert batch.status == ImportBatch.Status.PREVIEWED
    return batch.get_absolute_url()


def _waiting(user: User) -> str:
    batch = ImportBatch(source_name="upload.bib", created_by=user)
    batch.upload.save("upload.bib", ContentFile((DATA / "upload.bib").read_bytes()))
    return batch.get_absolute_url()


# name -> the page's address, made from the test's data and signed-in user.
PAGES: dict[str, Callable[[User], str]] = {
    "list": lambda user: "/",
    "list-search-results": lambda user: "/?q=cryoanalgesia&keyword=cryotherapy",
    "list-no-results": lambda user: "/?q=cryotherapyy",
    "detail": lambda user: _article("Percutaneous cryoanalgesia for pain palliation"),
    "keyword": lambda user: "/keywords/cryotherapy/",
    "journal": lambda user: "/journals/pain-medicine/",
    "author": lambda user: "/authors/john-smith/",
    "keyword-index": lambda user: "/keywords/",
    "journal-index": lambda user: "/journals/?letter=P",
    "author-index": lambda user: "/authors/?order=count",
    "login": lambda user: "/accounts/login/",
    "upload": lambda user: "/upload/",
    "import-waiting": _waiting,
    "import-preview": _preview,
    "import-report": _report,
    "import-list": lambda user: "/imports/",
}
# Pages that need the importer signed in; the others are seen signed out.
SIGNED_IN = {"upload", "import-waiting", "import-preview", "import-report", "import-list"}
