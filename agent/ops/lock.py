"""The running agent's lock: ``<store>.lock``, held with ``flock`` for as long as the agent runs.

Whatever must not disturb a running agent (``canteen-agent doctor``: it would open the
agent's serial ports, poll its RS-485 lines as a second master, open its cameras and take
over its MQTT session) asks ``running_agent(store_path)`` first. The kernel drops an
``flock`` when its holder's last descriptor closes, at exit, crash or SIGKILL alike, so the
lock is never stale the way a pid file is; the pid written inside only names the holder.

``flock``, not POSIX ``fcntl`` locks: a POSIX lock is dropped when *any* descriptor of the file
in the process closes, so a probe from inside the agent's own process (the console's doctor)
would release it. The descriptor is close-on-exec (Python's default), so FFmpeg children
never inherit the lock and outlive the agent holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path


class AgentAlreadyRunning(RuntimeError):
    """Another agent holds this store's lock: two agents on one store would fight over it."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"an agent is already running on this store ({who} holds {path})")
        self.path = path
        self.pid = pid


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    path = Path(store_path)
    return path.with_name(path.name + ".lock")


@dataclass(frozen=True)
class LockHolder:
    """What ``running_agent`` found: ``running`` is None when it cannot tell (``reason`` says why)."""

    running: bool | None
    pid: int | None
    path: Path
    reason: str = ""


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def running_agent(store_path: str | os.PathLike[str]) -> LockHolder:
    """Is an agent running on this store? Asks the kernel, never takes the lock for longer than
    the asking (a shared lock, given back at once)."""
    path = lock_path(store_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # no agent of this version has ever run on this store
        return LockHolder(False, None, path)
    except OSError as exc:
        return LockHolder(None, None, path, f"cannot open {path}: {os.strerror(exc.errno or 0)}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return LockHolder(True, _read_pid(fd), path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockHolder(False, None, path)
    finally:
        os.close(fd)


class AgentLock:
    """Held by ``Agent`` from ``start`` to ``stop``."""

    def __init__(self, store_path: str | os.PathLike[str]) -> None:
        self.path = lock_path(store_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: float = 2.0) -> None:
        """Take the lock or raise ``AgentAlreadyRunning``. A probe's shared lock lasts a moment:
        ``wait_s`` rides it out."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise AgentAlreadyRunning(self.path, pid) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Unlock; the file stays (removing it would race an agent that has just opened it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
