"""A core-temperature station's config: its probe, what stage it checks, and the minimums."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.config.stations import StationConfig
from drivers.config_types import Celsius


class CoreTemperatureConfig(StationConfig):
    """Badge, the dish at the keypad, then the probe in the dish's core."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "core_probe", "keypad")
    required: ClassVar[tuple[str, ...]] = ("badge", "core_probe")

    kind: Literal["core_temperature"]
    core_probe: str | None = Field(None, description="Device id of the core-temperature probe (core_probe).")
    stage: Literal["cooking", "hot_holding"] = Field(
        "cooking", description="cooking: at the stove, cooked through; hot_holding: at the pass, kept hot.")
    cooking_min_c: Celsius = Field(70.0, description="Cooking: the core reaches at least this (docs/DOMAIN.md).")
    hot_holding_min_c: Celsius = Field(60.0, description="Hot holding: food is kept at least this hot.")
