"""An additive station's config: its scale and the additives its keypad chooses from."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.config.stations import WeighingStationConfig


class AdditiveConfig(WeighingStationConfig):
    """Badge, the additive (keypad n), the container weighed before and after."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "scale", "keypad", "barcode")

    kind: Literal["additive"]
    barcode: str | None = Field(None, description="Device id of a barcode reader.")
    additives: list[str] = Field(default_factory=list,
                                 description="Names chosen by keypad 1..n (default: rules.additive_limits_g).")
