"""A morning-check station's config: its thermometer and how a measurement is taken."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.config.stations import StationConfig
from drivers.config_types import Celsius, PositiveSeconds


class MorningCheckConfig(StationConfig):
    """Badge, then forehead at the infrared thermometer; answers at the keypad."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "thermometer", "keypad")
    required: ClassVar[tuple[str, ...]] = ("badge", "thermometer")

    kind: Literal["morning_check"]
    thermometer: str | None = Field(None, description="Device id of the IR thermometer.")
    settle_readings: int | None = Field(
        None, ge=1, le=1000, description="Consecutive close readings that make a measurement "
                                         "(default: 3 for streaming thermometers, 1 for ascii_line ones).")
    presence_min_c: Celsius = Field(32.0, description="Readings below this are the room, not a person.")
    answers_required: bool = Field(False, description="Wait for keypad answers before recording.")
    answers_window_s: PositiveSeconds = Field(20, description="After the temperature, wait this long for answers.")

    def required_now(self) -> set[str]:
        """A morning check that waits for answers needs its keypad too."""
        return super().required_now() | ({"keypad"} if self.answers_required else set())
