"""Per-cell locks that the ``dance run`` child inherits.

A cell's runner takes an exclusive ``flock`` on ``<cell>/.benchmark.lock`` and passes the open
file descriptor to the ``dance run`` process it starts. ``flock`` locks belong to the open file,
not to a process, so the lock is held as long as any process keeps that descriptor open: when the
driver (or a Dask worker) is killed mid-grid, the orphaned ``dance run`` keeps the lock until it
ends, and a restarted driver sees the cell as running elsewhere instead of starting it twice.

``flock`` over NFS depends on the NFS lock service (Linux maps it to POSIX byte-range locks over
NFSv4); the record's host and pid say who runs a cell in any case.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["is_locked", "try_lock", "unlock"]


def try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``path`` (created if missing), or None when
    another open file (in any process) holds it. Close it with :func:`unlock`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlock(fd: int) -> None:
    """Release this descriptor (the lock stays while a child still has its inherited copy open)."""
    with contextlib.suppress(OSError):
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether some process holds the lock on ``path`` right now (False if the file is missing)."""
    if not Path(path).exists():
        return False
    fd = try_lock(path)
    if fd is None:
        return True
    unlock(fd)
    return False
