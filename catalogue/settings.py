"""Settings for the catalogue, all read from the environment.

Development defaults are safe to run on a laptop: SQLite in the project
folder and DEBUG on. Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and
usually DATABASE_URL (see the README's "Configuration" section).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# Only development may fall back to a built-in key: a production process
# without SECRET_KEY refuses to start instead of signing cookies with it.
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY in the environment when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-used-with-debug-off"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "catalogue",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Headers only, on every response: before anything that answers early.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Django 6 sends SECURE_CSP itself; before it, catalogue/access.py does.
    "django.middleware.csp.ContentSecurityPolicyMiddleware"
    if django.VERSION >= (6, 0)
    else "catalogue.access.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that reads the request's host (catalogue/access.py).
    "catalogue.access.HealthCheckMiddleware",
    # Before sessions and auth: a kept page skips them (catalogue/page_cache.py).
    "catalogue.page_cache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "catalogue.access.PrivateCatalogueMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "catalogue.urls"
WSGI_APPLICATION = "catalogue.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'catalogue.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while an import writes; IMMEDIATE takes the write
    # lock when a transaction starts, so two writers queue on the busy
    # timeout instead of failing with "database is locked" half way through.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The first backend refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalogue:article-list"
LOGOUT_REDIRECT_URL = "catalogue:article-list"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: the BibTeX form refuses files above this size with a message.
# Pasted text goes through the request body, so it has the same ceiling.
CATALOGUE_UPLOAD_MAX_BYTES = env_int("CATALOGUE_UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = CATALOGUE_UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CATALOGUE_PAGE_SIZE = env_int("CATALOGUE_PAGE_SIZE", 25)

# Pages rendered for visitors who are not signed in are kept, per process,
# until the catalogue changes (catalogue/page_cache.py). A list page is
# 20-60 kB, so the default costs at most some 60 MB per gunicorn worker.
CATALOGUE_PAGE_CACHE_ENTRIES = env_int("CATALOGUE_PAGE_CACHE_ENTRIES", 1000)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "TIMEOUT": None,  # a page is dated by the catalogue's version, not by a clock
        "OPTIONS": {"MAX_ENTRIES": max(CATALOGUE_PAGE_CACHE_ENTRIES, 1), "CULL_FREQUENCY": 4},
    },
}
# Uploads a user may start in any hour (0: no limit), counted in the database
# so that every gunicorn process and app server sees the same count.
CATALOGUE_UPLOADS_PER_HOUR = env_int("CATALOGUE_UPLOADS_PER_HOUR", 20)
# Entries one web upload may hold (0: no limit). A real export averages 0.5 to
# 3.4 KB an entry, so a file under the 50 MB size limit holds at most about
# 100,000; a file of tiny entries could hold a million, hours of worker time.
# `manage.py import_bibtex` on the server is not limited.
CATALOGUE_UPLOAD_MAX_ENTRIES = env_int("CATALOGUE_UPLOAD_MAX_ENTRIES", 100_000)

# Room kept beside a SQLite database so that an import that fills the disk
# can still be taken back (catalogue/disk_reserve.py); 0: none.
CATALOGUE_DISK_RESERVE_BYTES = env_int("CATALOGUE_DISK_RESERVE_BYTES", 64 * 1024 * 1024)

# Uploaded files wait here until they are imported or cancelled. They are
# never served: no URL maps to MEDIA_ROOT.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# Background jobs (previews and imports of uploads) are rows in the database,
# run by `manage.py db_worker`.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
}
# A running job whose worker has not reported for this long is shown as
# stopped, so that it can be resumed or cancelled.
CATALOGUE_JOB_STALE_SECONDS = env_int("CATALOGUE_JOB_STALE_SECONDS", 60)
# Imports read the file in a second process while this one stores what it
# read (catalogue/read_ahead.py), where that is safe; 0: read in this one.
CATALOGUE_IMPORT_READ_AHEAD = env_bool("CATALOGUE_IMPORT_READ_AHEAD", True)

# Production hardening; all of these follow DEBUG unless set explicitly.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", not DEBUG) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer checks each app server over plain HTTP (catalogue/access.py).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Preloading binds every subdomain of the operator's domain to HTTPS for
# months; that is theirs to choose (SECURE_HSTS_PRELOAD=1), so the deploy
# check's reminder about it is silenced rather than the choice made for them.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No script reads the CSRF cookie (nothing posts from JavaScript).
CSRF_COOKIE_HTTPONLY = True

# Scripts and styles come only from our own static files: the templates have
# no inline <script>, no on* handlers and no style= attributes, so injected
# markup can neither run nor restyle the page. The admin has one inline
# <style> (a column width on lists without actions), which is left blocked.
# The format is Django 6's SECURE_CSP, which it applies itself.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Password guessing (django-axes): after AXES_FAILURE_LIMIT failed sign-ins
# for one username from one address, on the site's form or the admin's, that
# pair is refused for AXES_COOLOFF_MINUTES with a "429 Too Many Requests" page
# (catalogue/limits.py); every attempt meanwhile starts the wait over. Keying
# on the pair means a stranger cannot lock a real user out from elsewhere, nor
# one guesser lock out everyone behind the same office router. Failures are
# rows in the database, shared by every process. 0 minutes: locked until
# `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
_axes_cooloff_minutes = env_int("AXES_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_axes_cooloff_minutes) if _axes_cooloff_minutes else None
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# Comma-separated; "a+b" counts failures per combination of a and b.
_axes_keys = [
    [name.strip() for name in item.split("+")]
    for item in env_list("AXES_LOCKOUT_PARAMETERS", "username+ip_address")
]
_axes_names = {"username", "ip_address", "user_agent"}
if _unknown := {name for key in _axes_keys for name in key} - _axes_names:
    raise ImproperlyConfigured(
        f"AXES_LOCKOUT_PARAMETERS: unknown {', '.join(sorted(_unknown))}; "
        f"use {', '.join(sorted(_axes_names))}."
    )
AXES_LOCKOUT_PARAMETERS = [key if len(key) > 1 else key[0] for key in _axes_keys]
# A success clears the failures only where each count is keyed by username:
# keyed by address alone, a guesser with an account of their own could clear
# their address's count by signing in to it between guesses.
AXES_RESET_ON_SUCCESS = all("username" in key for key in _axes_keys)
# REMOTE_ADDR, or behind the HTTPS proxy the address the proxy saw: never an
# X-Forwarded-For a client could have written itself.
AXES_CLIENT_IP_CALLABLE = "catalogue.limits.client_ip"
AXES_LOCKOUT_CALLABLE = "catalogue.limits.lockout_response"
# No log of every successful sign-in with its address (personal data kept for
# ever); lockouts are logged as warnings, and the admin shows no axes pages:
# a lockout ends by itself, or with `manage.py axes_reset_username NAME`.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
# Without a line about axes from every process and manage.py command.
AXES_VERBOSE = False

# CATALOGUE_PUBLIC=0: reading needs sign-in too, and the "Can view article"
# permission that every group has (catalogue/access.py).
CATALOGUE_PUBLIC = env_bool("CATALOGUE_PUBLIC", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Failed sign-ins and lockouts are warnings; axes' bookkeeping around
    # every sign-in is not worth a line each.
    "loggers": {"axes": {"level": "WARNING"}},
}
