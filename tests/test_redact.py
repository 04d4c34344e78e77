"""No password leaves the agent: URL user-info is masked in logs, doctor rows and config
errors, also when the password contains ``/`` or ``@``; a secret's value is never echoed."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config.devices import CameraConfig
from agent.ops.doctor.cameras import check_camera
from agent.ops.logging_setup import setup_logging
from agent.redact import redact_text, redact_url

PASSWORDS = ["s3cret", "pa/ss", "p@ss", "a:b/c@d", "x?y#z"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_user_info_is_masked_whatever_the_password_holds(password: str) -> None:
    url = f"rtsp://admin:{password}@10.0.0.5:554/Streaming/Channels/101"
    shown = redact_url(url)
    assert password not in shown and "admin" not in shown
    assert shown.startswith("rtsp://***@")
    assert shown.endswith("/Streaming/Channels/101") or password.count("@") or "/" in password


def test_urls_without_credentials_are_unchanged() -> None:
    for url in ("http://10.0.0.5/video.mjpg", "/dev/video0", "rtsp://cam.local:554/s?x=1", "kitchen.avi"):
        assert redact_url(url) == url
    assert redact_url("rtsp://u:pw@cam.local:554/s?x=1") == "rtsp://***@cam.local:554/s?x=1"


def test_urls_inside_text_are_masked() -> None:
    text = "cannot open 'rtsp://admin:pa/ss@10.0.0.5/stream' (timeout), also http://u:p@h/x"
    assert redact_text(text) == "cannot open 'rtsp://***@10.0.0.5/stream' (timeout), also http://***@h/x"


@pytest.fixture
def agent_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_never_carry_a_password(agent_logging: None, capsys: pytest.CaptureFixture[str],
                                          fmt: str) -> None:
    setup_logging("INFO", fmt)
    log = logging.getLogger("agent.vision.camera")
    log.warning("camera cam-1 cannot open %s", "rtsp://admin:pa/ss@10.0.0.5/stream")
    try:
        raise OSError("connect to http://u:p@ss@gw.local/x failed")
    except OSError:
        log.exception("camera loop crashed")
    err = capsys.readouterr().err
    assert "pa/ss" not in err and "p@ss" not in err and "admin" not in err
    assert "rtsp://***@10.0.0.5/stream" in err and "http://***@gw.local/x" in err


def test_doctor_camera_row_hides_the_password() -> None:
    camera = CameraConfig(id="cam-1", url="http://admin:pa/ss@127.0.0.1:1/video.mjpg")
    row = check_camera(camera, seconds=0.2)
    assert not row.ok
    assert "pa/ss" not in row.detail + row.fix and "admin" not in row.detail
    assert "http://***@127.0.0.1:1/video.mjpg" in row.detail


def test_check_config_never_echoes_a_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent("""\
        identity: {agent_id: k1, school_id: "5101040042", canteen_id: k1}
        broker:
          username: k1
          password: 73914628
        cameras:
          - {id: cam-1, url: "rtsp://admin:pa/ss@10.0.0.5/stream", analyse_fps: 0}
        """))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "broker.password (line 4)" in err and "cameras.0.analyse_fps (line 6)" in err
    assert "73914628" not in err and "pa/ss" not in err
