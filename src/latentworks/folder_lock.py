"""One writer per run or study folder: an advisory ``flock`` on ``FOLDER/.lock``, which holds the writer's PID.

Train, ``--resume`` and a study take it; the kernel drops the lock of a process that dies (even by SIGKILL), so
the file a crash leaves is named and cleared by the next writer, and a second live writer is refused in one line.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from latentworks.errors import LatentworksError

T = TypeVar("T")

LOCK_NAME = ".lock"
_HELD: dict[Path, int] = {}  # folder -> the open descriptor whose flock this process holds


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _busy(root: Path, pid: str) -> LatentworksError:
    return LatentworksError(f"{root} is being written by another latentworks process (PID {pid}); wait for it to "
                            f"finish or stop it (kill {pid}), then retry")


def check_unlocked(root: str | Path) -> None:
    """Refuse, in one line naming its PID, a folder another process holds; creates nothing."""
    root = Path(root)
    path = root / LOCK_NAME
    if root.resolve() in _HELD or not path.is_file():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise _busy(root, _holder(path)) from None
    finally:
        os.close(fd)


def lock_run_dir(root: str | Path) -> None:
    """Make this process the one writer of run or study folder ``root`` (an advisory ``flock`` on ``root/.lock``,
    which holds the PID) until :func:`release_run_dir` or the process exits; the kernel drops the lock of a
    process that dies, so a lock file left by a crash is named and cleared. Another live holder: one line, its PID."""
    root = Path(root)
    key = root.resolve()
    if key in _HELD:
        return
    path = root / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _busy(root, _holder(path)) from None
            raise
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    stale = os.read(fd, 64).decode(errors="replace").strip()
    if stale and stale != str(os.getpid()):
        print(f"latentworks: cleared a stale lock on {root} left by PID {stale}, which no longer runs",
              file=sys.stderr)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd


def release_run_dir(root: str | Path) -> None:
    """Give up this process's lock on ``root`` (no-op when it holds none); the lock file goes with it."""
    fd = _HELD.pop(Path(root).resolve(), None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(Path(root) / LOCK_NAME)
    os.close(fd)


def owns_run_dirs(fn: Callable[..., T]) -> Callable[..., T]:
    """Release, when ``fn`` returns or raises, the folder locks it took (a train function's run folder), so a
    process that goes on (a study, a notebook) holds no folder it has finished writing."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        before = set(_HELD)
        try:
            return fn(*args, **kwargs)
        finally:
            for key in set(_HELD) - before:
                release_run_dir(key)

    return wrapper


@atexit.register
def _release_all() -> None:
    for key in list(_HELD):
        release_run_dir(key)
