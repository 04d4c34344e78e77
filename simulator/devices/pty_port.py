"""A pseudo-terminal standing in for a USB-serial adapter, for the simulated devices.

The device side keeps the master end; the agent opens the slave's path. With a link
path, that path is a symlink (like ``/dev/serial/by-id/...``) that survives unplug and
replug, while the pty behind it changes.
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path


def open_raw_pty() -> tuple[int, int, str]:
    """(master fd, non-blocking; slave fd; slave path), the slave in raw mode so nothing
    is echoed or edited before the agent configures the port."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def point_link(link: Path, target: str) -> None:
    """Make ``link`` a symlink to ``target``, replacing any old one in one step."""
    tmp = link.with_name(link.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def remove_link(link: Path | None) -> None:
    if link is not None:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()


def close_fds(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
