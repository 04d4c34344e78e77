"""Premises disinfection: UV lamp and ozone runs from their run contacts.

Each point with role ``uv_lamp`` or ``ozone`` (a device's own role, or a channel of a
multi-input module, with its ``room``) is a contact: closed (>= 0.5) while running.
A run lasts from the first reading that sees it closed to the first that sees it open
(so within one poll interval of the truth either way); one ``PremisesDisinfection``
record per run, its minutes against ``rules.premises.uv_min_minutes`` /
``ozone_min_minutes`` (the Recorder judges it).

The run in progress is kept in kv (``premises:run:<device>:<point>``). After a restart,
or when readings stop for longer than ``abandon_after_s``, a run whose end was not
seen ends at the last reading that saw it closed, and says so (``readings_gap``);
a contact already closed when first heard says ``run_start_not_seen``.

A run's minutes, gaps and the abandon timeout are measured on the monotonic clock
(``Reading.mono``, the injected ``mono``), so an NTP step during a run changes only the
wall times stamped on the record, never its verdict. A run resumed after a restart
has no monotonic start and falls back to wall time (it is marked ``readings_gap``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.config.settings import Settings
from agent.core.recorder import Recorder
from agent.core.timeutil import Monotonic
from agent.records.envelope import Source
from agent.records.premises_disinfection import PremisesDisinfection
from agent.workflows.modbus_points import PREMISES_ROLES, PointRole
from drivers.readings import Reading, RegisterSample

log = logging.getLogger("agent.workflows.premises")

SOURCE_KIND = "modbus"
FINDING_GAP = "readings_gap"
FINDING_START_NOT_SEEN = "run_start_not_seen"


def run_key(device_id: str, point: str) -> str:
    return f"premises:run:{device_id}:{point}"


@dataclass
class Run:
    started_at: datetime
    last_on_at: datetime
    start_seen: bool = True
    gap: bool = False
    saved_at: datetime | None = None
    started_mono: float | None = None  # monotonic seconds, this process only (not in kv)
    last_on_mono: float | None = None
    saved_mono: float | None = None

    def seconds(self, t0: datetime, m0: float | None, t1: datetime, m1: float | None) -> float:
        """Seconds from (t0, m0) to (t1, m1): monotonic when both are known, else wall."""
        return m1 - m0 if m0 is not None and m1 is not None else (t1 - t0).total_seconds()

    def since_last_on(self, at: datetime, mono: float | None) -> float:
        return self.seconds(self.last_on_at, self.last_on_mono, at, mono)

    def to_kv(self) -> dict[str, Any]:
        return {"started_at": self.started_at.isoformat(), "last_on_at": self.last_on_at.isoformat(),
                "start_seen": self.start_seen, "gap": self.gap}

    @classmethod
    def from_kv(cls, data: dict[str, Any]) -> Run:
        return cls(datetime.fromisoformat(data["started_at"]), datetime.fromisoformat(data["last_on_at"]),
                   bool(data.get("start_seen", True)), bool(data.get("gap", False)))


@dataclass
class _Contact:
    role: PointRole
    on: bool | None = None  # None: not heard since start
    run: Run | None = None


class Premises:
    """The UV / ozone run workflow for every premises point of the Modbus config."""

    name = "premises-disinfection"

    def __init__(self, config: Settings, recorder: Recorder, roles: list[PointRole], *,
                 max_gap_s: float = 120.0, abandon_after_s: float = 1800.0, save_every_s: float = 60.0,
                 mono: Monotonic | None = None) -> None:
        self.rules = config.rules.premises
        self.tz = config.identity.tz
        self.recorder = recorder
        self.reads = recorder.reads  # questions to the store; writes go through the recorder
        self.state = recorder.state  # this workflow's own notes that outlive a restart
        self.mono = mono  # None: the abandon timeout runs on the wall clock ``tick`` gets
        self.max_gap_s = max_gap_s
        self.abandon_after_s = abandon_after_s
        self.save_every_s = save_every_s
        self.contacts: dict[str, list[_Contact]] = {}
        for role in roles:
            if role.role in PREMISES_ROLES:
                contact = _Contact(role)
                saved = self.state.get(run_key(role.device_id, role.point))
                if saved:
                    contact.run = Run.from_kv(saved)
                    log.info("premises run resumed device=%s point=%s", role.device_id, role.point)
                self.contacts.setdefault(role.device_id, []).append(contact)

    def wants(self, reading: Reading) -> bool:
        return isinstance(reading, RegisterSample) and reading.device_id in self.contacts

    def on_reading(self, reading: Reading) -> None:
        assert isinstance(reading, RegisterSample)
        for contact in self.contacts[reading.device_id]:
            value = reading.values.get(contact.role.point)
            if value is not None:
                self._on_contact(contact, value >= 0.5, reading.at, reading.mono)

    def tick(self, now: datetime) -> None:
        mono = self.mono() if self.mono is not None else None
        for contacts in self.contacts.values():
            for contact in contacts:
                run = contact.run
                if run is not None and run.since_last_on(now, mono) > self.abandon_after_s:
                    log.warning("premises run closed: no readings device=%s point=%s",
                                contact.role.device_id, contact.role.point)
                    run.gap = True
                    self._end(contact, run.last_on_at, run.last_on_mono)

    def _on_contact(self, contact: _Contact, on: bool, at: datetime, mono: float | None) -> None:
        was, contact.on = contact.on, on
        run = contact.run
        if on:
            if run is None:
                contact.run = run = Run(at, at, start_seen=was is not None, started_mono=mono, last_on_mono=mono)
                self._save(contact, run, at, mono)
                log.info("premises run started device=%s point=%s", contact.role.device_id, contact.role.point)
                return
            if run.since_last_on(at, mono) > self.max_gap_s:
                run.gap = True  # e.g. the agent was down: the run may have paused unseen
            if mono is not None and run.last_on_mono is not None:
                run.last_on_at, run.last_on_mono = at, mono  # a wall step back is still later
            else:
                run.last_on_at, run.last_on_mono = max(run.last_on_at, at), mono
            if run.saved_at is None or run.seconds(run.saved_at, run.saved_mono, at, mono) >= self.save_every_s:
                self._save(contact, run, at, mono)
        elif run is not None:
            if was is None:  # first reading after a restart: when it stopped is unknown
                run.gap = True
                self._end(contact, run.last_on_at, run.last_on_mono)
            else:
                self._end(contact, at, mono)

    def _save(self, contact: _Contact, run: Run, at: datetime, mono: float | None) -> None:
        run.saved_at, run.saved_mono = at, mono
        self.state.set(run_key(contact.role.device_id, contact.role.point), run.to_kv())

    def _end(self, contact: _Contact, ended_at: datetime, ended_mono: float | None) -> None:
        run, contact.run = contact.run, None
        assert run is not None
        role = contact.role
        method = role.role  # uv_lamp or ozone
        target = self.rules.uv_min_minutes if method == "uv_lamp" else self.rules.ozone_min_minutes
        minutes = max(0.0, run.seconds(run.started_at, run.started_mono, ended_at, ended_mono) / 60)
        data = PremisesDisinfection(device_id=role.device_id, room=role.room, method=method,
                                    started_at=run.started_at.astimezone(self.tz),
                                    ended_at=ended_at.astimezone(self.tz), minutes=round(minutes, 2),
                                    target_minutes=target)
        findings = ([FINDING_GAP] if run.gap else []) + ([] if run.start_seen else [FINDING_START_NOT_SEEN])
        saved = self.recorder.record(data, occurred_at=ended_at, extra_findings=findings,
                                     source=Source(device_id=role.device_id, kind=SOURCE_KIND))
        self.state.set(run_key(role.device_id, role.point), None)
        log.info("premises run recorded device=%s point=%s id=%s minutes=%.1f", role.device_id, role.point,
                 saved.id, minutes)
