"""Config models of Modbus buses and the devices on them (pydantic, extra fields forbidden).

``ModbusBusConfig`` is the discriminated union (by ``kind``) the agent's config file
accepts: an RS-485 line (``modbus_rtu``) or a Modbus TCP gateway (``modbus_tcp``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.config_types import FINITE, Baudrate, Port, PositiveSeconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", **FINITE)


class ModbusChannelConfig(_Strict):
    """One point of a multi-channel device (e.g. a 4-input module) with its own role.

    Passed through to workflows like the device-level ``role`` fields; the driver
    ignores it.
    """

    point: str = Field(description="Point name of the device's profile, e.g. run_2.")
    role: str = Field(description="What this channel is: uv_lamp, ozone, cabinet_contact ...")
    room: str | None = Field(None, description="Room or area the channel serves (premises runs).")
    cabinet: str | None = Field(None, description="cabinet_contact: id of the cabinet device this contact belongs to.")


class ModbusDeviceConfig(_Strict):
    """One slave on a bus.

    ``role`` and the fields after it are plain pass-through for the workflows (the
    driver only polls): what the device is for, where it is, which point to watch.
    """

    id: str = Field(description="Device id used in readings and health (unique per agent).")
    profile: str = Field(description="Profile id from config/profiles or the user profile directory.")
    slave: int = Field(1, ge=1, le=247, description="Modbus slave (unit) id.")
    poll_s: PositiveSeconds = Field(10.0, description="Seconds between polls of this device.")
    role: str = Field("", description="Passed through to workflows: fridge, freezer, cabinet, uv_lamp, ozone, room...")
    timeout_s: PositiveSeconds | None = Field(None, description="Overrides the bus reply timeout for this device.")
    room: str | None = Field(None, description="Room or area the device serves (store room, premises run, ...).")
    point: str | None = Field(
        None, description="Point the role watches (default: temperature_c for probes and cabinets, run for contacts).")
    method: str | None = Field(
        None, description="cabinet: disinfection method, a key of rules.disinfection.methods (default infrared_cabinet).")
    cabinet: str | None = Field(None, description="cabinet_contact: id of the cabinet device this run contact belongs to.")
    channels: list[ModbusChannelConfig] = Field(
        default_factory=list, description="Further points of this device with roles of their own (multi-input modules).")


class _BusBase(_Strict):
    id: str = Field(description="Bus id, used in logs and health details.")
    timeout_s: PositiveSeconds = Field(0.3, description="Seconds to wait for a reply before counting a timeout.")
    retries: int = Field(1, ge=0, le=5, description="Extra attempts after a timeout or bad frame (not after an exception reply).")
    inter_frame_gap: float = Field(0.0, ge=0, le=10, description="Extra silence in seconds added to the 3.5-character gap between frames.")
    silent_after_failures: int = Field(2, ge=1, le=1000, description="Consecutive failed polls before a device is reported SILENT and backed off.")
    backoff_max_s: PositiveSeconds = Field(60.0, description="Longest interval between probes of a silent device.")
    reconnect_s: PositiveSeconds = Field(1.0, description="Initial delay between attempts to reopen a lost port / connection.")
    reconnect_max_s: PositiveSeconds = Field(10.0, description="Longest delay between reopen attempts.")
    devices: list[ModbusDeviceConfig] = Field(default_factory=list, description="Slaves on this bus.")

    @model_validator(mode="after")
    def _unique_slaves(self) -> _BusBase:
        ids = [d.id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError(f"bus {self.id}: duplicate device ids")
        slaves = [d.slave for d in self.devices]
        if len(slaves) != len(set(slaves)):
            raise ValueError(f"bus {self.id}: two devices share a slave id")
        return self


class ModbusRtuBusConfig(_BusBase):
    """An RS-485 line behind a serial port (USB adapter, UART, or a pseudo-terminal)."""

    kind: Literal["modbus_rtu"] = "modbus_rtu"
    port: str = Field(description="Serial device path, e.g. /dev/ttyUSB0 or a /dev/serial/by-id/ symlink.")
    baudrate: Baudrate = Field(9600, description="Bits per second.")
    parity: Literal["N", "E", "O"] = Field("N", description="N(one), E(ven) or O(dd).")
    stopbits: Literal[1, 2] = Field(1, description="Stop bits.")
    bytesize: Literal[7, 8] = Field(8, description="Data bits.")


class ModbusTcpBusConfig(_BusBase):
    """A Modbus TCP gateway (or a TCP-native device) reached over the network."""

    kind: Literal["modbus_tcp"] = "modbus_tcp"
    host: str = Field(description="Gateway host name or IP address.")
    port: Port = Field(502, description="Gateway TCP port.")


ModbusBusConfig = Annotated[ModbusRtuBusConfig | ModbusTcpBusConfig, Field(discriminator="kind")]
