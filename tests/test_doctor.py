"""``canteen-agent doctor`` against a working kitchen (a thermometer on a pseudo-terminal,
Modbus devices behind a simulated TCP gateway, a camera as a video file, a real
Mosquitto with mutual TLS, the shipped models) and against a broken one (missing
port, wrong broker, a corrupted model, a Modbus slave that does not answer)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from agent.cli.main import main
from agent.ops.doctor.checks import Check, format_table
from agent.ops.doctor.ports import check_device_path
from agent.ops.doctor.run import run_checks
from agent.vision.models import resolve_models_dir
from drivers.modbus.profiles import load_profiles
from simulator.devices.modbus_devices import TcpGatewayServer
from simulator.devices.modbus_physics import FridgeModel, ScenarioClock, freezer_model
from simulator.devices.modbus_scenarios import SimDevice, build_bus
from simulator.platform.broker import Broker


@pytest.fixture
def pty_path():
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture
def modbus_gateway():
    """A TCP gateway with a fridge (slave 1) and a freezer (slave 3), on its own loop."""
    devices = [SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel()),
               SimDevice("freezer-1", 3, "rs-ws-n01", "freezer", freezer_model())]
    loop = asyncio.new_event_loop()
    server = TcpGatewayServer(build_bus(ScenarioClock(), load_profiles(), devices))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    host, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield host, port
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("broker"), tls=True, plain=False, clients=("doctor-agent",))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def video(tmp_path) -> Path:
    path = tmp_path / "kitchen.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, dtype=np.uint8))
    writer.release()
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_config(tmp_path: Path, *, port: str, gateway: tuple[str, int], broker: Broker, video: Path,
                  broker_port: int | None = None, models_dir: Path | None = None,
                  extra_slave: bool = False) -> Path:
    certs = broker.certs
    client = certs.client("doctor-agent")
    modbus_devices = [{"id": "fridge-1", "profile": "xy-md02", "slave": 1},
                      {"id": "freezer-1", "profile": "rs-ws-n01", "slave": 3}]
    if extra_slave:
        modbus_devices.append({"id": "fridge-9", "profile": "xy-md02", "slave": 9})
    data = {
        "identity": {"agent_id": "doctor-agent", "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": broker_port or broker.tls_port,
                   "tls": {"ca_file": str(certs.ca), "cert_file": str(client.cert), "key_file": str(client.key)}},
        "store": {"path": str(tmp_path / "state" / "agent.db"), "media_dir": str(tmp_path / "state" / "media"),
                  "disk_budget_mb": 64},
        "devices": [{"id": "thermo-1", "kind": "ir_thermometer", "port": port}],
        "modbus": [{"id": "gw-1", "kind": "modbus_tcp", "host": gateway[0], "port": gateway[1],
                    "timeout_s": 0.5, "devices": modbus_devices}],
        "cameras": [{"id": "cam-1", "url": str(video), "analyse_fps": 2}],
        "console": {"port": 0},  # not this machine's 8080, which anything else may hold
    }
    if models_dir is not None:
        data["vision"] = {"models_dir": str(models_dir)}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _rows(output: str) -> dict[str, str]:
    """check name -> its table line."""
    rows = {}
    for line in output.splitlines()[1:]:
        if "  " in line and not line.endswith("fail"):
            rows[line.split("  ")[0].strip()] = line
    return rows


def test_demo_like_config_passes(tmp_path, pty_path, modbus_gateway, tls_broker, video, capsys, monkeypatch):
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    config = _write_config(tmp_path, port=pty_path, gateway=modbus_gateway, broker=tls_broker, video=video)
    code = main(["doctor", "--config", str(config), "--camera-seconds", "0.5"])
    out = capsys.readouterr().out
    print(out)
    assert code == 0, out
    rows = _rows(out)
    for name in ("config", "serial thermo-1", "modbus fridge-1", "modbus freezer-1", "camera cam-1",
                 "broker tcp", "broker tls", "broker mqtt", "clock", "disk",
                 "model face_detector", "model mask_classifier"):
        assert name in rows, (name, out)
        assert "FAIL" not in rows[name], rows[name]
    assert "answered" in rows["modbus fridge-1"] and "temperature_c=" in rows["modbus fridge-1"]
    assert "fps" in rows["camera cam-1"]
    assert "verified" in rows["broker tls"] and "CONNECT accepted" in rows["broker mqtt"]
    assert out.rstrip().endswith("0 fail")


def test_broken_config_names_each_problem(tmp_path, modbus_gateway, tls_broker, video, capsys, monkeypatch):
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    models = tmp_path / "models"
    shutil.copytree(resolve_models_dir(), models, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with open(models / "mask_classifier.onnx", "r+b") as fh:  # one flipped byte
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    config = _write_config(tmp_path, port="/dev/ttyUSB-not-plugged", gateway=modbus_gateway,
                           broker=tls_broker, video=video, broker_port=_closed_port(),
                           models_dir=models, extra_slave=True)
    code = main(["doctor", "--config", str(config), "--camera-seconds", "0.3", "--modbus-timeout", "0.2"])
    out = capsys.readouterr().out
    print(out)
    assert code == 1
    rows = _rows(out)
    assert "FAIL" in rows["serial thermo-1"] and "does not exist" in rows["serial thermo-1"]
    assert "/dev/serial/by-id" in rows["serial thermo-1"]  # the fix
    assert "FAIL" in rows["broker"] and "unreachable" in rows["broker"]
    assert "FAIL" in rows["model mask_classifier"] and "sha256 mismatch" in rows["model mask_classifier"]
    assert "FAIL" not in rows["model face_detector"]
    assert "FAIL" in rows["modbus fridge-9"] and "slave 9" in rows["modbus fridge-9"]
    assert "A/B" not in rows["modbus fridge-9"] and "gateway" in rows["modbus fridge-9"]  # a TCP gateway
    assert "FAIL" not in rows["modbus fridge-1"]  # the healthy ones still pass
    assert out.rstrip().endswith("4 fail")


def test_untrusted_broker_certificate_is_named(tmp_path, tls_broker):
    other_ca = tmp_path / "other"
    from simulator.platform.certs import make_test_certs

    stranger = make_test_certs(other_ca, ("doctor-agent",))
    data = {"identity": {"agent_id": "doctor-agent", "school_id": "1", "canteen_id": "k1"},
            "broker": {"host": "127.0.0.1", "port": tls_broker.tls_port, "tls": {"ca_file": str(stranger.ca)}},
            "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")}}
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(data))
    rows = {c.name: c for c in run_checks(config)}
    assert not rows["broker tls"].ok and "not trusted" in rows["broker tls"].detail
    assert "ca_file" in rows["broker tls"].fix


def test_invalid_config_is_one_failing_row(tmp_path, capsys):
    config = tmp_path / "agent.yaml"
    config.write_text("identity: {agent_id: x}\nbrokr: {}\n")
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "config" in out and "FAIL" in out and "check-config" in out


def test_device_permission_for_the_service_user(tmp_path, pty_path):
    """As root the doctor answers for the service user's groups; as anyone else, for itself."""
    check = check_device_path("serial x", pty_path, service_user="no-such-user-here")
    if os.geteuid() == 0:  # one "service user" row warns about it, not every port
        assert check.ok and not check.warn and "no user" in check.detail
    else:
        assert check.ok == os.access(pty_path, os.R_OK | os.W_OK)
    plain_file = tmp_path / "not-a-device"
    plain_file.write_text("")
    assert not check_device_path("serial y", str(plain_file)).ok


def test_table_has_a_fix_for_each_failure():
    checks = [Check("a", True, "fine"), Check("b", False, "broken", "do this"),
              Check("c", True, "meh", "maybe that", warn=True)]
    table = format_table(checks)
    line_b = next(line for line in table.splitlines() if line.startswith("b "))
    assert "FAIL" in line_b and line_b.endswith("do this")
    assert "WARN" in next(line for line in table.splitlines() if line.startswith("c "))
    assert table.rstrip().endswith("3 checks: 1 ok, 1 warn, 1 fail")
