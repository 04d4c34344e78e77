"""Tableware disinfected by hand (人工消毒) at a keypad by the sink → ``tableware_disinfection``.

1. A badge opens a session.
2. Keypad ``1``: a chlorine soak; ``2``: steamed by hand. ``0`` cancels.
3. A soak asks the effective chlorine (mg/L, from the test strip), then the minutes;
   steaming asks the minutes.
4. The record is judged by the same rules as the devices' (docs/DOMAIN.md: 250 mg/L for
   5 min; steam held 10 min), ``device_id: "manual"``, ``by_hand``, the meal of the
   moment, so today's disinfection duty counts it. A soak that fails says what to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.core.feedback import Screen
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.stations.base import Staff, StationWorkflow
from agent.stations.hand_disinfection.config import HandDisinfectionConfig
from drivers.readings import BadgeScan, TextInput

log = logging.getLogger("agent.stations.hand_disinfection")

NUMBER = re.compile(r"^\d{1,5}(?:\.\d{1,2})?$")
CHOOSE = "请选择 1=含氯消毒液浸泡 2=人工蒸汽 / 1=chlorine soak 2=steam"
HAND_DEVICE = "manual"


@dataclass
class Session:
    staff: Staff
    deadline: datetime
    method: str | None = None
    mg_per_l: float | None = None


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
            if text not in ("1", "2"):
                self.say(CHOOSE, level="warn")
                return
            session.method = "chlorine" if text == "1" else "steam"
            self.say("请输入有效氯浓度 mg/L / chlorine mg/L" if session.method == "chlorine"
                     else "请输入蒸汽时长（分钟） / minutes of steam")
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

    def _write(self, session: Session, minutes: float, at: datetime) -> None:
        common: dict[str, Any] = dict(device_id=HAND_DEVICE, started_at=at - timedelta(minutes=minutes), ended_at=at,
                                      meal=self.meal_at(at), by_hand=True, recorded_by=session.staff.staff_id)
        if session.method == "chlorine":
            data = ThermalDisinfection(method="chlorine", chlorine_mg_per_l=session.mg_per_l, immersion_min=minutes,
                                       **common)
        else:
            steam = self.config.rules.disinfection.methods.get("steam")
            data = ThermalDisinfection(method="steam", required_s=steam.hold_s if steam else 600,
                                       seconds_at_target=minutes * 60, **common)
        saved = self.record(data, occurred_at=at, source=self.source("keypad"), operator=session.staff.operator)
        self.session = None
        if saved.verdict == "fail":
            self.say("消毒未达标，请重新消毒 / not enough: disinfect again", level="error",
                     log_text=f"hand disinfection failed id={saved.id} findings={','.join(saved.findings)}",
                     screen=Screen("verdict", name=session.staff.name, verdict="fail", next_step="again"))
            return
        self.say("消毒已记录 / recorded", level="ok", log_text=f"hand disinfection recorded id={saved.id}",
                 screen=Screen("verdict", name=session.staff.name, verdict="pass"))
        log.info("hand disinfection recorded station=%s method=%s id=%s", self.station.id, data.method, saved.id)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            self.session = None
