"""How the agent is put together: explicit capabilities, one device and station catalog, lazy vision."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.app import Agent
from agent.stations.registry import STATION_REQUIRED
from agent.wiring.capability import Capability
from agent.wiring.serial import WORKFLOWS
from drivers.serial_devices import BY_KIND, CATALOG, open_driver
from tests.conftest import make_config


def test_every_station_kind_has_its_workflow_and_required_devices() -> None:
    assert set(WORKFLOWS) == set(STATION_REQUIRED)


def test_the_device_catalog_is_the_config_union(tmp_path: Path) -> None:
    for entry in CATALOG:
        fields = {"id": f"d-{entry.kind}", "kind": entry.kind, "port": "/dev/null"}
        [device] = make_config(tmp_path, devices=[fields]).devices
        assert type(device) is entry.config
    with pytest.raises(ValidationError, match="kind"):
        make_config(tmp_path, devices=[{"id": "x", "kind": "toaster", "port": "/dev/null"}])
    assert len(BY_KIND) == len(CATALOG)  # one line per kind


def test_open_driver_refuses_what_is_not_a_catalogued_device() -> None:
    with pytest.raises(TypeError, match="not a serial device config"):
        open_driver(object(), print, print)  # type: ignore[arg-type]


def test_capabilities_are_declared_values_listed_in_start_order(tmp_path: Path) -> None:
    agent = Agent(make_config(tmp_path))
    try:
        assert [c.name for c in agent.capabilities] == ["uplink", "serial", "modbus", "vision", "video", "schedule",
                                                        "console", "public", "updater"]
        assert all(isinstance(c, Capability) for c in agent.capabilities)
        names = [c.name for c in agent.components]
        assert names[:5] == ["reading-bus", "store-housekeeping", "clock-watch", "storage-watch", "uplink"]
        assert names[-2:] == ["schedule", "updater"]  # the console is off in tests unless asked for
        assert {"ping", "get_status", "sync_roster", "set_config", "resend", "update"} <= set(agent.command_handlers)
        assert agent.cameras() == {}
    finally:
        agent.store.close()


def test_an_agent_without_cameras_never_imports_opencv_or_onnxruntime(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from agent.app import Agent
        from tests.conftest import make_config
        agent = Agent(make_config(Path({str(tmp_path)!r})))
        agent.store.close()
        print(sorted(m for m in ("cv2", "onnxruntime") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"
