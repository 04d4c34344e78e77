"""A check-in station's config: what a badge checks in for, and who may."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.config.stations import StationConfig
from drivers.config_types import PositiveHours

CheckinMode = Literal["leader_meal", "staff_training", "superior_inspection", "drill"]


class CheckinConfig(StationConfig):
    """A badge checks a person in: a leader's meal, a training session, an inspection."""

    kind: Literal["checkin"]
    checkin_modes: list[CheckinMode] = Field(
        ["leader_meal"], min_length=1, description="The first is the default; keypad 1..n selects one.")
    session: str | None = Field(None, description="staff_training: session name (default: 培训 + date).")
    session_hours: PositiveHours | None = Field(None, description="staff_training: hours credited.")
    organisation: str | None = Field(None, description="superior_inspection: inspecting authority.")
    allowed_roles: list[str] = Field(default_factory=list, description="Roster roles accepted (empty: any).")
