"""A receiving station's config: its scale, keypad and barcode reader."""

from __future__ import annotations

from typing import Literal

from agent.config.stations import ScanningStationConfig


class ReceivingConfig(ScanningStationConfig):
    """Badge, supplier, item, batch and dates typed or scanned, then the weight."""

    kind: Literal["receiving"]
