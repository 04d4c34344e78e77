"""The Debian package (systemd/package/build.py): what it holds, and what dpkg does with it
in a throwaway root (never this machine's own system): the user and its groups, the
config from the template, the venv answering ``--version`` and ``check-config``; an
upgrade and a removal keep config and store, purge removes them. lintian runs in
``./dev.sh package`` (a minute on this tree), not here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.fixtures_package import GOOD, REPO, Packages, dpkg, needs_dpkg

pytestmark = needs_dpkg


def contents(deb: Path) -> list[str]:
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] if " -> " not in line else line.split()[-3] for line in listing.splitlines()]


def test_package_holds_venv_unit_launcher_template_and_docs(packages: Packages):
    paths = set(contents(packages.installed))
    for wanted in ("./opt/canteen-agent/bin/canteen-agent", "./opt/canteen-agent/venv/bin/python3",
                   "./opt/canteen-agent/venv/pyvenv.cfg", "./lib/systemd/system/canteen-agent.service",
                   "./usr/bin/canteen-agent", "./usr/share/canteen-agent/agent.yaml.example",
                   "./usr/share/doc/canteen-agent/copyright", "./usr/share/doc/canteen-agent/changelog.gz",
                   "./usr/share/man/man1/canteen-agent.1.gz", "./usr/share/lintian/overrides/canteen-agent"):
        assert wanted in paths, wanted
    site = "./opt/canteen-agent/venv/lib/python3.11/site-packages/"
    # the Modbus profiles where the agent looks for them in an install (sys.prefix/share)
    assert "./opt/canteen-agent/venv/share/canteen-agent/profiles/xy-md02.yaml" in paths
    for module in ("agent/", "drivers/", "paho/", "onnxruntime/", "cv2/", "pydantic/", "evdev/", "serial/",
                   "pymodbus/", "uvicorn/", "cryptography/"):
        assert site + module in paths, module
    assert not any("/etc/" in p for p in paths if p.startswith("./etc"))  # config comes from postinst
    info = subprocess.run(["dpkg-deb", "--field", str(packages.installed), "Package", "Version", "Architecture",
                           "Depends"], capture_output=True, text=True, check=True).stdout
    assert "Package: canteen-agent" in info and f"Version: {packages.version}" in info
    assert "Architecture: amd64" in info and "python3 (<< 3.12)" in info
    # nothing of the build machine in the venv: the interpreter is Debian's
    cfg = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(packages.installed)], capture_output=True, check=True).stdout
    assert b"home = /usr/bin" in cfg and b"/root/.pyenv" not in cfg and str(REPO).encode() not in cfg


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    launcher = root / "opt/canteen-agent/bin/canteen-agent"
    env = dict(os.environ, CANTEEN_OPT=str(root / "opt/canteen-agent"),
               CANTEEN_RELEASES=str(root / "var/lib/canteen-agent/releases"))
    return subprocess.run(["sh", str(launcher), *args], capture_output=True, text=True, timeout=120, env=env)


def test_install_into_a_root_makes_user_dirs_config_and_runs(installed_root: Path, packages: Packages, tmp_path: Path):
    root = installed_root
    passwd = (root / "etc/passwd").read_text()
    assert "canteen:x:" in passwd and ":/var/lib/canteen-agent:/usr/sbin/nologin" in passwd
    groups = {line.split(":")[0]: line.split(":")[3] for line in (root / "etc/group").read_text().splitlines()}
    for group in ("dialout", "video", "input"):
        assert "canteen" in groups[group].split(","), group
    etc, state = root / "etc/canteen-agent", root / "var/lib/canteen-agent"
    assert etc.stat().st_mode & 0o777 == 0o770 and state.stat().st_mode & 0o777 == 0o750
    assert (etc / "agent.yaml").read_text() == (root / "usr/share/canteen-agent/agent.yaml.example").read_text()

    done = _run(root, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"canteen-agent {packages.version}", done.stderr
    # the template as installed passes the check: its Modbus profiles are found in the venv
    done = _run(root, "check-config", str(etc / "agent.yaml"))
    assert done.returncode == 0 and "valid" in done.stdout, done.stderr
    config = tmp_path / "site.yaml"
    config.write_text("identity: {agent_id: sc-cd-0042-k1, school_id: '5101040042', canteen_id: k1}\n"
                      f"store: {{path: {tmp_path}/agent.db}}\n")
    done = _run(root, "check-config", str(config))
    assert done.returncode == 0 and "valid" in done.stdout, done.stderr


def test_upgrade_and_removal_keep_config_and_store_purge_removes_them(installed_root: Path, packages: Packages):
    root = installed_root
    config = root / "etc/canteen-agent/agent.yaml"
    config.write_text(config.read_text() + "# edited on site\n")
    store = root / "var/lib/canteen-agent/agent.db"
    store.write_bytes(b"records")
    (root / "var/lib/canteen-agent/releases/0.0.9").mkdir(parents=True)  # left by a remote update
    done = dpkg(root, "-i", str(packages.good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert config.read_text().endswith("# edited on site\n") and store.read_bytes() == b"records"
    assert not (root / "var/lib/canteen-agent/releases").exists()  # the package is in force now
    assert _run(root, "--version").stdout.strip() == f"canteen-agent {GOOD}"
    done = dpkg(root, "--remove", "canteen-agent")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (root / "opt/canteen-agent/venv").exists()
    assert config.exists() and store.read_bytes() == b"records"
    done = dpkg(root, "--purge", "canteen-agent")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (root / "etc/canteen-agent").exists() and not (root / "var/lib/canteen-agent").exists()
