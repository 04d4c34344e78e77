"""The Debian package, built once per test session (systemd/package/build.py), and an
install of it into a throwaway root with dpkg (never into this machine's own system).

Three packages: the checkout's version (installed), a newer one (the update that
works) and a newer one whose uplink never connects (the update that must be undone).
Built with gzip -1: xz, what ``./dev.sh package`` uses, costs minutes more for the same
tree. The wheels come from build/wheels/amd64 (fetched with the package index once, and again
when the runtime dependencies change).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "systemd" / "package" / "build.py"
GOOD, BROKEN = "0.1.1+test", "0.1.2+broken"

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None or not Path("/usr/bin/python3").exists(),
                                reason="needs dpkg-deb and Debian's python3")


@dataclass(frozen=True)
class Packages:
    installed: Path  # the checkout's version
    good: Path  # GOOD: a newer version that works
    broken: Path  # BROKEN: a newer version whose uplink never connects
    version: str  # the checkout's version


def _build(out: Path, work: Path, *extra: str) -> Path:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    wheels = REPO / "build" / "wheels" / arch
    fetch = [] if _fetched_for_these_dependencies(wheels) else ["--fetch"]
    done = subprocess.run([sys.executable, str(BUILD), "--compress", "gzip", "--level", "1", "--out", str(out),
                           "--work", str(work), "--wheels", str(wheels), *fetch, *extra],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    if fetch:
        (wheels / ".fetched-for").write_text(_dependencies_digest())
    return Path(done.stdout.strip().splitlines()[-1])


def _fetched_for_these_dependencies(wheels: Path) -> bool:
    """The wheels in build/ were fetched for the project's current runtime dependencies
    (a dependency added since would be missing from an offline build); the stamp is written
    once a build that fetched has succeeded."""
    stamp = wheels / ".fetched-for"
    return stamp.exists() and stamp.read_text() == _dependencies_digest()


def _dependencies_digest() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return hashlib.sha256(json.dumps(project["dependencies"]).encode()).hexdigest()


def _broken_source(dest: Path) -> Path:
    """The checkout with an uplink that can never connect (a bad release, on purpose)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    connection = dest / "agent/uplink/connection.py"
    text = connection.read_text()
    marker = "        check_transport_policy(self.config)\n"
    assert marker in text
    connection.write_text(text.replace(marker, marker + "        raise ConnectionError(\"this release is broken on purpose (test)\")\n", 1))
    return dest


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    """Built once per run: under pytest-xdist the first worker to ask builds them in the
    run's shared temporary directory while the others wait on its lock, then read its list."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _build_all(tmp_path_factory.mktemp("debs"), tmp_path_factory.mktemp("deb-work"))
    shared = tmp_path_factory.getbasetemp().parent
    built = shared / "debs.json"
    with (shared / "debs.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if built.exists():
            return Packages(**{k: Path(v) if k != "version" else v for k, v in json.loads(built.read_text()).items()})
        made = _build_all(shared / "debs", shared / "deb-work")
        built.write_text(json.dumps({k: str(v) for k, v in asdict(made).items()}))
        return made


def _build_all(out: Path, work: Path) -> Packages:
    out.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    installed = _build(out, work, "--keep-stage")
    # the updates: the same dependencies (taken from the first build's venv), another agent
    arch = installed.name.rsplit("_", 1)[1].removesuffix(".deb")
    deps = ["--venv-from", str(work / f"stage-{arch}" / "opt/canteen-agent/venv")]
    good = _build(out, work, "--version", GOOD, *deps)
    broken = _build(out, work, "--version", BROKEN, "--source", str(_broken_source(work / "broken-src")), *deps)
    version = installed.name.split("_")[1]
    return Packages(installed, good, broken, version)


def dpkg_root(root: Path) -> Path:
    """An empty root dpkg can install into: its database and the users' files."""
    (root / "var/lib/dpkg/updates").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir()
    (root / "var/lib/dpkg/status").touch()
    etc = root / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\nvideo:x:44:\n")
    for name in ("shadow", "gshadow"):
        (etc / name).write_text("")
        (etc / name).chmod(0o640)
    return root


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dpkg on the throwaway root; maintainer scripts run outside it with DPKG_ROOT set."""
    return subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
                           "--log=/dev/null", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def installed_root(packages: Packages, tmp_path: Path) -> Iterator[Path]:
    root = dpkg_root(tmp_path / "root")
    done = dpkg(root, "-i", str(packages.installed))
    assert done.returncode == 0, done.stdout + done.stderr
    yield root
