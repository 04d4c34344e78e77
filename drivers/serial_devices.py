"""One entry point for every serial / keyboard-style device: the config union and ``open_driver``.

The agent's config file lists devices by ``kind``; ``SerialDeviceConfig`` accepts any of
them and ``open_driver`` starts the matching reader. Each returned object has ``stop()``,
``state``, ``good_frames`` and ``bad_frames``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from drivers.badge import BadgeReaderConfig, open_badge_reader
from drivers.barcode import BarcodeReaderConfig, open_barcode_reader
from drivers.hid_keyboard import HidLineReader
from drivers.readings import HealthSink, ReadingSink
from drivers.scale import ScaleConfig, open_scale
from drivers.serial_port import Now, SerialReader, local_now
from drivers.thermometer import ThermometerConfig, open_thermometer

SerialDeviceConfig = Annotated[
    BadgeReaderConfig | ThermometerConfig | ScaleConfig | BarcodeReaderConfig,
    Field(discriminator="kind"),
]

Driver = SerialReader[Any] | HidLineReader


def open_driver(cfg: BadgeReaderConfig | ThermometerConfig | ScaleConfig | BarcodeReaderConfig,
                sink: ReadingSink, health_sink: HealthSink, now: Now = local_now) -> Driver:
    """Start the driver for ``cfg`` (already running when returned; ``stop()`` it)."""
    if isinstance(cfg, BadgeReaderConfig):
        return open_badge_reader(cfg, sink, health_sink, now)
    if isinstance(cfg, ThermometerConfig):
        return open_thermometer(cfg, sink, health_sink, now)
    if isinstance(cfg, ScaleConfig):
        return open_scale(cfg, sink, health_sink, now)
    if isinstance(cfg, BarcodeReaderConfig):
        return open_barcode_reader(cfg, sink, health_sink, now)
    raise TypeError(f"not a serial device config: {type(cfg).__name__}")
