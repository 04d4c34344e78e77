"""The catalog of serial / keyboard-style device kinds: ``kind -> config class, opener``.

It is the one list of such devices. The agent's config accepts ``devices:`` entries of
any kind listed here (``SerialDeviceConfig``, discriminated by ``kind``) and the agent
starts each with ``open_driver``. Adding a device kind is one driver module (its config
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
from drivers.readings import HealthSink, ReadingSink
from drivers.scale import ScaleConfig, open_scale
from drivers.serial_port import Now, SerialDeviceSettings, SerialReader, local_now
from drivers.thermometer import ThermometerConfig, open_thermometer

Driver = SerialReader[Any] | HidLineReader
Settings = TypeVar("Settings", bound=SerialDeviceSettings)


@dataclass(frozen=True, slots=True)
class DeviceKind(Generic[Settings]):
    """One kind of device: its settings model and the function that starts its driver."""

    config: type[Settings]
    open: Callable[[Settings, ReadingSink, HealthSink, Now], Driver]

    @property
    def kind(self) -> str:
        return str(self.config.model_fields["kind"].default)


CATALOG: tuple[DeviceKind[Any], ...] = (
    DeviceKind(BadgeReaderConfig, open_badge_reader),
    DeviceKind(ThermometerConfig, open_thermometer),
    DeviceKind(ScaleConfig, open_scale),
    DeviceKind(BarcodeReaderConfig, open_barcode_reader),
    DeviceKind(CoreProbeConfig, open_core_probe),
)
BY_KIND: dict[str, DeviceKind[Any]] = {entry.kind: entry for entry in CATALOG}

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
