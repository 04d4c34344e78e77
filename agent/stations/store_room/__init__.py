"""库房出库 Store room: badge, the batch scanned or typed, the meal, then the weight (出库 to that meal)."""

from __future__ import annotations

from agent.stations.kind import StationKind
from agent.stations.store_room.config import StoreRoomConfig
from agent.stations.store_room.workflow import StoreRoom
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=StoreRoomConfig,
    workflow=StoreRoom,
    label=Term("库房出库", "Store room"),
    role_words={"scale": Term("电子秤", "scale"), "barcode": Term("扫码枪", "barcode reader")},
)
