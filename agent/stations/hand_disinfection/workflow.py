"""Disinfection by hand (人工消毒) at a keypad: tableware → ``tableware_disinfection``,
premises sprayed or wiped → ``premises_disinfection``.

1. A badge opens a session.
2. Keypad ``1``: a chlorine soak; ``2``: steamed by hand; ``3``: premises sprayed;
   ``4``: premises wiped. ``0`` cancels.
3. A soak asks the effective chlorine (mg/L, from the test strip), then the minutes;
   steaming asks the minutes. Spraying or wiping asks the disinfectant (1 = chlorine,
   2 = alcohol 75%, 3 = other), its effective chlorine when it is chlorine, the area (a
   number from the rooms of ``schedules.uv_rooms``, or a place typed at a keyboard),
   then the contact minutes.
4. The record is judged by the same rules as the devices' and the console's
   (docs/DOMAIN.md: soak 250 mg/L for 5 min; steam held 10 min; premises contact
   ``rules.premises.hand_min_minutes``, chlorine at least ``hand_chlorine_mg_per_l``),
   ``device_id: "manual"``, the meal (tableware) or the room (premises) of the duty it
   counts for. A run that fails says what to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.core.feedback import Screen
from agent.records.base import RecordData
from agent.records.premises_disinfection import HAND_AGENTS, PremisesDisinfection
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.stations.base import Staff, StationWorkflow
from agent.stations.hand_disinfection.config import HandDisinfectionConfig
from agent.words.terms import room
from drivers.readings import BadgeScan, TextInput

log = logging.getLogger("agent.stations.hand_disinfection")

NUMBER = re.compile(r"^\d{1,5}(?:\.\d{1,2})?$")
CHOOSE = ("请选择 1=含氯消毒液浸泡 2=人工蒸汽 3=场所喷洒 4=场所擦拭 / "
          "1=chlorine soak 2=steam 3=spray premises 4=wipe premises")
METHODS = {"1": "chlorine", "2": "steam", "3": "spray", "4": "wipe"}
AGENT_KEYS = {"1": "chlorine", "2": "alcohol", "3": "other"}
CHOOSE_AGENT = "请选择消毒剂 1=含氯消毒液 2=75%酒精 3=其他 / disinfectant 1=chlorine 2=alcohol 75% 3=other"
AREA_MAX = 200
HAND_DEVICE = "manual"


@dataclass
class Session:
    staff: Staff
    deadline: datetime
    method: str | None = None
    mg_per_l: float | None = None
    agent: str | None = None  # premises: a key of HAND_AGENTS
    room: str | None = None  # premises: one of schedules.uv_rooms, or None for a place typed
    area: str | None = None


class HandDisinfectionStation(StationWorkflow[HandDisinfectionConfig]):
    kind = "hand_disinfection"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.session: Session | None = None

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        self.session = Session(staff, self.session_deadline(scan.at))
        self.say(f"{staff.name} 人工消毒：{CHOOSE}", log_text=f"hand disinfection started staff={staff.staff_id}",
                 screen=Screen("identified", name=staff.name))

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None or from_barcode:
            return
        session.deadline = self.session_deadline(reading.at)
        if text == "0":
            self.session = None
            self.say("已取消 / cancelled")
            return
        if session.method is None:
            if text not in METHODS:
                self.say(CHOOSE, level="warn")
                return
            session.method = METHODS[text]
            self.say({"chlorine": "请输入有效氯浓度 mg/L / chlorine mg/L",
                      "steam": "请输入蒸汽时长（分钟） / minutes of steam"}.get(session.method, CHOOSE_AGENT))
            return
        if session.method in ("spray", "wipe") and not self._premises_step(session, text):
            return
        if not NUMBER.match(text) or not 0 < float(text) <= (10000 if session.mg_per_l is None
                                                              and session.method == "chlorine" else 600):
            self.say("请输入数字 / a number, please", level="warn")
            return
        if session.method == "chlorine" and session.mg_per_l is None:
            session.mg_per_l = float(text)
            self.say("请输入浸泡时长（分钟） / minutes soaked")
            return
        self._write(session, float(text), reading.at)

    def _rooms_prompt(self) -> str:
        rooms = self.config.schedules.uv_rooms
        listed = " ".join(f"{i}={room(r).zh or r}" for i, r in enumerate(rooms[:9], 1))
        return f"请选择区域 {listed} / area (number)" if rooms else "请输入消毒区域 / type the area"

    def _premises_step(self, session: Session, text: str) -> bool:
        """One answer of a premises session (agent, concentration, area); True when the
        text is the last one, the minutes."""
        if session.agent is None:
            if text not in AGENT_KEYS:
                self.say(CHOOSE_AGENT, level="warn")
                return False
            session.agent = AGENT_KEYS[text]
            self.say("请输入有效氯浓度 mg/L / chlorine mg/L" if session.agent == "chlorine" else self._rooms_prompt())
            return False
        if session.agent == "chlorine" and session.mg_per_l is None:
            if not NUMBER.match(text) or not 0 < float(text) <= 100000:
                self.say("请输入数字 / a number, please", level="warn")
                return False
            session.mg_per_l = float(text)
            self.say(self._rooms_prompt())
            return False
        if session.area is None:
            rooms = self.config.schedules.uv_rooms
            if text.isdigit():
                if not 1 <= int(text) <= min(len(rooms), 9):
                    self.say(self._rooms_prompt(), level="warn")
                    return False
                session.room = rooms[int(text) - 1]
                session.area = str(room(session.room).zh or session.room)
            elif 0 < len(text) <= AREA_MAX:
                session.area = text
            else:
                self.say(self._rooms_prompt(), level="warn")
                return False
            self.say("请输入作用时长（分钟） / contact minutes")
            return False
        return True

    def _write(self, session: Session, minutes: float, at: datetime) -> None:
        data: RecordData
        if session.method in ("spray", "wipe"):
            rules = self.config.rules.premises
            chlorine = session.agent == "chlorine"
            data = PremisesDisinfection(
                device_id=HAND_DEVICE, room=session.room, method=session.method,
                started_at=at - timedelta(minutes=minutes), ended_at=at, minutes=minutes,
                target_minutes=rules.hand_min_minutes, agent=str(HAND_AGENTS[session.agent or "other"]),
                concentration_mg_per_l=session.mg_per_l,
                min_concentration_mg_per_l=rules.hand_chlorine_mg_per_l if chlorine else None,
                area=session.area, recorded_by=session.staff.staff_id)
            self._saved(session, data, at)
            return
        common: dict[str, Any] = dict(device_id=HAND_DEVICE, started_at=at - timedelta(minutes=minutes), ended_at=at,
                                      meal=self.meal_at(at), by_hand=True, recorded_by=session.staff.staff_id)
        if session.method == "chlorine":
            data = ThermalDisinfection(method="chlorine", chlorine_mg_per_l=session.mg_per_l, immersion_min=minutes,
                                       **common)
        else:
            steam = self.config.rules.disinfection.methods.get("steam")
            data = ThermalDisinfection(method="steam", required_s=steam.hold_s if steam else 600,
                                       seconds_at_target=minutes * 60, **common)
        self._saved(session, data, at)

    def _saved(self, session: Session, data: RecordData, at: datetime) -> None:
        saved = self.record(data, occurred_at=at, source=self.source("keypad"), operator=session.staff.operator)
        self.session = None
        if saved.verdict == "fail":
            self.say("消毒未达标，请重新消毒 / not enough: disinfect again", level="error",
                     log_text=f"hand disinfection failed id={saved.id} findings={','.join(saved.findings)}",
                     screen=Screen("verdict", name=session.staff.name, verdict="fail", next_step="again"))
            return
        self.say("消毒已记录 / recorded", level="ok", log_text=f"hand disinfection recorded id={saved.id}",
                 screen=Screen("verdict", name=session.staff.name, verdict="pass"))
        log.info("hand disinfection recorded station=%s method=%s id=%s", self.station.id,
                 getattr(data, "method", None), saved.id)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            self.session = None
