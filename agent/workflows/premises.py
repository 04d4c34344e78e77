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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.config import AgentConfig
from agent.recorder import Recorder
from agent.records import PremisesDisinfection, Source
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

    def __init__(self, config: AgentConfig, recorder: Recorder, roles: list[PointRole], *,
                 max_gap_s: float = 120.0, abandon_after_s: float = 1800.0, save_every_s: float = 60.0) -> None:
        self.rules = config.rules.premises
        self.tz = config.identity.tz
        self.recorder = recorder
        self.store = recorder.store
        self.max_gap = timedelta(seconds=max_gap_s)
        self.abandon_after = timedelta(seconds=abandon_after_s)
        self.save_every = timedelta(seconds=save_every_s)
        self.contacts: dict[str, list[_Contact]] = {}
        for role in roles:
            if role.role in PREMISES_ROLES:
                contact = _Contact(role)
                saved = self.store.kv_get(run_key(role.device_id, role.point))
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
                self._on_contact(contact, value >= 0.5, reading.at)

    def tick(self, now: datetime) -> None:
        for contacts in self.contacts.values():
            for contact in contacts:
                run = contact.run
                if run is not None and now - run.last_on_at > self.abandon_after:
                    log.warning("premises run closed: no readings device=%s point=%s",
                                contact.role.device_id, contact.role.point)
                    run.gap = True
                    self._end(contact, run.last_on_at)

    def _on_contact(self, contact: _Contact, on: bool, at: datetime) -> None:
        was, contact.on = contact.on, on
        run = contact.run
        if on:
            if run is None:
                contact.run = run = Run(at, at, start_seen=was is not None)
                self._save(contact, run, at)
                log.info("premises run started device=%s point=%s", contact.role.device_id, contact.role.point)
                return
            if at - run.last_on_at > self.max_gap:
                run.gap = True  # e.g. the agent was down: the run may have paused unseen
            run.last_on_at = max(run.last_on_at, at)
            if run.saved_at is None or at - run.saved_at >= self.save_every:
                self._save(contact, run, at)
        elif run is not None:
            if was is None:  # first reading after a restart: when it stopped is unknown
                run.gap = True
                self._end(contact, run.last_on_at)
            else:
                self._end(contact, at)

    def _save(self, contact: _Contact, run: Run, at: datetime) -> None:
        run.saved_at = at
        self.store.kv_set(run_key(contact.role.device_id, contact.role.point), run.to_kv())

    def _end(self, contact: _Contact, ended_at: datetime) -> None:
        run, contact.run = contact.run, None
        assert run is not None
        role = contact.role
        method = role.role  # uv_lamp or ozone
        target = self.rules.uv_min_minutes if method == "uv_lamp" else self.rules.ozone_min_minutes
        minutes = max(0.0, (ended_at - run.started_at).total_seconds() / 60)
        data = PremisesDisinfection(device_id=role.device_id, room=role.room, method=method,
                                    started_at=run.started_at.astimezone(self.tz),
                                    ended_at=ended_at.astimezone(self.tz), minutes=round(minutes, 2),
                                    target_minutes=target)
        findings = ([FINDING_GAP] if run.gap else []) + ([] if run.start_seen else [FINDING_START_NOT_SEEN])
        saved = self.recorder.record(data, occurred_at=ended_at, extra_findings=findings,
                                     source=Source(device_id=role.device_id, kind=SOURCE_KIND))
        self.store.kv_set(run_key(role.device_id, role.point), None)
        log.info("premises run recorded device=%s point=%s id=%s minutes=%.1f", role.device_id, role.point,
                 saved.id, minutes)
