"""Compliance episodes: when does a missing mask or hat become one violation, and when is it over?

Pure logic on timed observations (no frames, no models, no store), so it is tested with
synthetic detections. Per (track, kind) an episode goes:

    compliant --(N of the last M judged frames violate)--> suspect
    suspect   --(still violating ``persist_s`` after the run began)--> Raised (once)
    raised    --(N of the last M compliant, for ``clear_s``)--> Cleared("fixed")
    raised    --(the person leaves / working hours end / the camera stops)--> Cleared(reason)

"N of M" suppresses flicker (a hand in front of the face for one frame); ``persist_s``
is the time rule. ``persist_s = 0`` gives a pure N-of-M-frames rule. After a clear the
person may violate again: that is a new episode and a new event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from agent.config.devices import WorkingHours
from agent.vision.crops import Box

Kind = Literal["no_mask", "no_hat"]
KINDS: tuple[Kind, ...] = ("no_mask", "no_hat")


@dataclass(frozen=True)
class Observation:
    """One face on one analysed frame: P(violation) per kind, None when not judged."""

    track_id: int
    box: Box
    p_violation: dict[Kind, float | None]


@dataclass(frozen=True)
class Raised:
    track_id: int
    kind: Kind
    started_t: float
    started_at: datetime
    t: float
    at: datetime
    seen_s: float
    confidence: float
    box: Box


@dataclass(frozen=True)
class Cleared:
    track_id: int
    kind: Kind
    t: float
    at: datetime
    reason: str  # fixed | left | outside_working_hours | stopped


Event = Raised | Cleared


@dataclass(frozen=True)
class Rules:
    persist_s: float = 5.0
    clear_s: float = 3.0
    agree: tuple[int, int] = (3, 5)  # N of the last M judged frames
    thresholds: dict[str, float] = field(default_factory=lambda: {"no_mask": 0.5, "no_hat": 0.5})

    def __post_init__(self) -> None:
        n, m = self.agree
        if not 1 <= n <= m:
            raise ValueError(f"agree must be N of M with 1 <= N <= M, got {self.agree}")


@dataclass
class _Sample:
    t: float
    at: datetime
    violating: bool
    p: float


@dataclass
class Episode:
    """State of one kind of check for one tracked face."""

    history: deque[_Sample]
    violating: bool = False  # the smoothed (N of M) state
    run_start: _Sample | None = None  # first violating sample of the current run
    compliant_since: _Sample | None = None
    raised: bool = False


class Compliance:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.episodes: dict[tuple[int, str], Episode] = {}

    @property
    def open_violations(self) -> list[tuple[int, str]]:
        return [key for key, ep in self.episodes.items() if ep.raised]

    def observe(self, t: float, at: datetime, observations: Iterable[Observation]) -> list[Event]:
        events: list[Event] = []
        for obs in observations:
            for kind, p in obs.p_violation.items():
                if p is None:
                    continue
                event = self._judge(obs.track_id, kind, t, at, p, obs.box)
                if event is not None:
                    events.append(event)
        return events

    def _judge(self, track_id: int, kind: Kind, t: float, at: datetime, p: float,
               box: Box) -> Event | None:
        n, m = self.rules.agree
        episode = self.episodes.get((track_id, kind))
        if episode is None:
            episode = self.episodes[(track_id, kind)] = Episode(deque(maxlen=m))
        sample = _Sample(t, at, p > self.rules.thresholds[kind], p)
        episode.history.append(sample)
        votes = sum(s.violating for s in episode.history)
        if not episode.violating and votes >= n:
            episode.violating = True
            episode.run_start = next(s for s in episode.history if s.violating)
            episode.compliant_since = None
        elif episode.violating and len(episode.history) - votes >= n:
            episode.violating = False
            episode.run_start = None
            episode.compliant_since = next(s for s in episode.history if not s.violating)
        if episode.violating and not episode.raised:
            start = episode.run_start
            assert start is not None  # set whenever violating
            if t - start.t >= self.rules.persist_s:
                episode.raised = True
                seen = [s.p for s in episode.history if s.violating]
                return Raised(track_id, kind, start.t, start.at, t, at, t - start.t,
                              float(sum(seen) / len(seen)), box)
        if episode.raised and not episode.violating and episode.compliant_since is not None:
            if t - episode.compliant_since.t >= self.rules.clear_s:
                episode.raised = False
                episode.compliant_since = None
                return Cleared(track_id, kind, t, at, "fixed")
        return None

    def end_tracks(self, t: float, at: datetime, track_ids: Iterable[int],
                   reason: str = "left") -> list[Cleared]:
        """Tracks are gone: their open violations clear and their state is forgotten."""
        gone = set(track_ids)
        events = []
        for key in [k for k in self.episodes if k[0] in gone]:
            episode = self.episodes.pop(key)
            if episode.raised:
                events.append(Cleared(key[0], key[1], t, at, reason))  # type: ignore[arg-type]
        return events

    def end_all(self, t: float, at: datetime, reason: str) -> list[Cleared]:
        return self.end_tracks(t, at, {k[0] for k in self.episodes}, reason)


def within_hours(at: datetime, hours: WorkingHours | None, tz: ZoneInfo) -> bool:
    """Is this moment inside the camera's working hours (a window may cross midnight)?"""
    if hours is None:
        return True
    local = at.astimezone(tz).time()
    start, end = _hhmm(hours.start), _hhmm(hours.end)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _hhmm(text: str) -> time:
    hour, minute = (int(v) for v in text.split(":"))
    return time.max if hour >= 24 else time(hour, minute)  # "24:00": to the end of the day
