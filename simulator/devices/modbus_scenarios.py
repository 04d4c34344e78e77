"""A canteen's Modbus equipment on one simulated line: ready-made slaves for tests and demos."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.modbus.profiles import DeviceProfile

from .modbus_devices import SimulatedBus
from .modbus_physics import (
    CabinetCycle,
    DeviceModel,
    DisinfectionCabinetModel,
    FailingFridgeModel,
    FridgeModel,
    RunContactsModel,
    ScenarioClock,
    freezer_model,
)


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One emulated device and how the agent should configure it."""

    device_id: str
    slave: int
    profile: str
    role: str
    model: DeviceModel

    def device_config(self, poll_s: float) -> dict[str, object]:
        """The agent-side ``ModbusDeviceConfig`` fields for this device."""
        return {"id": self.device_id, "profile": self.profile, "slave": self.slave,
                "poll_s": poll_s, "role": self.role}


def canteen_devices() -> list[SimDevice]:
    """Fridge, failing fridge, freezer, a good and an aborted disinfection run, UV/ozone contacts.

    Scenario times in seconds: the failing fridge dies at 10 min; the cabinet starts a
    cycle at 1 min (hold at 125 degC from ~13 to ~28 min); the aborted one only reaches
    95 degC; the UV lamp runs 30 min from minute 2, the ozone generator 10 min from 40.
    """
    return [
        SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel(door_openings=[(300, 60), (1500, 120)])),
        SimDevice("fridge-2", 2, "xy-md02", "fridge", FailingFridgeModel(fail_at_s=600)),
        SimDevice("freezer-1", 3, "rs-ws-n01", "freezer", freezer_model()),
        SimDevice("cabinet-1", 4, "cabinet-pt100", "cabinet",
                  DisinfectionCabinetModel([CabinetCycle(start_s=60)])),
        SimDevice("cabinet-2", 5, "cabinet-pt100", "cabinet",
                  DisinfectionCabinetModel([CabinetCycle(start_s=60, peak_c=95.0),
                                            CabinetCycle(start_s=3600, cut_after_s=900)])),
        SimDevice("uv-1", 6, "di-module-4ch", "uv_lamp",
                  RunContactsModel({"run": [(120, 1800)], "run_2": [(2400, 600)]})),
    ]


def build_bus(clock: ScenarioClock, profiles: Mapping[str, DeviceProfile], devices: list[SimDevice],
              **line: object) -> SimulatedBus:
    """A ``SimulatedBus`` holding ``devices``; ``line`` passes baudrate/parity/stopbits."""
    bus = SimulatedBus(clock, **line)  # type: ignore[arg-type]
    for device in devices:
        bus.add_slave(device.slave, profiles[device.profile], device.model)
    return bus
