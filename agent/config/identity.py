"""The identity section: which box this is, whose school and kitchen, and its time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from agent.config.base import Strict


class Identity(Strict):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                          description="Unique id of this box; also its MQTT client id.")
    school_id: str = Field(min_length=1, description="School code on the platform.")
    canteen_id: str = Field(min_length=1, description="Canteen (kitchen) id within the school.")
    timezone: str = Field("Asia/Shanghai", description="IANA zone for local times and schedules.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
