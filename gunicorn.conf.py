"""gunicorn settings for the catalogue:  gunicorn -c gunicorn.conf.py catalogue.wsgi

Everything an operator may want to change comes from the environment, so the
same file serves a laptop, a systemd unit (deploy/) and a Procfile:

    WEB_CONCURRENCY      worker processes (default: 3 per CPU, at most 12)
    GUNICORN_THREADS     threads per worker (default 1)
    BIND                 addresses, comma-separated (default 127.0.0.1:8000,
                         or 0.0.0.0:$PORT when PORT is set, as on a PaaS)
    GUNICORN_TIMEOUT     seconds before a silent worker is restarted (60)
    GUNICORN_GRACEFUL_TIMEOUT  seconds to finish requests on a restart (30)
    GUNICORN_KEEPALIVE   seconds an idle HTTP/1.1 connection is kept (0: none)
    GUNICORN_MAX_REQUESTS  requests before a worker is replaced (50000; 0: never)
    GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket (default: none)
    LOG_LEVEL            shared with Django (INFO)

gunicorn itself also reads FORWARDED_ALLOW_IPS (default 127.0.0.1,::1), the
proxies whose X-Forwarded-Proto it believes.
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cpus() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- Where to listen --------------------------------------------------------

# Behind a proxy on the same host, loopback only. PORT is the Procfile/PaaS
# convention (honcho, foreman, Heroku-likes set it), where the platform's
# router connects from outside, so it binds every interface.
if os.environ.get("BIND", "").strip():
    bind = [address.strip() for address in os.environ["BIND"].split(",") if address.strip()]
elif os.environ.get("PORT", "").strip():
    bind = [f"0.0.0.0:{os.environ['PORT'].strip()}"]
else:
    bind = ["127.0.0.1:8000"]

# -- Workers ----------------------------------------------------------------

# The pages are CPU-bound Python (filtering, bitmaps, templates, or a kept
# page for a visitor); on SQLite the queries run inside the worker too.
# Threads of one process share the GIL, so the CPUs are used by processes,
# one request at a time each: three per CPU, so that a slow page (a search
# over most of the catalogue, an export) does not hold up the quick ones.
# Measured at 100,000 articles with 50 clients on 2 CPUs (bench/load.py):
# 6 processes x 1 thread gave p95 134 ms and p99 173 ms on SQLite (107 and
# 147 on PostgreSQL); 8 x 1 gave 197 and 234 (PostgreSQL's p99 from 321 ms
# to 1.3 s across runs, its own processes competing for the CPUs); the old
# 4 x 4 gave p95 340-1,567 ms and p99 1.3-3.7 s, requests queueing behind
# slow pages in busy processes while others idled. Each process loads its
# own copy of the facet index and keeps its own pages and searches: about
# 135 MB at 100,000 articles. The cap stops a big host from starting dozens;
# set WEB_CONCURRENCY for those, or lower it where memory is short.
workers = _int("WEB_CONCURRENCY", min(3 * _cpus(), 12))

# gunicorn's gthread worker, whose main loop keeps reporting to the master
# while a thread streams a long response (a full BibTeX export takes minutes
# at a million articles; the plain sync worker would be killed at the
# timeout). Each thread may hold a database connection: workers x threads
# must stay below PostgreSQL's max_connections (100 by default), summed over
# every app server. Threads share module state, so what requests touch must
# be thread-safe.
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread"
# A worker takes only as many connections as it has threads: the others wait
# in the kernel's queue for whichever worker is free first, in order, rather
# than piling up behind a slow page in a busy one.
worker_connections = threads

# -- Timeouts ---------------------------------------------------------------

# With gthread, this is how long a worker's main loop may stay silent, not a
# limit on one request: the master kills a worker that is stuck, e.g. in a
# C call holding the GIL. The slowest pages at a million articles take
# seconds, so 60 s leaves room without leaving a stuck worker for long.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On a restart (HUP, deploy, max_requests), requests in progress may finish
# for this long. systemd's TimeoutStopSec (deploy/catalogue-web.service) is
# a little longer, so that it does not kill them first.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Off by default: an idle keep-alive connection would hold one of a worker's
# few connection slots (above) while requests wait. The proxy in front
# keeps browsers' connections alive; nginx does not keep connections to
# gunicorn open unless told to (`keepalive` in an upstream block). If it
# does, set this longer than the proxy's idle timeout, and GUNICORN_THREADS
# above 1 (it then raises worker_connections with it).
keepalive = _int("GUNICORN_KEEPALIVE", 0)

# -- Recycling workers ------------------------------------------------------

# Replace a worker after this many requests, to bound slow growth in memory
# (fragmentation after large result sets, leaks in C extensions). A new
# worker starts Django, reloads the facet index and starts with empty page
# and search caches, taking a CPU for a second or two while the others
# serve: tens of thousands, not thousands. At 5,000, 50 clients at 575
# requests/s (bench/load.py) restarted each of 8 workers every 70 s. The
# jitter staggers restarts so the workers do not all go cold at the same
# moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 50_000)
max_requests_jitter = max_requests // 10

# Each worker imports Django itself rather than forking from a master that
# had imported it (preload_app): a HUP then reloads new code, and no database
# connection or facet index made before the fork is shared by accident.
preload_app = False

# gunicorn's heartbeat touches a file per worker every second or so. On a
# disk-backed /tmp that write can stall a worker for as long as the disk
# does (gunicorn's FAQ "Blocking os.fchmod"); /dev/shm is memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# -- Logging ----------------------------------------------------------------

# Access log on stdout and errors on stderr: systemd's journal, a Procfile
# runner or a container runtime collects both. The format is the common one
# with the client behind the proxy (X-Forwarded-For) up front, and the
# request's time in milliseconds (%(M)s) and the worker's <pid> at the end, to
# find slow pages and a stuck worker.
accesslog = "-"
errorlog = "-"
access_log_format = (
    '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s" %(p)s'
)
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"

# Shown by ps and top (with the setproctitle package installed), to tell
# this gunicorn from others on the host.
proc_name = "catalogue"

# gunicorn 25+ opens a control socket by default under $HOME/.gunicorn, one
# path for every gunicorn of that user: a second instance (a load test, a
# staging copy) would take it over. It is on only where it is given a path
# of its own (e.g. /run/catalogue/gunicorn.ctl under systemd).
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket
