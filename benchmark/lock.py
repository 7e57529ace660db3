"""One driver per results folder: an advisory lock the OS releases when its holder dies."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import CannotWrite


class FolderBusy(RuntimeError):
    """Another driver holds the folder; the message names it."""


class FolderLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / ".regbench.lock"
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CannotWrite.of(self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # flock dies with its process: a SIGKILL leaves no lock
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FolderBusy(f"{self.path.parent} is in use by another `regbench run` ({holder}); wait for it "
                             f"to finish, or give this one another --results folder") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        except OSError as exc:
            os.close(fd)
            raise CannotWrite.of(self.path, exc) from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None

