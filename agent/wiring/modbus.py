"""Modbus capability: poll every bus in ``config.modbus``, run the equipment workflows.

The ``ModbusScheduler`` publishes readings and health on the agent's bus (its times
come from ``agent.now``, so an accelerated scenario clock drives it too). The workflows
(cold chain, cabinet cycles, UV / ozone runs, device-offline watch) join the bus.
A role that names an unknown point, method or cabinet stops the start with a clear
error (``ModbusRoleError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from agent.runtime import Component
from agent.workflows.cold_chain import ColdChain, ModbusOfflineWatch
from agent.workflows.disinfection import Disinfection
from agent.workflows.modbus_points import check_points, modbus_device_ids, point_roles
from agent.workflows.premises import Premises
from drivers.modbus.bus import ModbusScheduler
from drivers.modbus.profiles import DeviceProfile, load_profiles

if TYPE_CHECKING:
    from agent.app import Agent

log = logging.getLogger("agent.wiring.modbus")


class ModbusComponent:
    """The scheduler under the supervisor: ``run`` polls until ``stop`` is set.

    It runs the scheduler on an event loop of its own in the supervisor's thread; a
    bus task that dies with an error ends ``run`` with that error, so the supervisor
    restarts it with back-off.
    """

    name = "modbus"

    def __init__(self, scheduler: ModbusScheduler, stop_poll_s: float = 0.2) -> None:
        self.scheduler = scheduler
        self._stop_poll_s = stop_poll_s

    def run(self, stop: threading.Event) -> None:
        asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event) -> None:
        runner = asyncio.get_running_loop().create_task(self.scheduler.run(), name="modbus-buses")
        try:
            while not stop.is_set():
                if runner.done():
                    runner.result()  # raises the bus task's error: the supervisor restarts us
                    stop.wait()  # no bus has devices: nothing to do until stopped
                    return
                await asyncio.sleep(self._stop_poll_s)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


def build(agent: Agent, profiles: dict[str, DeviceProfile] | None = None) -> list[Component]:
    config = agent.config
    if not config.modbus:
        return []
    profiles = profiles if profiles is not None else load_profiles()
    roles = point_roles(config)
    check_points(roles, {d.id: {p.name for p in profiles[d.profile].points}
                         for bus in config.modbus for d in bus.devices if d.profile in profiles})
    scheduler = ModbusScheduler(config.modbus, on_reading=agent.bus.publish, on_health=agent.bus.publish_health,
                                profiles=profiles, now=agent.now, mono=agent.mono)
    agent.modbus_scheduler = scheduler  # type: ignore[attr-defined]  # undeclared Agent field: arch-wiring declares them (issue 12 item 1)
    offline = ModbusOfflineWatch(agent.recorder, modbus_device_ids(config),
                                 config.rules.cold_chain.probe_silent_minutes)
    agent.bus.on_health(offline.on_health)
    for workflow in (ColdChain(config, agent.recorder, roles),
                     Disinfection(config, agent.recorder, roles, mono=agent.mono),
                     Premises(config, agent.recorder, roles, mono=agent.mono), offline):
        agent.bus.add_workflow(workflow)
    log.info("modbus ready buses=%d devices=%d roles=%d", len(config.modbus),
             sum(len(b.devices) for b in config.modbus), len(roles))
    return [ModbusComponent(scheduler)]
