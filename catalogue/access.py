"""Who may read the catalogue, and the Content Security Policy header.

With `CATALOGUE_PUBLIC = False` (the environment's `CATALOGUE_PUBLIC=0`),
every page needs a signed-in user with `READ_PERMISSION`, which every group
made by the `0011_groups` migration has: a visitor is sent to sign in, a
signed-in user without it gets "403 Forbidden". Signing in and out, the
password pages, the health check and the admin (which checks staff status and
model permissions itself) stay open. One middleware does it for every URL,
so a page added later is private too without anyone remembering to say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from catalogue.views import health

READ_PERMISSION = "catalogue.view_article"
# URL names that answer whoever asks, even when the catalogue is private.
OPEN_VIEWS = frozenset(
    {
        "catalogue:health",
        "login",
        "logout",
        "password_change",
        "password_change_done",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    }
)
OPEN_NAMESPACES = frozenset({"admin"})

Middleware = Callable[[HttpRequest], HttpResponse]


class HealthCheckMiddleware:
    """Answers `/health/` before host validation.

    A load balancer checks each app server over plain HTTP by its own
    address (10.0.0.5:8000), not through the proxy with the site's name:
    host validation would refuse it (400), and SecurityMiddleware redirect
    it (301; SECURE_REDIRECT_EXEMPT spares it), and the server would be
    taken out of service for being configured for production. The answer
    names no host and holds nothing secret. Goes after SecurityMiddleware
    and the Content Security Policy, whose headers it still gets, and before
    anything that reads the host (the page cache, CommonMiddleware).
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response
        self.path = reverse("catalogue:health")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == self.path:
            return health(request)
        return self.get_response(request)


class PrivateCatalogueMiddleware:
    """Refuses every page but OPEN_VIEWS to users without READ_PERMISSION,
    when settings.CATALOGUE_PUBLIC is off. Goes after AuthenticationMiddleware."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if settings.CATALOGUE_PUBLIC:
            return None
        match = request.resolver_match
        if match is not None and (
            match.view_name in OPEN_VIEWS or OPEN_NAMESPACES.intersection(match.namespaces)
        ):
            return None
        if request.user.has_perm(READ_PERMISSION):
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied


def content_security_policy(policy: dict[str, list[str]]) -> str:
    """The header's value for a policy in Django 6's SECURE_CSP form.

    >>> content_security_policy({"default-src": ["'self'"], "frame-ancestors": ["'none'"]})
    "default-src 'self'; frame-ancestors 'none'"
    """
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Sends settings.SECURE_CSP as the Content-Security-Policy header.

    Django 6.0 has this built in (`django.middleware.csp`), reading the same
    setting; settings.py uses that one there instead of this.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.SECURE_CSP:
            header = content_security_policy(settings.SECURE_CSP)
            response.headers.setdefault("Content-Security-Policy", header)
        return response
