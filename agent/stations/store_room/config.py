"""A store-room station's config: its scale, keypad and barcode reader."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from agent.config.stations import WeighingStationConfig


class StoreRoomConfig(WeighingStationConfig):
    """Badge, the batch scanned or typed, the meal, then the weight: 出库 to that meal."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "scale", "keypad", "barcode")

    kind: Literal["store_room"]
    barcode: str | None = Field(None, description="Device id of a barcode reader (the batch's label).")

    @model_validator(mode="after")
    def _something_to_type_with(self) -> StoreRoomConfig:
        if self.keypad is None and self.barcode is None:
            raise ValueError(f"station {self.id!r} (store_room) needs a keypad or barcode device")
        return self

    def required_now(self) -> set[str]:
        """With one keypad or one barcode reader (not both), that one is needed."""
        needed = super().required_now()
        if (self.keypad is None) != (self.barcode is None):
            needed.add("keypad" if self.keypad is not None else "barcode")
        return needed
