"""Local files written safely: one exclusive lock helper and one atomic write (temp + fsync + rename).

A crash leaves the old file or the new one, never half of one; a lock is an flock the OS drops
when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO


class LockHeld(BlockingIOError):
    """A non-blocking `exclusive_lock` found the lock taken; `holder` is what its holder wrote (a pid)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path, self.holder = path, holder


@contextlib.contextmanager
def exclusive_lock(path: str | Path, *, blocking: bool = True, note: str | None = None) -> Iterator[IO[str]]:
    """Hold an exclusive flock on `path` (created with its folder) for the `with` block.

    `blocking=False` raises LockHeld at once when another process holds it. `note` (e.g. the pid)
    is written into the lock file while held, so the next one can say who holds it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            raise LockHeld(path, handle.read().strip()) from None
        try:
            if note is not None:
                handle.seek(0)
                handle.truncate()
                handle.write(note)
                handle.flush()
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fsync_dir(path: str | Path) -> None:
    """Make a rename inside folder `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, content: bytes | Callable[[Path], None]) -> Path:
    """Replace `path` with `content` atomically: a hidden temp file in the same folder, fsynced, renamed.

    `content` is the bytes to write, or a function that writes the file at the path it is given
    (e.g. a Parquet writer). Returns `path`; on any error the temp file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        if callable(content):
            os.close(fd)
            fd = -1
            content(temp)
            fd = os.open(temp, os.O_RDONLY)
        else:
            _write_all(fd, content)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


def newest_json_at(folder: Path, at: datetime) -> dict | None:
    """The newest JSON document in `folder` stamped at or before `at`, or None. Files are named by
    their UTC time (`stamp_name`), so names sort in time order; a file being replaced or damaged is
    skipped and the one before stands."""
    limit = stamp_name(at)
    files = sorted(path for path in folder.glob("*.json") if path.name <= limit) if folder.is_dir() else []
    for path in reversed(files):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def stamp_name(at: datetime) -> str:
    """A file name that sorts in time order: the UTC time to the microsecond."""
    return at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + ".json"
