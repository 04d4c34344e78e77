"""A hand-disinfection station's config: a badge reader and a keypad by the sink."""

from __future__ import annotations

from typing import ClassVar, Literal

from agent.config.stations import StationConfig


class HandDisinfectionConfig(StationConfig):
    """Badge, then the keypad: how (1 = chlorine soak, 2 = steamed by hand, 3 = premises
    sprayed, 4 = premises wiped), the disinfectant and the area (premises), the
    concentration (chlorine), the minutes; the meal is the one of the moment."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "keypad")
    required: ClassVar[tuple[str, ...]] = ("badge", "keypad")

    kind: Literal["hand_disinfection"]
