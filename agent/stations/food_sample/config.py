"""A food-sample station's config: its scale and the sample fridge."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.config.stations import WeighingStationConfig


class FoodSampleConfig(WeighingStationConfig):
    """Badge, then each dish's sample box on the scale."""

    kind: Literal["food_sample"]
    fridge_id: str | None = Field(None, description="The sample fridge's id, written on each record.")
