"""Modbus capability: poll every bus in ``config.modbus``, run the equipment workflows.

The ``ModbusScheduler`` publishes readings and health on the agent's bus (its times
come from the agent's ``now``, so an accelerated scenario clock drives it too). The
workflows (cold chain, cabinet cycles, UV / ozone runs) join the bus; the agent's health
watch covers every Modbus device (``modbus_policy``).
A role that names an unknown point, method or cabinet stops the start with a clear
error (``ModbusRoleError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass

from agent.wiring.capability import BuildContext, Capability
from agent.workflows.cold_chain import ColdChain
from agent.workflows.device_health import modbus_policy
from agent.workflows.disinfection import Disinfection
from agent.workflows.modbus_points import check_points, modbus_device_ids, point_roles
from agent.workflows.premises import Premises
from drivers.modbus.bus import ModbusScheduler
from drivers.modbus.profiles import DeviceProfile, load_profiles

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


@dataclass(frozen=True, slots=True)
class ModbusCapability(Capability):
    scheduler: ModbusScheduler | None = None


def build(ctx: BuildContext, profiles: dict[str, DeviceProfile] | None = None) -> ModbusCapability:
    config = ctx.config
    if not config.modbus:
        return ModbusCapability("modbus")
    profiles = profiles if profiles is not None else load_profiles()
    roles = point_roles(config)
    check_points(roles, {d.id: {p.name for p in profiles[d.profile].points}
                         for bus in config.modbus for d in bus.devices if d.profile in profiles})
    scheduler = ModbusScheduler(config.modbus, on_reading=ctx.reading_sink, on_health=ctx.health_sink,
                                profiles=profiles, now=ctx.now, mono=ctx.monotonic)
    workflows = (ColdChain(config, ctx.recorder, roles),
                 Disinfection(config, ctx.recorder, roles, mono=ctx.monotonic),
                 Premises(config, ctx.recorder, roles, mono=ctx.monotonic))
    log.info("modbus ready buses=%d devices=%d roles=%d", len(config.modbus),
             sum(len(b.devices) for b in config.modbus), len(roles))
    offline = dict.fromkeys(modbus_device_ids(config), modbus_policy(config.rules.cold_chain.probe_silent_minutes))
    return ModbusCapability("modbus", components=(ModbusComponent(scheduler),), workflows=workflows,
                            offline=offline, scheduler=scheduler)
