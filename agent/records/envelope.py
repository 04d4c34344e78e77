"""The v1 envelope every record and alarm travels in (docs/PLATFORM.md), and telemetry's.

``data`` is one record kind's model (``agent.records.registry``); ``parse_envelope``
validates a wire envelope against its kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent.records.base import Verdict
from agent.records.registry import RECORD_TYPES

ENVELOPE_VERSION = 1


class ClockState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    synced: bool
    source: str = Field(description="ntp, rtc, declared or none")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str
    kind: str


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str | None = None
    badge: str | None = None


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    content_type: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: str | None = Field(None, description="snapshot, clip, photo ...")


PhotoState = Literal["attached", "pending", "unavailable"]
PhotoReason = Literal["camera_down", "stale_frame", "grab_failed", "not_stored"]


class PhotoNote(BaseModel):
    """What became of the photo of a station that names a camera (extension of v1).

    ``attached``: the photo is in ``media`` (role ``photo``). ``pending``: the camera was
    still being read when the record was committed; the photo follows as a media object
    with role ``photo`` and this record's id (not listed in ``media``), unless that grab
    fails. ``unavailable``: saved without a photo, ``reason`` says why.
    """

    model_config = ConfigDict(extra="forbid")
    camera_id: str
    state: PhotoState
    reason: PhotoReason | None = Field(None, description="unavailable: why there is no photo.")
    taken_at: AwareDatetime | None = Field(None, description="attached: when the camera saw the picture.")


DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """One record or alarm as published on the wire (docs/PLATFORM.md, v1)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    v: Literal[1] = 1
    type: str
    agent_id: str
    school_id: str
    canteen_id: str
    seq: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    clock: ClockState
    source: Source | None = None
    operator: Operator | None = None
    verdict: Verdict | None = None
    findings: list[str] = Field(default_factory=list)
    data: DataT
    media: list[MediaRef] = Field(default_factory=list)
    photo: PhotoNote | None = Field(None, description="Station records whose station names a camera (extension).")


class TelemetrySample(BaseModel):
    model_config = ConfigDict(extra="allow")  # sample fields are the device profile's points
    t: datetime


class TelemetryBatch(BaseModel):
    """Sensor samples published on ``<root>/tele/<device_id>``."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, description="Batch id the platform acks (extension of v1).")
    device_id: str
    kind: str
    samples: list[TelemetrySample]


def parse_envelope(payload: dict[str, Any]) -> Envelope[Any]:
    """Validate a wire envelope, including its type's ``data`` (raises ValidationError)."""
    data_model = RECORD_TYPES.get(payload.get("type", ""))
    if data_model is None:
        raise ValueError(f"unknown record type {payload.get('type')!r}")
    return Envelope[data_model].model_validate(payload)  # type: ignore[valid-type]
