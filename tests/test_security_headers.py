"""Security headers on every response, a script policy the templates keep,
and cookies that production sends only over HTTPS and out of scripts' reach."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from catalogue.models import Article, ImportBatch
from tests.test_settings import manage

ROOT = Path(__file__).resolve().parent.parent


def policy(response) -> dict[str, list[str]]:  # noqa: ANN001
    """The Content-Security-Policy header as {directive: sources}."""
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {d[0]: d[1:] for d in directives if d}


class _Scripts(HTMLParser):
    """Every <script>'s src (None when inline), and every on* or style= attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str | None] = []
        self.inline_attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.sources.append(dict(attrs).get("src"))
        self.inline_attributes += [
            f"<{tag} {name}>" for name, _ in attrs if name.startswith("on") or name == "style"
        ]


def scripts(response) -> _Scripts:  # noqa: ANN001
    reader = _Scripts()
    reader.feed(response.content.decode())
    return reader


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/keywords/", "/accounts/login/", "/health/", "/nowhere/"])
def test_every_response_carries_the_security_headers(client: Client, url: str) -> None:
    response = client.get(url)

    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_the_policy_allows_no_inline_script_or_style(settings) -> None:  # noqa: ANN001
    sources = [s for values in settings.SECURE_CSP.values() for s in values]
    assert "'unsafe-inline'" not in sources
    assert "'unsafe-eval'" not in sources
    assert "data:" not in sources


TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    """The policy blocks them, so they would silently not work."""
    text = template.read_text()

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == []
    assert re.findall(r"<style\b", text) == []
    assert re.findall(r"\s(on[a-z]+|style)\s*=", text) == []
    assert "javascript:" not in text


@pytest.mark.django_db
def test_pages_run_only_scripts_from_static_files(client: Client, seeded: ImportBatch) -> None:
    article = Article.objects.get()

    for url in ["/", "/?q=cryoanalgesia", article.get_absolute_url(), "/authors/"]:
        page = scripts(client.get(url))
        assert page.sources, url
        assert all(src and src.startswith("/static/") for src in page.sources), url
        assert page.inline_attributes == [], url


@pytest.mark.django_db
def test_the_admin_change_page_renders_under_the_policy(
    admin_client: Client, seeded: ImportBatch
) -> None:
    article = Article.objects.get()

    response = admin_client.get(reverse("admin:catalogue_article_change", args=[article.pk]))

    assert response.status_code == 200
    assert b'name="_save"' in response.content
    assert policy(response)["script-src"] == ["'self'"]
    page = scripts(response)
    # The admin's scripts are files of its own (jsi18n is a URL on this site).
    assert page.sources
    assert all(src and src.startswith(("/static/", "/admin/")) for src in page.sources)
    assert page.inline_attributes == []


PRODUCTION_COOKIES = """
import json
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
User.objects.create_user("reader", password="a-long-test-password")
client = Client()
form = client.get("/accounts/login/", secure=True)
signed_in = client.post(
    "/accounts/login/",
    {"username": "reader", "password": "a-long-test-password"},
    secure=True,
)
print(json.dumps({
    name: {flag: bool(cookie[flag]) for flag in ("secure", "httponly")}
    | {"samesite": cookie["samesite"], "status": response.status_code}
    for name, response in (("csrftoken", form), ("sessionid", signed_in))
    for cookie in [response.cookies[name]]
}))
"""


def test_production_cookies_are_secure_and_out_of_reach_of_scripts(tmp_path: Path) -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        PRODUCTION_COOKIES,
        DEBUG="0",
        SECRET_KEY="a-" + "production-secret-that-is-long-and-random-enough-" * 2,
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'cookies.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
    )

    assert result.returncode == 0, result.stderr
    cookies = json.loads(result.stdout.strip().splitlines()[-1])
    assert cookies == {
        "csrftoken": {"secure": True, "httponly": True, "samesite": "Lax", "status": 200},
        "sessionid": {"secure": True, "httponly": True, "samesite": "Lax", "status": 302},
    }
