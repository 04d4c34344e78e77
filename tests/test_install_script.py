"""systemd/install.sh under ``--root``: the layout install creates, that upgrade keeps the
config and the store, and that uninstall keeps them unless asked (--purge)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "systemd" / "install.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def run(root: Path, *args: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--no-pip", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_install_lays_out_user_dirs_venv_config_and_unit(tmp_path):
    out = run(tmp_path, "install")
    assert (tmp_path / "opt/canteen-agent/venv/bin/python").exists()
    # the same layout as the Debian package: the unit starts the launcher
    launcher = tmp_path / "opt/canteen-agent/bin/canteen-agent"
    assert launcher.read_text() == (REPO / "systemd/canteen-agent-launch").read_text()
    assert launcher.stat().st_mode & 0o111
    unit = tmp_path / "etc/systemd/system/canteen-agent.service"
    assert unit.read_text() == (REPO / "systemd/canteen-agent.service").read_text()
    config = tmp_path / "etc/canteen-agent/agent.yaml"
    assert config.is_file() and "identity:" in config.read_text()
    assert (tmp_path / "etc/canteen-agent").stat().st_mode & 0o777 == 0o770
    assert (tmp_path / "var/lib/canteen-agent").stat().st_mode & 0o777 == 0o750
    # nothing touched the real system
    assert "(skipped) systemctl enable canteen-agent" in out
    assert "(skipped under --root) user canteen" in out


def test_upgrade_keeps_config_and_store(tmp_path):
    run(tmp_path, "install")
    config = tmp_path / "etc/canteen-agent/agent.yaml"
    config.write_text(config.read_text() + "# edited on site\n")
    store = tmp_path / "var/lib/canteen-agent/agent.db"
    store.write_bytes(b"records")
    unit = tmp_path / "etc/systemd/system/canteen-agent.service"
    unit.write_text("stale")
    run(tmp_path, "upgrade")
    assert config.read_text().endswith("# edited on site\n")
    assert store.read_bytes() == b"records"
    assert unit.read_text() == (REPO / "systemd/canteen-agent.service").read_text()
    # a second install does not overwrite the config either
    run(tmp_path, "install")
    assert config.read_text().endswith("# edited on site\n")


def test_uninstall_keeps_data_unless_purged(tmp_path):
    run(tmp_path, "install")
    (tmp_path / "var/lib/canteen-agent/agent.db").write_bytes(b"records")
    out = run(tmp_path, "uninstall")
    assert not (tmp_path / "opt/canteen-agent").exists()
    assert not (tmp_path / "etc/systemd/system/canteen-agent.service").exists()
    assert (tmp_path / "etc/canteen-agent/agent.yaml").exists()
    assert (tmp_path / "var/lib/canteen-agent/agent.db").read_bytes() == b"records"
    assert "kept" in out
    run(tmp_path, "uninstall", "--purge")
    assert not (tmp_path / "etc/canteen-agent").exists()
    assert not (tmp_path / "var/lib/canteen-agent").exists()


def test_upgrade_without_install_is_refused(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(tmp_path), "--no-pip", "upgrade"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "not installed" in done.stderr

