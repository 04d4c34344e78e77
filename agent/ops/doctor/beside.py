"""Beside a running agent: its own device states and MQTT session instead of opening what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import SERVICE_USER, Check, StoredHealth
from agent.ops.doctor.ports import check_device_path

LIVE = "live from the running agent, not opened by the doctor"


def live_row(name: str, entry: Mapping[str, Any] | None, fix: str) -> Check:
    """One device's row from the running agent's device registry."""
    if entry is None:
        return Check(name, True, f"{LIVE}: no state reported yet", "open the page again in a minute", warn=True)
    state = str(entry.get("state", "?"))
    since = str(entry.get("since") or "")[:19].replace("T", " ")
    detail = f"{LIVE}: {state}" + (f" since {since}" if since else "")
    extra = [str(entry[k]) for k in ("detail",) if entry.get(k)]
    if entry.get("last_reading_at"):
        extra.append(f"last reading {str(entry['last_reading_at'])[:19].replace('T', ' ')}")
    if entry.get("analysed_fps") is not None:
        extra.append(f"{entry['analysed_fps']} fps analysed")
    detail += (" (" + "; ".join(extra) + ")") if extra else ""
    if state == "ok":
        return Check(name, True, detail)
    if state == "starting":
        return Check(name, True, detail, "wait for the first reading", warn=True)
    return Check(name, False, detail, fix)


def live_modbus_checks(config: AgentConfig, live: Mapping[str, Mapping[str, Any]],
                       service_user: str = SERVICE_USER) -> list[Check]:
    """Each RS-485 port looked at (exists, permissions) and each device's live state; nothing polled."""
    from drivers.modbus.config import ModbusRtuBusConfig

    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            checks.append(check_device_path(f"modbus {bus.id} port", bus.port, service_user))
        checks += [live_row(f"modbus {d.id}", live.get(d.id),
                            "check power, wiring (A/B), slave id and line settings; to poll it with the "
                            "doctor, stop the agent first (a line has one master)") for d in bus.devices]
    return checks


def live_camera_checks(config: AgentConfig, live: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    if not config.vision.enabled:  # nobody in the agent decodes them: no live state to show
        return [Check(f"camera {c.id}", True, "vision is off: the agent does not read this camera, and the doctor "
                                              "does not open it beside the agent",
                      "to test the stream, run canteen-agent doctor with the agent stopped", warn=True)
                for c in config.cameras]
    fix = "check the camera's power, network and URL / credentials in the config"
    return [live_row(f"camera {c.id}", live.get(c.id), fix) for c in config.cameras]


def stored_row(name: str, device_id: str, health: StoredHealth, alarm: str, fix: str) -> Check:
    """One device's row from the running agent's store (the command line cannot see its live states)."""
    stored = ("not polled" if alarm == "device_offline" else "not opened") + " beside the running agent"
    if health.error:
        return Check(name, True, f"{stored}; its health cannot be read here: {health.error}",
                     "the console's installer pages show the agent's live device states", warn=True)
    since = health.offline_since.get(device_id)
    if since is not None:
        return Check(name, False, f"{stored}: the agent has it offline ({alarm} alarm open since "
                                  f"{since[:19].replace('T', ' ')})", fix)
    return Check(name, True, f"{stored}: the agent has no {alarm} alarm open for it")


def stored_modbus_checks(config: AgentConfig, health: StoredHealth,
                         service_user: str = SERVICE_USER) -> list[Check]:
    """Each RS-485 port looked at and each device's health from the agent's store; nothing polled."""
    from drivers.modbus.config import ModbusRtuBusConfig

    fix = ("check power, wiring (A/B), slave id and line settings; to poll it with the doctor, "
           "stop the agent first (sudo systemctl stop canteen-agent: a line has one master)")
    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            checks.append(check_device_path(f"modbus {bus.id} port", bus.port, service_user))
        checks += [stored_row(f"modbus {d.id}", d.id, health, "device_offline", fix) for d in bus.devices]
    return checks


def stored_camera_checks(config: AgentConfig, health: StoredHealth) -> list[Check]:
    if not config.vision.enabled:
        return live_camera_checks(config, {})  # the agent does not read them either: says so
    fix = "check the camera's power, network and URL / credentials in the config"
    return [stored_row(f"camera {c.id}", c.id, health, "camera_offline", fix) for c in config.cameras]


def live_mqtt_row(connected: bool | None, unknown_fix: str = "") -> Check:
    """Beside the running agent: its own MQTT session instead of a second CONNECT."""
    why = "no CONNECT from the doctor beside the running agent: it would take over the agent's session"
    if connected is None:
        return Check("broker mqtt", True, f"{why}; the agent's connection state is not known", unknown_fix,
                     warn=True)
    if connected:
        return Check("broker mqtt", True, f"the running agent's own MQTT session is connected ({why})")
    return Check("broker mqtt", False, f"the running agent is not connected to the broker ({why})",
                 "see the tcp/tls rows; check broker.username/password_file or the client certificate and "
                 "the broker's ACL; the agent's log says why it is refused")
