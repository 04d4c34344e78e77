"""Training hours per person and year, counted from the ``staff_training`` records (a
badge at a check-in station, or a session entered at the console), and who is below the
configured yearly minimum (``rules.training``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.recorder import Recorder
from agent.records.envelope import Operator, Source
from agent.records.staff_training import StaffTraining


@dataclass(frozen=True)
class Hours:
    staff_id: str
    year: int
    hours: float
    sessions: tuple[dict[str, Any], ...]  # the person's staff_training records this year, oldest first
    minimum: float

    @property
    def short(self) -> bool:
        return self.minimum > 0 and self.hours < self.minimum


def _of_year(reads: Reads, year: int) -> list[dict[str, Any]]:
    return [r for r in reads.iter_records(type_="staff_training") if str(r.get("occurred_at", "")).startswith(f"{year}-")]


def yearly_hours(reads: Reads, config: Settings, staff_id: str, year: int) -> Hours:
    mine = [r for r in _of_year(reads, year) if r["data"]["staff_id"] == staff_id]
    total = sum(float(r["data"].get("hours") or 0) for r in mine)
    return Hours(staff_id, year, round(total, 2), tuple(mine), config.rules.training.yearly_min_hours)


def hours_by_person(reads: Reads, config: Settings, year: int) -> dict[str, float]:
    found: dict[str, float] = {}
    for record in _of_year(reads, year):
        sid = record["data"]["staff_id"]
        found[sid] = round(found.get(sid, 0.0) + float(record["data"].get("hours") or 0), 2)
    return found


def warn_now(config: Settings, day: date) -> bool:
    """From ``rules.training.warn_from`` (MM-DD) on, people below the minimum are warned about."""
    month, dom = (int(x) for x in config.rules.training.warn_from.split("-"))
    return (day.month, day.day) >= (month, dom)


EXEMPT_ROLES = frozenset({"leader", "inspector"})  # on the roster for check-ins, not kitchen staff


def short_of_hours(reads: Reads, config: Settings, day: date) -> list[dict[str, Any]]:
    """The roster's people below the yearly minimum, once ``warn_from`` has come (else none)."""
    minimum = config.rules.training.yearly_min_hours
    if not minimum or not warn_now(config, day):
        return []
    hours = hours_by_person(reads, config, day.year)
    return [p for p in reads.roster() if p.get("role") not in EXEMPT_ROLES and hours.get(p["staff_id"], 0.0) < minimum]


def attendance(recorder: Recorder, session: dict[str, Any], source: Source | None = None) -> int:
    """The province's ``staff_training`` record of each attendee of a stored ``training_session``
    (its payload), once per session and person: how many were written now (a second call,
    or the schedule's sweep after a stop part-way, writes only the missing ones)."""
    data = session["data"]
    when = datetime.fromisoformat(data["held_at"])
    by = Operator(staff_id=data["recorded_by"])
    written = 0
    for person in data["attendees"]:
        saved = recorder.record_once(
            f"training_session:{session['id']}:{person['staff_id']}", {"session_id": session["id"]},
            StaffTraining(session=data["topic"], staff_id=person["staff_id"], name=person.get("name"),
                          hours=data["hours"], session_id=session["id"], result=person.get("result")),
            occurred_at=when, source=source, operator=by)
        written += saved is not None
    return written
