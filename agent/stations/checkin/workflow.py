"""Check-ins: a badge reader records attendance as ``leader_meal``, ``staff_training`` or
``superior_inspection``.

A station has one or more ``checkin_modes``; the first is active at start. With a keypad,
``n`` switches to the n-th mode (1-based) until switched again, so one reader serves
all three ("a mode of one reader"). A badge then records, for a person on the roster
(and with a role in ``allowed_roles`` when that list is set):

- ``leader_meal``: the meal whose window contains now (``meal_at``); outside every meal
  window nothing is recorded. One record per person per meal per day.
- ``staff_training``: session ``session`` (default ``培训 YYYY-MM-DD``) and
  ``session_hours``; one record per person per session per day.
- ``superior_inspection``: the inspector (from the roster) and ``organisation``; one
  record per inspector per day.

A repeated check-in is answered ``已登记`` and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent.records.base import RecordData
from agent.records.leader_meal import LeaderMeal
from agent.records.staff_training import StaffTraining
from agent.records.superior_inspection import SuperiorInspection
from agent.stations.base import Staff, StationWorkflow, meal_label, parse_choice
from agent.stations.checkin.config import CheckinConfig
from drivers.readings import BadgeScan, TextInput

log = logging.getLogger("agent.workflows.checkin")

MODE_LABELS = {"leader_meal": "陪餐 / leader meal", "staff_training": "培训签到 / training",
               "superior_inspection": "上级巡检 / inspection", "drill": "演练签到 / drill"}


def drill_key(day: str) -> str:
    """The kv key of the staff ids badged for a drill on ``day`` (the console's drill form reads it)."""
    return f"checkin:drill:{day}"


class CheckinStation(StationWorkflow[CheckinConfig]):
    kind = "checkin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.mode = self.station.checkin_modes[0]

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        modes = self.station.checkin_modes
        index = parse_choice(text, len(modes))
        if index is None:
            listed = " ".join(f"{i}={MODE_LABELS[m].split(' /')[0]}" for i, m in enumerate(modes, 1))
            self.say(f"请选择模式 / mode: {listed}", level="warn")
            return
        self.mode = modes[index]
        self.say(f"模式：{MODE_LABELS[self.mode]}")

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        allowed = self.station.allowed_roles
        if allowed and staff.role not in allowed:
            self.say(f"{staff.name} 无{MODE_LABELS[self.mode].split(' /')[0]}权限 / role not allowed", level="warn",
                     log_text=f"checkin refused staff={staff.staff_id} role={staff.role}")
            return
        day = self.day_of(scan.at)
        if self.mode == "leader_meal":
            self._leader_meal(staff, scan, day)
        elif self.mode == "drill":
            self._drill(staff, day)
        elif self.mode == "staff_training":
            session = self.station.session or f"培训 {day}"
            if self._already(day, staff, lambda d: d.get("session") == session):
                return
            self._record(StaffTraining(session=session, staff_id=staff.staff_id, name=staff.name,
                                       hours=self.station.session_hours), staff, scan, f"{session} 签到成功")
        else:
            if self._already(day, staff, lambda d: True):
                return
            self._record(SuperiorInspection(inspector_id=staff.staff_id, name=staff.name,
                                            organisation=self.station.organisation),
                         staff, scan, "巡检签到成功")

    def _leader_meal(self, staff: Staff, scan: BadgeScan, day: str) -> None:
        meal = self.meal_at(scan.at)
        if meal is None:
            self.say("不在用餐时间 / no meal now", level="warn")
            return
        if self._already(day, staff, lambda d: d.get("meal") == meal):
            return
        self._record(LeaderMeal(meal=meal, staff_id=staff.staff_id, name=staff.name, role=staff.role),
                     staff, scan, f"{meal_label(meal)}陪餐已登记")

    def _drill(self, staff: Staff, day: str) -> None:
        """A drill's participant: kept (committed) for the day until the drill is recorded at
        the console, where the badged people are ticked for it."""
        badged = list(self.state.get(drill_key(day), []))
        if staff.staff_id in badged:
            self.say(f"{staff.name} 已签到 / already checked in")
            return
        self.state.set(drill_key(day), [*badged, staff.staff_id])
        self.say(f"{staff.name} 演练签到成功 / checked in for the drill", level="ok",
                 log_text=f"checkin drill staff={staff.staff_id}")

    def _already(self, day: str, staff: Staff, same: Callable[[dict[str, Any]], bool]) -> bool:
        earlier = self.records_today(self.mode, day, staff.staff_id)
        if any(same(r["data"]) for r in earlier):
            self.say(f"{staff.name} 已登记 / already checked in")
            return True
        return False

    def _record(self, data: RecordData, staff: Staff, scan: BadgeScan, done: str) -> None:
        saved = self.record(data, occurred_at=scan.at, source=self.source("badge"),
                            operator=staff.operator)
        self.say(f"{staff.name} {done} / recorded", level="ok",
                 log_text=f"checkin recorded mode={self.mode} staff={staff.staff_id}")
        log.info("checkin recorded station=%s mode=%s id=%s", self.station.id, self.mode, saved.id)
