"""The catalog of serial / keyboard-style device kinds: ``kind -> config class, opener``.

It is the one list of such devices. The agent's config accepts ``devices:`` entries of
any kind listed here (``SerialDeviceConfig``, discriminated by ``kind``) and the agent
starts each with ``open_driver``. Each kind also says what a station may bind it as
(``roles``: the station config's field naming it) and what it reads (``reading``), so no
other list of device kinds exists. Adding a device kind is one driver module (its config
class with a ``kind`` literal, and an ``open_*`` function) plus one line in ``CATALOG``.
Each opened driver has ``stop()``, ``state``, ``good_frames`` and ``bad_frames``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union

from pydantic import Field

from drivers.badge import BadgeReaderConfig, open_badge_reader
from drivers.barcode import BarcodeReaderConfig, open_barcode_reader
from drivers.core_probe import CoreProbeConfig, open_core_probe
from drivers.hid_keyboard import HidLineReader
from drivers.readings import (
    BadgeScan,
    CoreTemperature,
    HealthSink,
    Reading,
    ReadingSink,
    StableWeight,
    TemperatureReading,
    TextInput,
)
from drivers.scale import ScaleConfig, open_scale
from drivers.serial_port import Now, SerialDeviceSettings, SerialReader, local_now
from drivers.thermometer import ThermometerConfig, open_thermometer

Driver = SerialReader[Any] | HidLineReader
Settings = TypeVar("Settings", bound=SerialDeviceSettings)


@dataclass(frozen=True, slots=True)
class DeviceKind(Generic[Settings]):
    """One kind of device: its settings model, the function that starts its driver, what a
    station binds it as (``roles``) and the reading it produces."""

    config: type[Settings]
    open: Callable[[Settings, ReadingSink, HealthSink, Now], Driver]
    roles: tuple[str, ...]
    reading: type[Reading]

    @property
    def kind(self) -> str:
        return str(self.config.model_fields["kind"].default)


CATALOG: tuple[DeviceKind[Any], ...] = (
    DeviceKind(BadgeReaderConfig, open_badge_reader, ("badge",), BadgeScan),
    DeviceKind(ThermometerConfig, open_thermometer, ("thermometer",), TemperatureReading),
    DeviceKind(ScaleConfig, open_scale, ("scale",), StableWeight),
    DeviceKind(BarcodeReaderConfig, open_barcode_reader, ("keypad", "barcode"), TextInput),
    DeviceKind(CoreProbeConfig, open_core_probe, ("core_probe",), CoreTemperature),
)
BY_KIND: dict[str, DeviceKind[Any]] = {entry.kind: entry for entry in CATALOG}


def kinds_for_role(role: str) -> tuple[str, ...]:
    """The device kinds a station may bind as ``role`` (``keypad`` -> ``barcode_reader``)."""
    return tuple(entry.kind for entry in CATALOG if role in entry.roles)

if TYPE_CHECKING:  # the type checker sees the common base; pydantic, the union below
    SerialDeviceConfig = SerialDeviceSettings
else:
    SerialDeviceConfig = Annotated[Union[tuple(entry.config for entry in CATALOG)],  # noqa: UP007
                                   Field(discriminator="kind")]


def open_driver(cfg: SerialDeviceSettings, sink: ReadingSink, health_sink: HealthSink,
                now: Now = local_now) -> Driver:
    """Start the driver for ``cfg`` (already running when returned; ``stop()`` it)."""
    entry = BY_KIND.get(getattr(cfg, "kind", ""))
    if entry is None or not isinstance(cfg, entry.config):
        raise TypeError(f"not a serial device config: {type(cfg).__name__}")
    return entry.open(cfg, sink, health_sink, now)
