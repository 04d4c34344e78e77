"""Read the project's ``.deb`` without dpkg: its control fields and its virtual environment.

A ``.deb`` is an ``ar`` archive of ``debian-binary``, ``control.tar.*`` and
``data.tar.*`` (xz, gzip or uncompressed here; Python's ``tarfile`` reads them). The
agent runs unprivileged, so it does not install the package: it unpacks the package's
``opt/canteen-agent/venv`` into a release directory beside the running one, refusing
any member that would land outside it.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

VENV_PREFIX = PurePosixPath("opt/canteen-agent/venv")
# the only links a venv needs: bin/python* -> Debian's interpreter or each other
ALLOWED_ABSOLUTE_LINKS = {"/usr/bin/python3"}


class PackageError(ValueError):
    """The file is not a usable package of this agent; ``str()`` says why."""


def _members(fh: BinaryIO) -> Iterator[tuple[str, int, int]]:
    """(name, offset, size) of each ar member."""
    if fh.read(8) != b"!<arch>\n":
        raise PackageError("not a Debian package (no ar header)")
    while True:
        header = fh.read(60)
        if not header:
            return
        if len(header) < 60:
            raise PackageError("truncated package")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise PackageError("corrupt ar member header") from None
        offset = fh.tell()
        yield name, offset, size
        fh.seek(offset + size + (size % 2))


def _open_member(path: Path, prefix: str) -> tuple[tarfile.TarFile, BinaryIO]:
    fh = open(path, "rb")  # noqa: SIM115 - closed by the caller through the pair
    for name, offset, size in _members(fh):
        if name.startswith(prefix):
            fh.seek(offset)
            window = io.BufferedReader(_Window(fh, size))
            if name.endswith(".zst"):
                fh.close()
                raise PackageError("zstd-compressed packages are not supported: build with xz or gzip")
            if name.endswith(".xz"):
                return tarfile.open(fileobj=window, mode="r|xz"), fh
            if name.endswith(".gz"):
                return tarfile.open(fileobj=window, mode="r|gz"), fh
            return tarfile.open(fileobj=window, mode="r|"), fh
    fh.close()
    raise PackageError(f"no {prefix}* member in the package")


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of ``fh`` from its current position."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        data = self.fh.read(min(len(view), self.left))
        view[:len(data)] = data
        self.left -= len(data)
        return len(data)


def control_fields(path: Path) -> dict[str, str]:
    """``Package``, ``Version``, ``Architecture`` ... of the package's control file."""
    archive, fh = _open_member(path, "control.tar")
    try:
        with archive:
            for member in archive:
                if PurePosixPath(member.name).name == "control" and member.isfile():
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    text = extracted.read().decode("utf-8")
                    break
            else:
                raise PackageError("the package has no control file")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PackageError(f"unreadable control archive: {exc}") from None
    finally:
        fh.close()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


def extract_venv(path: Path, dest: Path) -> int:
    """Unpack the package's venv into ``dest`` (which must not exist); returns the files
    written. Removes what it wrote when anything is wrong."""
    if dest.exists():
        raise PackageError(f"{dest} exists already")
    archive, fh = _open_member(path, "data.tar")
    dest.mkdir(parents=True)
    count = 0
    try:
        with archive:
            for member in archive:
                rel = _relative(member.name)
                if rel is None:
                    continue
                target = dest.joinpath(*rel.parts) if rel.parts else dest
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    _check_link(rel, member.linkname)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    with open(target, "wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
                    os.chmod(target, member.mode & 0o755)
                    count += 1
                else:
                    raise PackageError(f"unexpected member type in the package: {member.name}")
    except (PackageError, tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, PackageError):
            raise
        raise PackageError(f"unreadable data archive: {exc}") from None
    finally:
        fh.close()
    if count == 0 or not (dest / "bin").is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        raise PackageError("the package holds no opt/canteen-agent/venv")
    return count


def _relative(name: str) -> PurePosixPath | None:
    """The member's path inside the venv, None for members outside it; PackageError for
    a path that climbs out (``..``)."""
    path = PurePosixPath(name.removeprefix("./").lstrip("/"))
    if ".." in path.parts:
        raise PackageError(f"unsafe path in the package: {name}")
    try:
        return path.relative_to(VENV_PREFIX)
    except ValueError:
        return None


def _check_link(rel: PurePosixPath, link: str) -> None:
    if link.startswith("/"):
        if link not in ALLOWED_ABSOLUTE_LINKS:
            raise PackageError(f"unsafe link in the package: {rel} -> {link}")
        return
    depth = len(rel.parts) - 1
    climbs = sum(1 for part in PurePosixPath(link).parts if part == "..")
    if climbs > depth:
        raise PackageError(f"unsafe link in the package: {rel} -> {link}")


def host_architecture() -> str:
    """The Debian name of this machine's architecture."""
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}.get(machine, machine)
