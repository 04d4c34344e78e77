"""``check-config`` finds what ``run`` would trip on: out-of-range numbers, hostile or
broken YAML, keys and files the runtime needs; each with file, key and line, exit 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.cli.main import main

from .conftest import REPO

BASE = """\
identity:
  agent_id: k1-box
  school_id: "5101040042"
  canteen_id: k1
"""


def write(tmp_path: Path, text: str, name: str = "agent.yaml") -> Path:
    path = tmp_path / name
    path.write_text(BASE + textwrap.dedent(text), encoding="utf-8")
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(("section", "expected"), [
    # what the broker connection packs into MQTT fields of fixed width, or computes with int()
    ("broker:\n  session_expiry_s: 100000000000\n", "broker.session_expiry_s (line 6)"),
    ("store:\n  disk_budget_mb: .inf\n", "store.disk_budget_mb (line 6)"),
    ("store:\n  disk_budget_mb: .nan\n", "store.disk_budget_mb (line 6)"),
    ("broker:\n  keepalive_s: 70000\n", "broker.keepalive_s (line 6)"),
    ("broker:\n  inflight_max: 0\n", "broker.inflight_max (line 6)"),
    ("broker:\n  port: 70000\n", "broker.port (line 6)"),
    ("broker:\n  ack_timeout_s: 1e300\n", "broker.ack_timeout_s (line 6)"),
    ("store:\n  retention_days: 10000000000\n", "store.retention_days (line 6)"),
    ("rules:\n  cold_chain:\n    grace_minutes: -1\n", "rules.cold_chain.grace_minutes (line 7)"),
    ("rules:\n  cold_chain:\n    freezer_max_c: -.inf\n", "rules.cold_chain.freezer_max_c (line 7)"),
    ("rules:\n  morning_check:\n    normal_range_c: [37.3, 35.9]\n", "rules.morning_check.normal_range_c (line 7)"),
    ("rules:\n  cold_chain:\n    fridge_range_c: [8, 0]\n", "rules.cold_chain.fridge_range_c (line 7)"),
    ("devices:\n  - {id: t1, kind: ir_thermometer, port: /dev/null, baudrate: 1099511627776}\n",
     "devices.0.baudrate (line 6)"),
    ("modbus:\n  - {id: b1, kind: modbus_rtu, port: /dev/null, baudrate: 1099511627776}\n",
     "modbus.0.baudrate (line 6)"),
    ("modbus:\n  - {id: b1, kind: modbus_tcp, host: gw, port: 0}\n", "modbus.0.port (line 6)"),
])
def test_numbers_out_of_what_they_feed_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    section: str, expected: str) -> None:
    code, out = check(write(tmp_path, section), capsys)
    assert code == 2, out
    assert expected in out


def test_largest_mqtt_session_expiry_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(write(tmp_path, f"broker:\n  session_expiry_s: {2**32 - 1}\n"), capsys)
    assert code == 0, out


@pytest.mark.parametrize(("section", "expected"), [
    ("broker:\n  platform_public_key: not*base64!\n", "broker (line 5)"),
    ("broker:\n  platform_public_key: " + "QUJD" * 3 + "\n", "Ed25519"),  # base64, but not 32 bytes
    ("broker:\n  tls:\n    ca_file: /nonexistent/ca.pem\n", "broker.tls.ca_file (line 7)"),
    ("modbus:\n  - id: b1\n    kind: modbus_tcp\n    host: gw\n    devices:\n      - {id: f1, profile: no-such-profile}\n",
     "unknown Modbus profile 'no-such-profile'"),
    ("devices:\n  - {id: t1, kind: ir_thermometer, protocol: ascii_line, port: /dev/null, pattern: '(?P<object>['}\n",
     "devices.0.pattern (line 6): Value error, pattern is not a valid regular expression"),
])
def test_what_run_would_trip_on_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         section: str, expected: str) -> None:
    code, out = check(write(tmp_path, section), capsys)
    assert code == 2, out
    assert expected in out
    assert "Traceback" not in out


def test_tls_ca_file_that_is_not_a_certificate_is_refused(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    code, out = check(write(tmp_path, f"broker:\n  tls:\n    ca_file: {bogus}\n"), capsys)
    assert code == 2
    assert "broker.tls (line 6)" in out and "CA" in out


def test_non_utf8_file_is_exit_2_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.yaml"
    path.write_bytes(BASE.encode() + b"site:\n  suppliers: {caf\xe9: 2027-01-01}\n")
    code, out = check(path, capsys)
    assert code == 2
    assert f"{path} (line 6): not UTF-8" in out


def test_deep_nesting_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "site:\n  suppliers: " + "[" * 3000 + "]" * 3000 + "\n")
    code, out = check(path, capsys)
    assert code == 2
    assert "nested deeper than" in out and "line 6" in out


def test_python_tag_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "site:\n  suppliers: !!python/object/apply:os.system ['true']\n")
    code, out = check(path, capsys)
    assert code == 2
    assert "(line 6): not valid YAML" in out and "python/object/apply" in out


def test_duplicated_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "broker:\n  host: a.example\n  port: 8883\n  host: b.example\n")
    code, out = check(path, capsys)
    assert code == 2
    assert "(line 8): key 'host' appears twice" in out and "first at line 6" in out


def test_merge_keys_still_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, """\
        schedules:
          meals:
            lunch: &meal {start: "11:30", end: "13:00"}
            dinner:
              <<: *meal
              start: "17:00"
              end: "18:30"
        """)
    code, out = check(path, capsys)
    assert code == 0, out


def test_alias_bomb_is_refused_in_bounded_time(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    path = tmp_path / "bomb.yaml"
    path.write_text(BASE + "site:\n  suppliers:\n" + "".join(f"    {line}\n" for line in levels))  # 10^8
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "agent", "check-config", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "aliases are expanded" in done.stderr
    assert time.monotonic() - started < 30  # generous for a loaded machine; it hung before


def test_alias_that_contains_itself_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(write(tmp_path, "site:\n  menu: &m [*m]\n"), capsys)
    assert code == 2
    assert "refers to the value that contains it" in out


def test_oversized_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(write(tmp_path, "# " + "x" * (2 * 1024 * 1024) + "\n"), capsys)
    assert code == 2
    assert "larger than" in out


@pytest.mark.parametrize("patch", [{"broker": {"session_expiry_s": 100_000_000_000}},
                                   {"store": {"disk_budget_mb": float("inf")}},
                                   {"broker": {"keepalive_s": 2**16}}])
def test_set_config_beyond_what_the_connection_packs_is_refused(tmp_path: Path, patch: dict) -> None:
    from agent.uplink.config_update import ConfigUpdateError, apply_config_update

    path = write(tmp_path, "")
    before = path.read_bytes()
    with pytest.raises(ConfigUpdateError, match="nothing changed"):
        apply_config_update(path, patch)
    assert path.read_bytes() == before


def test_a_key_of_another_station_kind_says_whose_it_is(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Every station once accepted every kind's settings; since the kinds own their config, an
    # older file's harmless extra is refused, and the message says how to mend it.
    path = write(tmp_path, """\
        devices:
          - {id: b1, kind: badge_reader, port: /dev/null}
          - {id: t1, kind: ir_thermometer, port: /dev/null}
        stations:
          - {id: mc-1, kind: morning_check, badge: b1, thermometer: t1, tare_g: 0}
        """)
    code, out = check(path, capsys)
    assert code == 2
    assert "stations.0.tare_g (line 9): unknown key (not a setting of a morning_check station, " \
           "only of food_sample" in out
    assert "remove it" in out
