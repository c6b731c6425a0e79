"""Room kept beside a SQLite database, to take back an import that fills the disk.

An import commits a chunk at a time. If the disk fills part way, what it
committed must be deleted again, and SQLite needs room to delete: the
deletions go to the write-ahead log before they reach the database file. On a
disk with no room left the undo would fail too, leaving half an import.

So before an import starts, a file of CATALOGUE_DISK_RESERVE_BYTES is
written next to the database (`catalogue.sqlite3.reserve`), when the disk has
room for it twice over. When the disk fills, `release()` deletes it and
`make_room()` empties the write-ahead log into the database file, and the
undo has the room it needs. The next import writes the reserve again.

PostgreSQL keeps its files on its own server, out of the app's reach; there
the reserve is PostgreSQL's to manage, and this module does nothing.

>>> ensure()        # before an import: the reserve is there, or cannot be
>>> release()       # the disk is full: give its room to the undo
True
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

# SQLite's words for SQLITE_FULL, which Python's sqlite3 gives as the message.
DISK_FULL = "database or disk is full"
WRITE_SIZE = 1024 * 1024


def database_file() -> Path | None:
    """The SQLite database's file; None for PostgreSQL or a database in memory."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def path() -> Path | None:
    """The reserve's file, or None where there is none (PostgreSQL, memory)."""
    database = database_file()
    if database is None or not settings.CATALOGUE_DISK_RESERVE_BYTES:
        return None
    return database.with_name(database.name + ".reserve")


def ensure() -> bool:
    """Write the reserve if it is missing and the disk has room for it twice.

    Returns whether a reserve is in place. Never raises: an import goes on
    without one (a full disk then may leave it half done, and says so).
    """
    reserve = path()
    if reserve is None:
        return False
    size = settings.CATALOGUE_DISK_RESERVE_BYTES
    if reserve.exists() and reserve.stat().st_size >= size:
        return True
    try:
        if shutil.disk_usage(reserve.parent).free < 2 * size:
            logger.warning("No room for the disk reserve (%s bytes) beside %s", size, reserve)
            return False
        partial = reserve.with_name(reserve.name + ".partial")
        with partial.open("wb") as file:
            # Written, not just sized: a sparse file would hold no room at all.
            block = bytes(WRITE_SIZE)
            for _ in range(0, size, WRITE_SIZE):
                file.write(block)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(reserve)
    except OSError as error:
        logger.warning("Could not write the disk reserve %s: %s", reserve, error)
        reserve.with_name(reserve.name + ".partial").unlink(missing_ok=True)
        return False
    return True


def release() -> bool:
    """Delete the reserve, giving its room back; returns whether there was one."""
    reserve = path()
    if reserve is None or not reserve.exists():
        return False
    reserve.unlink(missing_ok=True)
    logger.warning("The disk is full: released the reserve beside the database")
    return True


def make_room() -> None:
    """Move the write-ahead log into the database file and empty it.

    After a failed write the log holds that write's pages, unused now but
    taking their room. Never raises; the undo that follows says what failed.
    """
    if connection.vendor != "sqlite":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except DatabaseError as error:
        logger.warning("Could not empty the write-ahead log: %s", error)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is the database (or its disk) refusing to grow."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return DISK_FULL in str(error)
