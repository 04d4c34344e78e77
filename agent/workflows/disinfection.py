"""Tableware disinfection: cabinet cycles read from the temperature curve (and run contact).

A cabinet (role ``cabinet``) has a temperature probe and, where wired, a run contact
(role ``cabinet_contact`` with ``cabinet: <cabinet id>``). Its method (config
``method``, default ``infrared_cabinet``) gives the target and hold from
``rules.disinfection.methods``.

- **Start**: the temperature rises ``rules.disinfection.cycle_start_rise_c`` above the
  ambient (the lowest reading of the last ``ambient_window_s`` while idle, never taken
  above ``AMBIENT_CEILING_C``), or the contact closes.
- **During**: peak, and seconds at or above the target (linear between readings; a gap
  between readings longer than ``max_gap_s`` counts nothing and marks the record).
- **End**: the contact opens (when it was seen closed in this cycle), else the
  temperature falls back below the start threshold. After a contact end the curve must
  fall back before a temperature rise can start another cycle.
- One ``ThermalDisinfection`` per cycle; the Recorder judges it. ``cut_short`` means the
  cycle reached the target but ended before the required hold. A failed cycle raises
  ``disinfection_failed`` (subject: cabinet and the cycle's record id); the cabinet's
  next passing cycle clears its open ones.

The in-progress cycle is kept in kv (``disinfection:cycle:<cabinet id>``), so a restart
mid-cycle carries on; what was missed while down is not counted and the record says so
(finding ``readings_gap``).

Seconds at target, gaps and the abandon timeout are measured on the monotonic clock
(``Reading.mono``, the injected ``mono``): an NTP step of the wall clock mid-cycle must
not turn a 540 s hold into a pass or a 660 s one into a fail. Wall time only stamps the
record's ``started_at`` / ``ended_at``. After a restart the first interval falls back to
wall time (a monotonic reading of another process or boot means nothing).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from agent.config.rules import ThermalMethod
from agent.config.settings import Settings
from agent.core.recorder import Recorder
from agent.core.timeutil import Monotonic
from agent.records.envelope import Source
from agent.records.findings import finding_term
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.workflows.modbus_points import CABINET, CABINET_CONTACT, PointRole
from drivers.readings import Reading, RegisterSample

log = logging.getLogger("agent.workflows.disinfection")

AMBIENT_CEILING_C = 40.0  # no kitchen is hotter; with no history, a hot cabinet is mid-cycle
FAILED_ALARM = "disinfection_failed"
SOURCE_KIND = "modbus"
FINDING_GAP = "readings_gap"
FINDING_START_NOT_SEEN = "cycle_start_not_seen"


def cycle_key(device_id: str) -> str:
    return f"disinfection:cycle:{device_id}"


@dataclass
class Cycle:
    """A cycle in progress (persisted as a dict in kv)."""

    started_at: datetime
    ambient_c: float
    last_at: datetime
    last_c: float | None
    peak_c: float | None
    seconds_at_target: float = 0.0
    contact_seen: bool = False
    readings: int = 0
    gap: bool = False
    start_seen: bool = True
    saved_at: datetime | None = None
    last_mono: float | None = None  # monotonic seconds of last_at; this process only
    saved_mono: float | None = None

    def since_last(self, at: datetime, mono: float | None) -> float:
        """Seconds from the last reading to one at ``at`` / ``mono`` (monotonic when known)."""
        if mono is not None and self.last_mono is not None:
            return mono - self.last_mono
        return (at - self.last_at).total_seconds()

    def since_saved(self, at: datetime, mono: float | None) -> float:
        if mono is not None and self.saved_mono is not None:
            return mono - self.saved_mono
        return math.inf if self.saved_at is None else (at - self.saved_at).total_seconds()

    def to_kv(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("started_at", "last_at", "saved_at"):
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_kv(cls, data: dict[str, Any]) -> Cycle:
        data = dict(data)
        for name in ("started_at", "last_at", "saved_at"):
            data[name] = datetime.fromisoformat(data[name]) if data[name] else None
        data["last_mono"] = data["saved_mono"] = None  # another process's monotonic clock
        return cls(**data)


@dataclass
class _Cabinet:
    role: PointRole
    method: ThermalMethod
    ambient: deque[tuple[datetime, float]] = field(default_factory=deque)
    cycle: Cycle | None = None
    armed: bool = True  # False after a contact end until the curve falls back
    contact_on: bool | None = None  # None: not heard yet


def seconds_above(t0: datetime, v0: float, t1: datetime, v1: float, target: float) -> float:
    """Seconds of [t0, t1] at or above ``target``, the curve taken as linear in between."""
    return fraction_above((t1 - t0).total_seconds(), v0, v1, target)


def fraction_above(dt: float, v0: float, v1: float, target: float) -> float:
    """Seconds of an interval ``dt`` long, from ``v0`` to ``v1``, at or above ``target``."""
    if v0 >= target and v1 >= target:
        return dt
    if v0 < target and v1 < target:
        return 0.0
    return dt * (max(v0, v1) - target) / abs(v1 - v0)


class Disinfection:
    """The cabinet-cycle workflow for every ``cabinet`` point and its contacts."""

    name = "disinfection"

    def __init__(self, config: Settings, recorder: Recorder, roles: list[PointRole], *,
                 max_gap_s: float = 120.0, ambient_window_s: float = 1800.0, abandon_after_s: float = 1800.0,
                 save_every_s: float = 30.0, mono: Monotonic | None = None) -> None:
        self.config = config
        self.rules = config.rules.disinfection
        self.tz = config.identity.tz
        self.recorder = recorder
        self.reads = recorder.reads  # questions to the store; writes go through the recorder
        self.state = recorder.state  # this workflow's own notes that outlive a restart
        self.mono = mono  # None: the abandon timeout runs on the wall clock ``tick`` gets
        self.max_gap_s = max_gap_s
        self.ambient_window = timedelta(seconds=ambient_window_s)
        self.abandon_after_s = abandon_after_s
        self.save_every_s = save_every_s
        self.cabinets = {r.device_id: _Cabinet(r, self.rules.methods[r.method or ""])
                         for r in roles if r.role == CABINET}
        self.temperature_points = {r.device_id: r.point for r in roles if r.role == CABINET}
        self.contacts: dict[str, list[PointRole]] = {}
        for r in roles:
            if r.role == CABINET_CONTACT:
                self.contacts.setdefault(r.device_id, []).append(r)
        for device_id, cabinet in self.cabinets.items():
            saved = self.state.get(cycle_key(device_id))
            if saved:
                cabinet.cycle = Cycle.from_kv(saved)
                cabinet.armed = False
                log.info("disinfection cycle resumed device=%s started_at=%s", device_id, saved["started_at"])

    # --- Workflow protocol -----------------------------------------------------------------

    def wants(self, reading: Reading) -> bool:
        return isinstance(reading, RegisterSample) and (
            reading.device_id in self.cabinets or reading.device_id in self.contacts)

    def on_reading(self, reading: Reading) -> None:
        assert isinstance(reading, RegisterSample)
        for contact in self.contacts.get(reading.device_id, []):
            value = reading.values.get(contact.point)
            if value is not None:
                self._on_contact(self.cabinets[contact.cabinet or ""], value >= 0.5, reading.at, reading.mono)
        point = self.temperature_points.get(reading.device_id)
        if point is not None and (value := reading.values.get(point)) is not None:
            self._on_temperature(self.cabinets[reading.device_id], value, reading.at, reading.mono)

    def tick(self, now: datetime) -> None:
        mono = self.mono() if self.mono is not None else None
        for cabinet in self.cabinets.values():
            cycle = cabinet.cycle
            if cycle is not None and cycle.since_last(now, mono) > self.abandon_after_s:
                log.warning("disinfection cycle abandoned: no readings device=%s", cabinet.role.device_id)
                cycle.gap = True
                self._end(cabinet, cycle.last_at)

    # --- the curve ---------------------------------------------------------------------

    def _ambient_c(self, cabinet: _Cabinet) -> float | None:
        if not cabinet.ambient:
            return None
        return min(min(v for _, v in cabinet.ambient), AMBIENT_CEILING_C)

    def _on_temperature(self, cabinet: _Cabinet, value: float, at: datetime, mono: float | None) -> None:
        cycle = cabinet.cycle
        if cycle is None:
            self._idle_reading(cabinet, value, at, mono)
            return
        self._advance(cabinet, cycle, value, at, mono)
        if not cycle.contact_seen and value < cycle.ambient_c + self.rules.cycle_start_rise_c:
            self._end(cabinet, at)

    def _idle_reading(self, cabinet: _Cabinet, value: float, at: datetime, mono: float | None) -> None:
        ambient = self._ambient_c(cabinet)
        threshold = (AMBIENT_CEILING_C if ambient is None else ambient) + self.rules.cycle_start_rise_c
        if value < threshold:
            cabinet.armed = True
        elif cabinet.armed:
            self._start(cabinet, at, mono, value, ambient)
            return
        if cabinet.armed:  # the curve after a contact end is not the room
            cabinet.ambient.append((at, value))
            while cabinet.ambient and at - cabinet.ambient[0][0] > self.ambient_window:
                cabinet.ambient.popleft()

    def _start(self, cabinet: _Cabinet, at: datetime, mono: float | None, value: float | None,
               ambient: float | None, contact: bool = False) -> None:
        cycle = Cycle(started_at=at, ambient_c=AMBIENT_CEILING_C if ambient is None else ambient,
                      last_at=at, last_c=value, peak_c=value, contact_seen=contact,
                      readings=1 if value is not None else 0, start_seen=ambient is not None, last_mono=mono)
        cabinet.cycle, cabinet.armed = cycle, False
        log.info("disinfection cycle started device=%s by=%s", cabinet.role.device_id,
                 "contact" if contact else "temperature")
        self._save(cabinet, cycle, at, mono)

    def _advance(self, cabinet: _Cabinet, cycle: Cycle, value: float, at: datetime, mono: float | None) -> None:
        elapsed = cycle.since_last(at, mono)
        if elapsed <= 0 and cycle.readings:
            return  # a stale or repeated reading
        target = cabinet.method.target_c
        crossed = False
        if cycle.last_c is not None and cycle.readings:
            if elapsed > self.max_gap_s:
                cycle.gap = True  # unseen stretch: count nothing for it
            else:
                cycle.seconds_at_target += fraction_above(elapsed, cycle.last_c, value, target)
            crossed = (cycle.last_c >= target) != (value >= target)
        cycle.peak_c = value if cycle.peak_c is None else max(cycle.peak_c, value)
        cycle.last_at, cycle.last_c, cycle.last_mono = at, value, mono
        cycle.readings += 1
        if crossed or cycle.since_saved(at, mono) >= self.save_every_s:
            self._save(cabinet, cycle, at, mono)

    def _on_contact(self, cabinet: _Cabinet, on: bool, at: datetime, mono: float | None) -> None:
        was, cabinet.contact_on = cabinet.contact_on, on
        if on and was is not True:
            if cabinet.cycle is None:
                self._start(cabinet, at, mono, cabinet.ambient[-1][1] if cabinet.ambient else None,
                            self._ambient_c(cabinet), contact=True)
                if was is None and cabinet.cycle is not None:
                    cabinet.cycle.start_seen = False  # closed before we first heard it
            elif not cabinet.cycle.contact_seen:
                cabinet.cycle.contact_seen = True
                self._save(cabinet, cabinet.cycle, at, mono)
        elif not on and was and cabinet.cycle is not None and cabinet.cycle.contact_seen:
            self._end(cabinet, at)

    def _save(self, cabinet: _Cabinet, cycle: Cycle, at: datetime, mono: float | None) -> None:
        cycle.saved_at, cycle.saved_mono = at, mono
        self.state.set(cycle_key(cabinet.role.device_id), cycle.to_kv())

    # --- the record --------------------------------------------------------------------

    def _end(self, cabinet: _Cabinet, at: datetime) -> None:
        cycle, cabinet.cycle = cabinet.cycle, None
        assert cycle is not None
        device_id = cabinet.role.device_id
        if cycle.readings <= 2 and not cycle.contact_seen:  # the rise and the fall: one hot reading
            log.warning("disinfection rise of one reading ignored device=%s", device_id)
            self.state.set(cycle_key(device_id), None)
            return
        method = cabinet.method
        reached = cycle.peak_c is not None and cycle.peak_c >= method.target_c
        data = ThermalDisinfection(
            device_id=device_id, method=cabinet.role.method or "", started_at=cycle.started_at.astimezone(self.tz),
            ended_at=at.astimezone(self.tz), target_c=method.target_c, required_s=method.hold_s,
            peak_c=None if cycle.peak_c is None else round(cycle.peak_c, 2),
            seconds_at_target=round(cycle.seconds_at_target, 1),
            cut_short=reached and cycle.seconds_at_target < method.hold_s,
            meal=meal_of(self.config, cycle.started_at))
        findings = ([FINDING_GAP] if cycle.gap else []) + ([] if cycle.start_seen else [FINDING_START_NOT_SEEN])
        saved = self.recorder.record(data, occurred_at=at, source=Source(device_id=device_id, kind=SOURCE_KIND),
                                     extra_findings=findings)
        self.state.set(cycle_key(device_id), None)
        log.info("disinfection cycle recorded device=%s id=%s verdict=%s seconds_at_target=%.0f",
                 device_id, saved.id, saved.verdict, cycle.seconds_at_target)
        if saved.verdict == "fail":
            self.recorder.raise_alarm(
                FAILED_ALARM, {"device_id": device_id, "cycle_id": saved.id},
                failed_message(device_id, saved.findings),
                severity="major", occurred_at=at, source=Source(device_id=device_id, kind=SOURCE_KIND),
                details={"record_id": saved.id, "findings": list(saved.findings),
                         "peak_c": data.peak_c, "seconds_at_target": data.seconds_at_target,
                         "target_c": data.target_c, "required_s": data.required_s, "meal": data.meal})
        elif saved.verdict == "pass":
            self._clear_failed(device_id, saved.id, at)

    def _clear_failed(self, device_id: str, passing_id: str, at: datetime) -> None:
        for subject in self.reads.open_alarm_subjects(FAILED_ALARM):
            if subject.get("device_id") == device_id:
                self.recorder.clear_alarm(FAILED_ALARM, subject,
                                          f"{device_id} 下一次消毒合格 / next cycle of {device_id} passed",
                                          details={"passing_record_id": passing_id},
                                          occurred_at=at)


def meal_of(config: Settings, started_at: datetime) -> str | None:
    """The meal whose window (start to end + disinfection deadline) holds ``started_at``."""
    local = started_at.astimezone(config.identity.tz)
    day = local.date()
    for name, window in sorted(config.schedules.meals.items(), key=lambda item: item[1].start):
        if day.isoweekday() not in window.weekdays:
            continue
        start = _at(day, window.start, local)
        deadline = _at(day, window.end, local) + timedelta(minutes=window.disinfection_deadline_min)
        if start <= local <= deadline:
            return name
    return None


def _at(day: Any, clock: time, like: datetime) -> datetime:
    return datetime.combine(day, clock, tzinfo=like.tzinfo)


def failed_message(device_id: str, findings: tuple[str, ...] | list[str]) -> str:
    """``消毒不合格：cabinet-2 消毒中途停止 / disinfection failed: cabinet-2, cycle cut short``."""
    terms = [finding_term(f) for f in findings]
    return (f"消毒不合格：{device_id} {'、'.join(t.zh for t in terms)} / "
            f"disinfection failed: {device_id}, {', '.join(t.en or t.zh for t in terms)}")
