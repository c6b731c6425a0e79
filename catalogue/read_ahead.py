"""Run an import's reading in a second process while this one stores what it read.

Reading BibTeX (splitting, macros, LaTeX, names, then what storing needs
from each record alone: see `importer._Ready`) and storing it (matching,
inserts, the search index) each keep a core busy, and a machine has two or
more. `read_ahead` forks a child that runs the reader and sends its items
back in batches through a pipe, one batch ahead of the caller: while this
process writes a chunk, the child reads the next.

Only where forking is safe (`possible`): on Linux, from a process with one
thread, outside any transaction, on a database that another process can
open. The parent closes its database connections before forking, so the
child never shares one; the child opens its own if the reader asks the
catalogue something (which entries it already holds). The child dies with
its parent, even on SIGKILL.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable
from multiprocessing.connection import Connection, Pipe
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

T = TypeVar("T")
logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class ReaderStopped(RuntimeError):
    """The reading process ended without finishing or saying why (killed, out of memory)."""


def possible() -> bool:
    """Whether `read_ahead` may fork here (see the module's docstring)."""
    if not settings.CATALOGUE_IMPORT_READ_AHEAD or sys.platform != "linux":
        return False
    # A fork copies only the calling thread; locks other threads held, and
    # their database connections, would be copied in an unknown state.
    if threading.active_count() != 1:
        return False
    for connection in connections.all(initialized_only=True):
        # The child could not see this transaction's writes; and an SQLite
        # database in memory exists in this process only.
        if connection.in_atomic_block:
            return False
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            return False
    return True


def read_ahead(produce: Callable[[], Iterable[T]], *, batch_size: int) -> Generator[T, None, None]:
    """The items of `produce()`, made in a child process `batch_size` at a time.

    An exception in the child is raised here, with the child's traceback as
    a note. Closing this iterator early (or an error while consuming it)
    kills the child.
    """
    receiving, sending = Pipe(duplex=False)
    # Neither process may use a connection the other holds.
    connections.close_all()
    # Else text written but not yet flushed would be written twice.
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    # A plain fork, not multiprocessing.Process: its exit handler would wait
    # for a child that ignores SIGTERM (see _child) if one were left.
    child = os.fork()
    if child == 0:
        code = 1
        try:
            receiving.close()  # else a write to a dead parent would block, not fail
            _child(produce, batch_size, sending, parent)
            code = 0
        finally:
            os._exit(code)  # never back into the parent's code
    sending.close()
    logger.info("Reading in a second process, %s", child)
    reaped = False
    try:
        while True:
            try:
                kind, payload = receiving.recv()
            except EOFError:
                status, reaped = _exit_status(child), True
                raise ReaderStopped(f"the process reading the file stopped ({status})") from None
            if kind == "items":
                yield from payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        receiving.close()
        if not reaped:  # once reaped, its pid may be another process's
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)


def _exit_status(pid: int) -> str:
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _child(
    produce: Callable[[], Iterable[Any]], batch_size: int, sending: Connection, parent: int
) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        return
    # Stopping is the parent's to decide. systemd sends SIGTERM to every
    # process of the service, and a terminal sends Ctrl+C's SIGINT to the
    # whole group: db_worker then finishes its import, which needs this
    # process, or gives it up and so ends this one.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    # What came from the parent stays out of garbage collection, which
    # would otherwise copy every page it touches.
    gc.freeze()
    batch: list[Any] = []
    try:
        for item in produce():
            batch.append(item)
            if len(batch) == batch_size:
                sending.send(("items", batch))
                batch = []
        sending.send(("items", batch))
        sending.send(("end", None))
    except Exception as error:  # raised again in the parent, after what came before it
        sending.send(("items", batch))
        sending.send(("error", _portable(error)))
    finally:
        connections.close_all()
        sending.close()


def _portable(error: Exception) -> Exception:
    """`error` with the child's traceback as a note, or a stand-in if it cannot be pickled."""
    where = "".join(traceback.format_exception(error))
    try:
        error.add_note(f"In the process reading the file:\n{where}")
        ForkingPickler.dumps(error)
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}\n{where}")
