"""A store-room station's config: its scale, keypad and barcode reader (the batch's label)."""

from __future__ import annotations

from typing import Literal

from agent.config.stations import ScanningStationConfig


class StoreRoomConfig(ScanningStationConfig):
    """Badge, the batch scanned or typed, the meal, then the weight: 出库 to that meal."""

    kind: Literal["store_room"]
