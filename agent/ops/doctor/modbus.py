"""Modbus: each configured device's whole profile read once, with the bus's own retries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import Check, DoctorOptions, reason_of
from agent.ops.doctor.ports import check_device_path
from drivers.readings import Reading, RegisterSample

if TYPE_CHECKING:
    from drivers.modbus.bus import BusConfig
    from drivers.modbus.profiles import DeviceProfile

def check_modbus(config: AgentConfig, config_dir: Path | None, options: DoctorOptions) -> list[Check]:
    """Read each configured device's whole profile once (one poll, the bus's retries)."""
    from drivers.modbus.config import ModbusRtuBusConfig
    from drivers.modbus.profiles import ProfileError, load_profiles

    if not config.modbus:
        return []
    try:
        profiles = load_profiles()  # what run loads: the built-in (installed) profiles
    except ProfileError as exc:
        return [Check("modbus profiles", False, str(exc), "fix or remove the profile file")]
    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            port_check = check_device_path(f"modbus {bus.id} port", bus.port, options.service_user)
            checks.append(port_check)
            if not port_check.ok:
                checks += [Check(f"modbus {d.id}", False, f"not polled: port {bus.port} unusable",
                                 "fix the bus port first") for d in bus.devices]
                continue
        missing = [d for d in bus.devices if d.profile not in profiles]
        checks += [Check(f"modbus {d.id}", False, f"unknown profile {d.profile!r}",
                         f"use one of {sorted(profiles)} or add config/profiles/{d.profile}.yaml")
                   for d in missing]
        known = bus.model_copy(update={"devices": [d for d in bus.devices if d.profile in profiles]})
        if known.devices:
            checks += _run_async(_poll_bus_once(known, profiles, options.modbus_timeout_s))
    return checks


async def _poll_bus_once(bus: BusConfig, profiles: Mapping[str, DeviceProfile],
                         timeout_s: float | None) -> list[Check]:
    from drivers.modbus.bus import BusWorker
    from drivers.modbus.config import ModbusRtuBusConfig
    from drivers.modbus.links import LinkLost

    readings: dict[str, dict[str, float]] = {}

    def keep(reading: Reading) -> None:
        if isinstance(reading, RegisterSample):
            readings[reading.device_id] = reading.values

    worker = BusWorker(bus, profiles, on_reading=keep, on_health=lambda _h: None)
    serial_line = isinstance(bus, ModbusRtuBusConfig)
    where = bus.port if isinstance(bus, ModbusRtuBusConfig) else f"{bus.host}:{bus.port}"
    try:
        await worker.link.open()
    except (LinkLost, OSError) as exc:
        fix = ("check the gateway's address and that it is powered" if not isinstance(bus, ModbusRtuBusConfig)
               else "check the adapter and the port path")
        return [Check(f"modbus {d.id}", False, f"cannot open {where}: {reason_of(exc)}", fix) for d in bus.devices]
    checks = []
    try:
        for device in worker.devices:
            if timeout_s is not None:
                device.timeout_s = timeout_s
            try:
                ok = await worker.poll(device)
            except (LinkLost, OSError) as exc:
                fix = ("a serial line has one master: stop the agent first "
                       "(sudo systemctl stop canteen-agent), then check the adapter"
                       if serial_line else "check the gateway's network link and power")
                checks.append(Check(f"modbus {device.id}", False,
                                    f"{where} failed while polling: {reason_of(exc)}", fix))
                continue
            counters = device.counters
            name = f"modbus {device.id}"
            if ok:
                values = ", ".join(f"{k}={v:g}" for k, v in list(readings.get(device.id, {}).items())[:3])
                checks.append(Check(name, True, f"slave {device.config.slave} on {where} answered "
                                                f"({device.profile.id}){': ' + values if values else ''}"))
            elif counters.exceptions:
                checks.append(Check(name, False, f"slave {device.config.slave} on {where} answered with a "
                                                 f"Modbus exception: its register map is not {device.profile.id}",
                                    "check the profile (canteen-agent probe --port ...)"))
            else:
                line = (f" at {bus.baudrate} 8{bus.parity}{bus.stopbits}"
                        if isinstance(bus, ModbusRtuBusConfig) else "")
                fix = ("check power, wiring (A/B), slave id and line settings; "
                       "canteen-agent probe --port ... finds what answers" if serial_line else
                       "check the device's power and slave id, and the gateway's serial settings toward it "
                       "(baud rate, parity); canteen-agent probe --port tcp://HOST:PORT finds what answers")
                checks.append(Check(name, False, f"slave {device.config.slave} on {where}{line}: no valid reply "
                                                 f"({counters.timeouts} timeouts, {counters.crc_errors} bad frames)",
                                    fix))
    finally:
        worker.link.close()
    return checks


def _run_async(coro: Coroutine[Any, Any, list[Check]]) -> list[Check]:
    """asyncio.run, also when called from a thread that already runs a loop (tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[list[Check]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    return result[0]
