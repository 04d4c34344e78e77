"""The platform's video commands: ``start_stream``, ``stop_stream``, ``fetch_video``.

Arriving signed and checked (``agent.uplink.commands``), each is parsed against its
argument model (unknown keys refused) and answered with a result or a CommandError
that says why nothing happened. See docs/PLATFORM.md for the wire format.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from agent.command_contract import CommandError, Handler, parse_args
from agent.video.cut import RangeUnavailable
from agent.video.fetch import VideoFetcher
from agent.video.relay import RelayRefused, StreamRelay
from agent.video.targets import TargetError, check_target


class StartStreamArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=1024, description="rtmp(s):// or rtsp(s):// URL to publish to")
    duration_s: float = Field(gt=0, description="Relay this long (capped by video.max_stream_s).")


class StopStreamArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream_id: str | None = Field(None, min_length=1, max_length=128)
    camera_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> StopStreamArgs:
        if (self.stream_id is None) == (self.camera_id is None):
            raise ValueError("give exactly one of stream_id or camera_id")
        return self


class FetchVideoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    camera_id: str = Field(min_length=1, max_length=64)
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class VideoCommands:
    def __init__(self, relay: StreamRelay, fetcher: VideoFetcher | None, *, max_stream_s: float,
                 allowed_hosts: list[str]) -> None:
        self.relay = relay
        self.fetcher = fetcher
        self.max_stream_s = max_stream_s
        self.allowed_hosts = allowed_hosts

    def handlers(self) -> dict[str, Handler]:
        return {"start_stream": self.start_stream, "stop_stream": self.stop_stream, "fetch_video": self.fetch_video}

    def start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        request = parse_args(StartStreamArgs, args)
        try:
            check_target(request.target, self.allowed_hosts)
            seconds = min(request.duration_s, self.max_stream_s)
            relay = self.relay.start(request.camera_id, request.target, seconds)
        except (TargetError, RelayRefused) as exc:
            raise CommandError(str(exc)) from None
        return {"stream_id": relay.stream_id, "camera_id": relay.camera, "duration_s": seconds,
                "state": relay.job.state}

    def stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        request = parse_args(StopStreamArgs, args)
        stopped = self.relay.stop(request.stream_id, request.camera_id)
        if not stopped:
            raise CommandError(f"no running stream {request.stream_id or 'for camera ' + str(request.camera_id)}")
        return {"stopped": stopped}

    def fetch_video(self, args: dict[str, Any]) -> dict[str, Any]:
        request = parse_args(FetchVideoArgs, args)
        if self.fetcher is None:
            raise CommandError("this agent keeps no recordings (video.cameras record nothing)")
        try:
            fetched = self.fetcher.fetch(request.camera_id, request.from_, request.to)
        except RangeUnavailable as exc:
            raise CommandError(str(exc)) from None
        plan = fetched.plan
        return {"camera_id": request.camera_id, "from": plan.covered_from.isoformat(),
                "to": plan.covered_to.isoformat(), "duration_s": round(plan.seconds, 1), "bytes": fetched.bytes,
                "gaps": [[a.isoformat(), b.isoformat()] for a, b in plan.gaps], "media": fetched.media}
