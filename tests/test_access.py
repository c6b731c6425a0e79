"""Who may do what: the migrated groups, a private catalogue, and a walk over
every URL that changes data, refusing visitors, viewers and forged posts."""

from __future__ import annotations

import importlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from catalogue.models import Article, Author, ImportBatch, Journal, Keyword
from catalogue.tasks import preview_import
from tests.conftest import entry
from tests.test_settings import manage

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
GROUP_NAMES = ["Viewers", "Importers", "Curators", "Administrators"]


def user_in(group: str | None, *, staff: bool = False, username: str | None = None) -> User:
    user = User.objects.create_user(username or f"{group or 'nobody'}-user", password=PASSWORD)
    user.is_staff = staff
    user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def client_for(user: User | None, **options: Any) -> Client:
    client = Client(**options)
    if user is not None:
        client.force_login(user)
    return client


def permissions_of(group: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=group).permissions.select_related("content_type")
    }


# The groups ------------------------------------------------------------------


def test_every_installation_has_the_four_groups() -> None:
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(GROUP_NAMES)


def test_each_group_can_do_what_the_one_before_it_can() -> None:
    viewers, importers, curators, administrators = map(permissions_of, GROUP_NAMES)
    assert viewers < importers < curators < administrators
    assert viewers == {f"catalogue.view_{m}" for m in ("article", "author", "keyword", "journal")}
    assert importers - viewers == {"catalogue.import_bibtex"}
    assert {"catalogue.change_article", "catalogue.undo_importbatch"} <= curators
    assert not any(p.startswith("auth.") for p in curators)
    assert {"auth.add_user", "auth.change_group", "catalogue.undo_importbatch"} <= administrators


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_administrators_may_do_in_the_admin_all_that_a_superuser_may(model: type) -> None:
    """A model registered in the admin after migration 0011 needs a migration
    that gives the Administrators group its permissions too."""
    model_admin = admin.site._registry[model]
    superuser = RequestFactory().get("/")
    superuser.user = User.objects.create_superuser("root", password=PASSWORD)
    administrator = RequestFactory().get("/")
    administrator.user = user_in("Administrators", staff=True)

    for action in ("view", "add", "change", "delete"):
        may = getattr(model_admin, f"has_{action}_permission")
        assert may(administrator) == may(superuser), action


def test_running_the_group_migration_again_restores_groups_and_keeps_additions() -> None:
    Group.objects.get(name="Curators").delete()
    viewers = Group.objects.get(name="Viewers")
    viewers.permissions.remove(Permission.objects.get(codename="view_article"))
    importers = Group.objects.get(name="Importers")
    extra = Permission.objects.get(codename="view_importbatch")
    importers.permissions.add(extra)
    migration = importlib.import_module("catalogue.migrations.0011_groups")
    state = MigrationLoader(connection).project_state(("catalogue", "0011_groups"))

    migration.create_groups(state.apps, SimpleNamespace(connection=connection))

    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(GROUP_NAMES)
    assert "catalogue.view_article" in permissions_of("Viewers")
    assert "catalogue.undo_importbatch" in permissions_of("Curators")
    assert "catalogue.view_importbatch" in permissions_of("Importers")


def test_load_demo_uses_the_migrated_groups(settings) -> None:  # noqa: ANN001
    settings.DEBUG = True
    before = {g.pk: permissions_of(g.name) for g in Group.objects.all()}

    call_command("load_demo", articles=1, stdout=io.StringIO(), stderr=io.StringIO())

    assert {g.pk: permissions_of(g.name) for g in Group.objects.all()} == before


@pytest.fixture
def done_batch(import_text: Callable[..., ImportBatch]) -> ImportBatch:
    return import_text(
        entry("walk1", title="Walking", author="Walker, Wanda", keywords="gait", journal="Feet")
        + entry("walk2", title="Running", author="Runner, Rita", year="2020")
    )


def test_viewer_cannot_start_an_import() -> None:
    client = client_for(user_in("Viewers"))

    response = client.post(reverse("catalogue:upload"), {"text": entry("v", title="V")})

    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


def test_importer_can_start_an_import() -> None:
    client = client_for(user_in("Importers"))

    response = client.post(reverse("catalogue:upload"), {"text": entry("i", title="I")})

    assert response.status_code == 302
    assert ImportBatch.objects.get().status == ImportBatch.Status.PREVIEWED


def test_importer_cannot_undo_an_import(done_batch: ImportBatch) -> None:
    client = client_for(user_in("Importers"))

    response = client.post(reverse("catalogue:import-undo", args=[done_batch.pk]))

    assert response.status_code == 403
    assert Article.objects.count() == 2


def test_curator_can_undo_an_import(done_batch: ImportBatch) -> None:
    client = client_for(user_in("Curators"))

    response = client.post(reverse("catalogue:import-undo", args=[done_batch.pk]))

    assert response.status_code == 302
    assert not Article.objects.exists()


def test_curator_with_staff_status_can_edit_a_keyword_in_the_admin(
    done_batch: ImportBatch,
) -> None:
    client = client_for(user_in("Curators", staff=True))
    keyword = Keyword.objects.get(name="gait")

    response = client.post(
        reverse("admin:catalogue_keyword_change", args=[keyword.pk]), {"name": "Gait"}
    )

    assert response.status_code == 302
    keyword.refresh_from_db()
    assert keyword.name == "Gait"


def test_curator_without_staff_status_cannot_use_the_admin(done_batch: ImportBatch) -> None:
    client = client_for(user_in("Curators"))

    response = client.get(reverse("admin:catalogue_article_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_curator_cannot_manage_users() -> None:
    client = client_for(user_in("Curators", staff=True))

    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_add")).status_code == 403


def test_administrator_can_add_a_user() -> None:
    client = client_for(user_in("Administrators", staff=True))

    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newcomer",
            "password1": "another-long-password-1",
            "password2": "another-long-password-1",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    assert User.objects.filter(username="newcomer").exists()


# Every URL, classified -------------------------------------------------------

READ = "read"  # catalogue pages: anyone, or READ_PERMISSION when private
IMPORTS = "imports"  # import pages: the import permission
WRITE = "write"  # changes data: never a visitor or a viewer
ACCOUNT = "account"  # signing in and out, passwords: open, CSRF-protected
OPEN = "open"  # the health check
ADMIN_READ = "admin-read"  # the admin's own pages that change nothing

CATALOGUE_URLS = {
    "catalogue:article-list": READ,
    "catalogue:export-bibtex": READ,
    "catalogue:article-detail": READ,
    "catalogue:article-bibtex": READ,
    "catalogue:keyword-list": READ,
    "catalogue:keyword-detail": READ,
    "catalogue:journal-list": READ,
    "catalogue:journal-detail": READ,
    "catalogue:author-list": READ,
    "catalogue:author-detail": READ,
    "catalogue:suggest": READ,
    "catalogue:health": OPEN,
    "catalogue:import-list": IMPORTS,
    "catalogue:import-batch-detail": IMPORTS,
    "catalogue:import-progress": IMPORTS,
    "catalogue:upload": WRITE,
    "catalogue:import-start": WRITE,
    "catalogue:import-resume": WRITE,
    "catalogue:import-cancel": WRITE,
    "catalogue:import-undo": WRITE,
    "login": ACCOUNT,
    "logout": ACCOUNT,
    "password_change": ACCOUNT,
    "password_change_done": ACCOUNT,
    "password_reset": ACCOUNT,
    "password_reset_done": ACCOUNT,
    "password_reset_confirm": ACCOUNT,
    "password_reset_complete": ACCOUNT,
    "admin:index": ADMIN_READ,
    "admin:app_list": ADMIN_READ,
    "admin:autocomplete": ADMIN_READ,
    "admin:jsi18n": ADMIN_READ,
    "admin:view_on_site": ADMIN_READ,
    "admin:login": ACCOUNT,
    "admin:logout": ACCOUNT,
    "admin:password_change": ACCOUNT,
    "admin:password_change_done": ACCOUNT,
}
# What each of a registered model's admin URLs does. The list takes posts
# too: its actions ("Delete selected") change data.
ADMIN_MODEL_URLS = {
    "changelist": WRITE,
    "add": WRITE,
    "change": WRITE,
    "delete": WRITE,
    "history": ADMIN_READ,
    "password_change": WRITE,  # a user's password, set by an administrator
}
# Unnamed admin routes: an object's old URL (a redirect to its change page),
# and the catch-all that answers "not found" (or sends visitors to sign in).
UNNAMED_ADMIN_ROUTES = [
    re.escape("admin/") + r"\w+/\w+/<path:object_id>/",
    re.escape("admin/(?P<url>.*)$"),
]


@dataclass(frozen=True)
class Url:
    route: str
    name: str | None
    kind: str | None  # None: the walk does not know it

    def __str__(self) -> str:
        return self.name or self.route


def _patterns(
    patterns: list[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str | None]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name


def _admin_model_url(name: str) -> tuple[type, str] | None:
    """(model, what) for a registered model's admin URL name."""
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix) and name[len(prefix) :] in ADMIN_MODEL_URLS:
            return model, name[len(prefix) :]
    return None


def _kind(route: str, name: str | None) -> str | None:
    if name is None:
        return ADMIN_READ if any(re.fullmatch(p, route) for p in UNNAMED_ADMIN_ROUTES) else None
    if name in CATALOGUE_URLS:
        return CATALOGUE_URLS[name]
    if found := _admin_model_url(name):
        return ADMIN_MODEL_URLS[found[1]]
    return None


def every_url() -> list[Url]:
    return [
        Url(route, name, _kind(route, name))
        for route, name in _patterns(get_resolver().url_patterns)
    ]


URLS = every_url()
WRITES = [u.name for u in URLS if u.kind == WRITE]
ACCOUNT_POSTS = [
    "login",
    "logout",
    "password_change",
    "password_reset",
    "password_reset_confirm",
    "admin:login",
    "admin:logout",
    "admin:password_change",
]


def test_the_walk_knows_every_url() -> None:
    unknown = [str(u) for u in URLS if u.kind is None]
    assert unknown == [], "classify these URLs in tests/test_access.py"


def test_the_walk_finds_the_admin_pages_of_every_registered_model() -> None:
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert {f"{base}_add", f"{base}_change", f"{base}_delete"} <= set(WRITES)


# The data a walk needs: built only as far as each test asks.


class World:
    """Rows for the walk's URLs to act on, made through the real code paths."""

    def __init__(self, import_text: Callable[..., ImportBatch]) -> None:
        self.import_text = import_text
        self.superuser = User.objects.create_superuser("root", password=PASSWORD)

    @cached_property
    def batch(self) -> ImportBatch:
        return self.import_text(
            entry("w1", title="Walking", author="Walker, Wanda", keywords="gait", journal="Feet")
        )

    @cached_property
    def article(self) -> Article:
        return Article.objects.get(import_batch=self.batch)

    def _upload(self) -> ImportBatch:
        client = client_for(self.superuser)
        response = client.post(reverse("catalogue:upload"), {"text": entry("up", title="Up")})
        assert response.status_code == 302
        batch = ImportBatch.objects.latest("pk")
        assert batch.status == ImportBatch.Status.PREVIEWED
        return batch

    @cached_property
    def previewed(self) -> ImportBatch:
        return self._upload()

    @cached_property
    def failed(self) -> ImportBatch:
        batch = self._upload()
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.FAILED)
        return batch

    @cached_property
    def victim(self) -> User:
        return User.objects.create_user("victim", password=PASSWORD)

    @cached_property
    def task_result(self) -> Any:
        preview_import.using(backend="database").enqueue(self.batch.pk)
        return apps.get_model("django_tasks_database", "DBTaskResult").objects.get()

    def instance(self, model: type) -> Any:
        self.batch  # noqa: B018 - keywords, journals and authors come from it
        made = {
            "catalogue.article": lambda: self.article,
            # Without articles: authors and keywords in use cannot be deleted.
            "catalogue.author": lambda: Author.objects.create(family="Lonely"),
            "catalogue.keyword": lambda: Keyword.objects.create(name="lonely"),
            "catalogue.journal": lambda: Journal.objects.get(name="Feet"),
            "catalogue.importbatch": lambda: self.batch,
            "auth.user": lambda: self.victim,
            "auth.group": lambda: Group.objects.get(name="Viewers"),
            "django_tasks_database.dbtaskresult": lambda: self.task_result,
        }
        return made[model._meta.label_lower]()


@pytest.fixture
def world(import_text: Callable[..., ImportBatch], settings) -> World:  # noqa: ANN001
    # A second task backend that stores jobs, so the admin has one to show.
    settings.TASKS = {
        **settings.TASKS,
        "database": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    }
    return World(import_text)


class _FormFields(HTMLParser):
    """The fields a browser would send from the form with id `form_id`."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        kind = a.get("type", "text").lower()
        if tag == "input" and a.get("name") and kind not in {"submit", "button", "file", "reset"}:
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = (a.get("name", ""), [])

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            name, text = self.textarea
            # Browsers drop the newline that templates put after <textarea>.
            self.fields.append((name, "".join(text).removeprefix("\n")))
            self.textarea = None


def form_data(page: HttpResponse, form_id: str) -> dict[str, list[str]]:
    reader = _FormFields(form_id)
    reader.feed(page.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in reader.fields:
        if name != "csrfmiddlewaretoken":
            data.setdefault(name, []).append(value)
    return data


# What a permitted user would send to add a row of each model.
ADDED = {
    "catalogue.article": {"title": "Added", "citation_key": "added", "entry_type": "article"},
    "catalogue.author": {"family": "Added"},
    "catalogue.keyword": {"name": "added"},
    "catalogue.journal": {"name": "Added"},
    "auth.group": {"name": "Added"},
    "auth.user": {
        "username": "added",
        "password1": "another-long-password-1",
        "password2": "another-long-password-1",
        "usable_password": "true",
    },
}
# The catalogue's own writes: what to post where.
CATALOGUE_POSTS: dict[str, Callable[[World], tuple[str, dict[str, Any]]]] = {
    "catalogue:upload": lambda w: (
        reverse("catalogue:upload"),
        {"text": entry("posted", title="Posted")},
    ),
    "catalogue:import-start": lambda w: (
        reverse("catalogue:import-start", args=[w.previewed.pk]),
        {},
    ),
    "catalogue:import-resume": lambda w: (
        reverse("catalogue:import-resume", args=[w.failed.pk]),
        {},
    ),
    "catalogue:import-cancel": lambda w: (
        reverse("catalogue:import-cancel", args=[w.previewed.pk]),
        {},
    ),
    "catalogue:import-undo": lambda w: (reverse("catalogue:import-undo", args=[w.batch.pk]), {}),
}


def post_for(name: str, world: World) -> tuple[str, dict[str, Any]]:
    """The URL and the data a permitted user would post to change something."""
    if name in CATALOGUE_POSTS:
        return CATALOGUE_POSTS[name](world)
    found = _admin_model_url(name)
    assert found, f"the walk does not know what to post to {name}"
    model, what = found
    label = model._meta.label_lower
    admin_client = client_for(world.superuser)
    if what == "add":
        url = reverse(name)
        page = admin_client.get(url)
        data = form_data(page, f"{model._meta.model_name}_form") if page.status_code == 200 else {}
        return url, {**data, **ADDED.get(label, {})}
    obj = world.instance(model)
    if what == "changelist":
        return reverse(name), {
            "action": "delete_selected",
            "_selected_action": [str(obj.pk)],
            "select_across": "0",
            "index": "0",
            "post": "yes",
        }
    url = reverse(name, args=[obj.pk])
    if what == "delete":
        return url, {"post": "yes"}
    if what == "password_change":
        password = "another-long-password-2"
        return url, {"password1": password, "password2": password, "usable_password": "true"}
    page = admin_client.get(url)
    return url, form_data(page, f"{model._meta.model_name}_form")


def superuser_may(name: str, world: World) -> bool:
    """Whether anyone may use this URL: the admin keeps some models read-only."""
    found = _admin_model_url(name)
    if not found:
        return True
    model, what = found
    request = RequestFactory().get("/")
    request.user = world.superuser
    model_admin = admin.site._registry[model]
    return {
        "add": model_admin.has_add_permission,
        "change": model_admin.has_change_permission,
        "delete": model_admin.has_delete_permission,
        "changelist": model_admin.has_delete_permission,  # its one action
        "password_change": model_admin.has_change_permission,
    }[what](request)


def snapshot() -> dict[str, list[str]]:
    """Every row of every table but sessions, to compare before and after."""
    return {
        model._meta.label: sorted(map(repr, model._default_manager.values_list()))
        for model in apps.get_models()
        if model is not Session
    }


def refused(response: HttpResponse) -> bool:
    """Forbidden, or sent to sign in (the site's form or the admin's)."""
    if response.status_code == 403:
        return True
    login_urls = (resolve_url(settings.LOGIN_URL), reverse("admin:login"))
    return response.status_code == 302 and response["Location"].startswith(login_urls)


@pytest.mark.parametrize("who", ["visitor", "viewer", "viewer with staff status"])
@pytest.mark.parametrize("name", WRITES)
def test_visitors_and_viewers_cannot_change_data(world: World, name: str, who: str) -> None:
    user = {
        "visitor": lambda: None,
        "viewer": lambda: user_in("Viewers"),
        "viewer with staff status": lambda: user_in("Viewers", staff=True),
    }[who]()
    url, data = post_for(name, world)
    client = client_for(user)
    before = snapshot()

    response = client.post(url, data)

    assert snapshot() == before
    if who != "viewer with staff status":  # the admin lets staff in to see
        assert refused(response), (response.status_code, response.get("Location"))


@pytest.mark.parametrize("name", WRITES)
def test_a_permitted_user_changes_data_with_the_same_post(world: World, name: str) -> None:
    """The walk's posts would really change something: their refusal matters."""
    url, data = post_for(name, world)
    client = client_for(world.superuser)
    before = snapshot()

    response = client.post(url, data)

    if superuser_may(name, world):
        assert response.status_code in (200, 302), response.status_code
        errors = response.context and response.context.get("errors")
        assert snapshot() != before, (response.status_code, errors, response.get("Location"))
    else:  # a record nobody edits, such as an import batch
        assert snapshot() == before


ACCOUNT_DATA: dict[str, dict[str, str]] = {
    "login": {"username": "root", "password": PASSWORD},
    "admin:login": {"username": "root", "password": PASSWORD},
    "password_change": {
        "old_password": PASSWORD,
        "new_password1": "another-long-password-3",
        "new_password2": "another-long-password-3",
    },
    "password_reset": {"email": "root@example.org"},
}


def account_url(name: str) -> str:
    if name == "password_reset_confirm":
        return reverse(name, kwargs={"uidb64": "MQ", "token": "set-password"})
    return reverse(name)


@pytest.mark.parametrize("name", [*WRITES, *ACCOUNT_POSTS])
def test_posts_without_a_csrf_token_are_refused_even_for_a_superuser(
    world: World, name: str
) -> None:
    if name in ACCOUNT_POSTS:
        url, data = account_url(name), ACCOUNT_DATA.get(name, {})
    else:
        url, data = post_for(name, world)
    client = client_for(world.superuser, enforce_csrf_checks=True)
    client.get(reverse("login"))  # the browser holds a CSRF cookie, not the token
    assert settings.CSRF_COOKIE_NAME in client.cookies
    before = snapshot()

    response = client.post(url, data)

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert snapshot() == before


# Public or private --------------------------------------------------------------


def url_of(u: Url, world: World) -> str:
    """A GET URL for a catalogue page, with real rows for its arguments."""
    world.batch  # noqa: B018
    article = world.article
    args = {
        "catalogue:article-detail": [article.pk],
        "catalogue:article-bibtex": [article.pk],
        "catalogue:keyword-detail": [Keyword.objects.get(name="gait").slug],
        "catalogue:journal-detail": [Journal.objects.get(name="Feet").slug],
        "catalogue:author-detail": [Author.objects.get(family="Walker").slug],
        "catalogue:import-batch-detail": [world.batch.pk],
        "catalogue:import-progress": [world.batch.pk],
    }
    return reverse(u.name, args=args.get(u.name, []))


CATALOGUE_PAGES = [u for u in URLS if u.kind in (READ, IMPORTS)]


@pytest.mark.parametrize("page", CATALOGUE_PAGES, ids=str)
def test_a_private_catalogue_sends_visitors_to_sign_in(
    world: World,
    page: Url,
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_PUBLIC = False
    url = url_of(page, world)

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("page", CATALOGUE_PAGES, ids=str)
def test_a_private_catalogue_refuses_users_without_a_group(
    world: World,
    page: Url,
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_PUBLIC = False

    response = client_for(user_in(None)).get(url_of(page, world))

    assert response.status_code == 403


@pytest.mark.parametrize("page", CATALOGUE_PAGES, ids=str)
def test_a_private_catalogue_is_read_by_its_groups(
    world: World,
    page: Url,
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_PUBLIC = False
    url = url_of(page, world)

    viewer = client_for(user_in("Viewers")).get(url)
    importer = client_for(user_in("Importers")).get(url)

    assert viewer.status_code == (200 if page.kind == READ else 403)
    assert importer.status_code == 200


@pytest.mark.parametrize("page", [u for u in URLS if u.kind == READ], ids=str)
def test_a_public_catalogue_is_read_by_anyone(world: World, page: Url) -> None:
    assert Client().get(url_of(page, world)).status_code == 200


def test_a_private_catalogue_keeps_sign_in_the_health_check_and_static_files_open(
    settings,  # noqa: ANN001
) -> None:
    settings.CATALOGUE_PUBLIC = False
    # WhiteNoise serves from the source folders, as it does in development.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()

    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("catalogue:health")).content == b"ok"
    assert client.get(settings.STATIC_URL + "catalogue/style.css").status_code == 200
    assert client.get(reverse("password_reset")).status_code == 200


def test_a_private_catalogue_lets_a_user_without_a_group_sign_out(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_PUBLIC = False
    client = client_for(user_in(None))

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_private_catalogue_leaves_the_admin_to_its_own_checks(settings) -> None:  # noqa: ANN001
    settings.CATALOGUE_PUBLIC = False

    visitor = Client().get(reverse("admin:index"))
    administrator = client_for(user_in("Administrators", staff=True)).get(reverse("admin:index"))

    assert visitor.status_code == 302
    assert visitor["Location"].startswith(reverse("admin:login"))
    assert administrator.status_code == 200


@pytest.mark.parametrize(("value", "public"), [("", "True"), ("1", "True"), ("0", "False")])
def test_catalogue_public_comes_from_the_environment(value: str, public: str) -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.CATALOGUE_PUBLIC)",
        CATALOGUE_PUBLIC=value,
    )
    assert result.stdout.strip() == public, result.stderr
