"""The shipped unit: what it promises (notify, watchdog, user, directories, hardening)
read from the file, and ``systemd-analyze verify``/``security`` where systemd-analyze
is installed (skipped cleanly elsewhere)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "canteen-agent.service"
ANALYZE = shutil.which("systemd-analyze")


def _settings() -> dict[str, list[str]]:
    """Key -> every value it is given in [Service] (systemd allows repeats)."""
    out: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_unit_parses_as_ini():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections())


def test_notify_watchdog_restart_and_identity():
    s = _settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert int(s["WatchdogSec"][0]) > 0
    assert s["Restart"] == ["on-failure"]
    assert s["User"] == ["canteen"]
    assert set(s["SupplementaryGroups"][0].split()) >= {"dialout", "video", "input"}
    assert s["StateDirectory"] == ["canteen-agent"] and s["ConfigurationDirectory"] == ["canteen-agent"]
    # the launcher: the release in force (a remote update's, else the installed venv)
    assert s["ExecStart"][0].startswith("/opt/canteen-agent/bin/canteen-agent run --config /etc/canteen-agent/")
    assert s["StandardOutput"] == ["journal"]


def test_hardening_and_device_allow_list():
    s = _settings()
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert s["PrivateTmp"] == ["yes"] and s["ProtectHome"] == ["yes"]
    assert s["CapabilityBoundingSet"] == [""]
    assert s["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    assert allowed == {"char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-ttyS", "char-video4linux", "char-input"}
    assert "PrivateDevices" not in s  # would hide the serial adapters and cameras
    # the config directory stays writable for set_config's atomic rename
    assert "/etc/canteen-agent" in s["ReadWritePaths"][0].split()


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    """The shipped unit, with ExecStart pointed at this checkout's entry point (verify
    checks that the command exists; /opt is not installed here)."""
    entry = Path(sys.executable).with_name("canteen-agent")
    if not entry.exists():
        pytest.skip("canteen-agent entry point not installed in this environment")
    unit = tmp_path / "canteen-agent.service"
    unit.write_text(UNIT.read_text().replace("/opt/canteen-agent/bin/canteen-agent", str(entry)))
    done = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")
def test_systemd_analyze_security_exposure_is_low():
    done = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    if "offline" in done.stderr and done.returncode != 0:
        pytest.skip(f"this systemd-analyze has no offline security review: {done.stderr.strip()}")
    found = re.search(r"Overall exposure level for canteen-agent.service: ([0-9.]+)", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr
    assert float(found.group(1)) <= 2.0  # README states the figure; "OK" is below 4
