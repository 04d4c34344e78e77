"""What the installer reads from ``doctor`` and ``probe`` is about their kitchen, in plain
words: no warnings about the built-in profiles, no FFmpeg or Python noise, one row (not
one per port) for a missing service user, advice that fits a TCP gateway."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import ssl
from pathlib import Path

import pytest
import yaml

from agent.cli.main import main
from agent.config.devices import CameraConfig
from agent.config_file.loader import load_config
from agent.ops.doctor.cameras import check_camera
from agent.ops.doctor.checks import DoctorOptions
from agent.ops.doctor.checks import reason_of as _reason
from agent.ops.doctor.modbus import check_modbus
from agent.ops.doctor.run import run_checks
from drivers.modbus.profiles import BUILTIN_PROFILES_DIR


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(tmp_path: Path, **sections: object) -> Path:
    data = {"identity": {"agent_id": "doc-1", "school_id": "5101040042", "canteen_id": "k1"},
            "broker": {"host": "127.0.0.1", "port": _closed_port()},
            "store": {"path": str(tmp_path / "state" / "agent.db"), "media_dir": str(tmp_path / "state" / "media")},
            "console": {"port": 0},  # not this machine's 8080, which anything else may hold
            **sections}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_builtin_profiles_beside_the_config_give_no_override_warning(tmp_path, caplog) -> None:
    shutil.copytree(BUILTIN_PROFILES_DIR, tmp_path / "profiles")  # a config kept in config/, as shipped
    path = _config(tmp_path, modbus=[{"id": "gw", "kind": "modbus_tcp", "host": "127.0.0.1",
                                      "port": _closed_port(), "devices": [{"id": "f1", "profile": "xy-md02"}]}])
    with caplog.at_level(logging.WARNING):
        rows = check_modbus(load_config(path, {}), tmp_path, DoctorOptions())
    assert "override" not in caplog.text
    [row] = rows
    assert not row.ok and "cannot open 127.0.0.1:" in row.detail
    assert "Errno" not in row.detail and "(" not in row.detail.split(":", 2)[-1]  # no repr of an exception
    assert "gateway" in row.fix and "serial" not in row.fix and "A/B" not in row.fix


def test_camera_failures_print_no_ffmpeg_noise(capfd) -> None:
    import cv2

    cv2.VideoCapture(f"rtsp://127.0.0.1:{_closed_port()}/warm-up").release()  # FFmpeg set up, as in a long run
    capfd.readouterr()
    row = check_camera(CameraConfig(id="cam-1", url=f"rtsp://127.0.0.1:{_closed_port()}/stream"), 0.2)
    assert not row.ok and row.detail.startswith("cannot open rtsp://127.0.0.1:")
    out, err = capfd.readouterr()
    assert "[tcp @" not in err and "Connection refused" not in err


def test_exceptions_read_as_words() -> None:
    assert _reason(ConnectionRefusedError(111, "Connection refused")) == "Connection refused"
    assert _reason(ValueError("bad frame\nmore")) == "bad frame"
    assert _reason(RuntimeError()) == "RuntimeError"
    tls = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)")
    tls.reason = "WRONG_VERSION_NUMBER"
    assert _reason(tls) == "WRONG_VERSION_NUMBER"


@pytest.mark.skipif(os.geteuid() != 0, reason="the service-user rows are what root sees")
def test_root_without_the_service_user_gets_one_warning(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    ptys = [os.openpty() for _ in range(4)]
    try:
        devices = [{"id": f"t{i}", "kind": "ir_thermometer", "port": os.ttyname(slave)}
                   for i, (_, slave) in enumerate(ptys)]
        rows = run_checks(_config(tmp_path, devices=devices), DoctorOptions(service_user="no-such-user-x"))
    finally:
        for master, slave in ptys:
            os.close(master)
            os.close(slave)
    warned = [r for r in rows if r.status == "WARN"]
    assert [r.name for r in warned] == ["service user"], rows
    assert all(r.ok for r in rows if r.name.startswith("serial "))


def test_doctor_summary_is_the_tables_last_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    assert main(["doctor", "--config", str(_config(tmp_path))]) == 1  # the broker is not there
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].endswith("1 fail")
    assert "unreachable: Connection refused" in out and "Errno" not in out


def test_probe_names_a_missing_port(capsys) -> None:
    assert main(["probe", "--port", "/dev/ttyNOPE"]) == 2
    err = capsys.readouterr().err
    assert "no such port: /dev/ttyNOPE" in err and "nothing answered" not in err


@pytest.mark.parametrize("argv", [[], ["run"], ["check-config"], ["records"], ["status"], ["doctor"],
                                  ["probe"], ["today"], ["meal"], ["discard-samples"], ["vision", "eval"]])
def test_agent_help_has_no_markup_or_developer_notes(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage:")
    for leak in ("``", ":class:", ":func:", "noqa", "TODO"):
        assert leak not in text, (argv, text)


@pytest.mark.parametrize("argv", [[], ["demo"], ["platform"], ["modbus"], ["fleet"]])
def test_simulator_help_lists_what_the_readme_documents(capsys, argv: list[str]) -> None:
    from simulator.cli import main as sim_main

    with pytest.raises(SystemExit) as exit_info:
        sim_main([*argv, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text, text
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    if argv:
        assert f"canteen-sim {argv[0]}" in readme
