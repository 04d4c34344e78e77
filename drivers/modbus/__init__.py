"""Modbus RTU/TCP driver: device profiles as data, a paced bus scheduler, a bus probe."""

from .bus import BusWorker, ModbusScheduler
from .config import ModbusBusConfig, ModbusDeviceConfig, ModbusRtuBusConfig, ModbusTcpBusConfig
from .device_state import DeviceCounters
from .profiles import DeviceProfile, PointSpec, load_profiles

__all__ = [
    "BusWorker",
    "DeviceCounters",
    "DeviceProfile",
    "ModbusBusConfig",
    "ModbusDeviceConfig",
    "ModbusRtuBusConfig",
    "ModbusScheduler",
    "ModbusTcpBusConfig",
    "PointSpec",
    "load_profiles",
]
