"""Additive usage (添加剂领用): badge → additive → weight before and after → ``additive_usage``.

1. A badge starts the session. With one additive configured it is chosen at once;
   otherwise the keypad picks ``n`` (1-based) from the station's ``additives`` (default:
   the names in ``rules.additive_limits_g``), or a full keyboard types the name.
   ``0`` cancels.
2. The container goes on the scale (the first stable weight: *before*), the additive
   is taken, the container goes back (the next stable weight: *after*). The amount is
   before − after. A second weight that is not lighter is taken as a new *before* (the
   container went back untouched) and the person is told so.
3. A barcode scan during the session (or non-numeric keypad text that is not an
   additive name nor a dish) is the batch.
4. ``#n`` on the keypad (or a dish's name typed) names the dish the additive goes into,
   from the day's dishes in the order the console's additive page numbers them
   (``agent.core.menu``: the platform's menu, else the school's plans, else ``site.menu``):
   the record's ``food``. Optional, before the second weight.

The record is judged by ``rules.additive_limits_g`` (``additive_over_limit``); one
badge is one taking: the session ends with the record, on ``0``, or after
``session_timeout_s`` idle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.core.menu import day_dishes
from agent.records.additive_usage import AdditiveUsage
from agent.stations.additive.config import AdditiveConfig
from agent.stations.base import Staff, WeighingWorkflow, parse_choice
from drivers.readings import BadgeScan, StableWeight, TextInput

log = logging.getLogger("agent.workflows.additive")


@dataclass
class Session:
    staff: Staff
    deadline: datetime
    additive: str | None = None
    batch: str | None = None
    food: str | None = None
    before_g: float | None = None
    after_g: float | None = None
    dishes: list[str] = field(default_factory=list)  # the day's, as the session began: #n picks from it


class AdditiveStation(WeighingWorkflow[AdditiveConfig]):
    kind = "additive"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.additives = list(self.station.additives) or sorted(self.config.rules.additive_limits_g)
        self.session: Session | None = None

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        day = scan.at.astimezone(self.tz).date()
        session = Session(staff, self.session_deadline(scan.at), dishes=day_dishes(self.reads, self.config, day))
        if len(self.additives) == 1:
            session.additive = self.additives[0]
        self.session = session
        self.say(f"{staff.name} 添加剂领用：{self._prompt(session)}",
                 log_text=f"additive started staff={staff.staff_id}")

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None:
            return
        if text == "0" and not from_barcode:
            self.session = None
            self.say("已取消 / cancelled")
            return
        dish = None if from_barcode else self._dish(session, text)
        index = None if from_barcode else parse_choice(text, len(self.additives))
        if dish is not None:
            session.food = dish
            self.say(f"用于 {dish} / for {dish}; {self._prompt(session)}")
        elif text.startswith("#") and not from_barcode:
            self.say(f"请输入菜品编号 #1-#{len(session.dishes)} / dish number" if session.dishes else
                     "今日无菜谱，请输入菜品名称 / no menu today: type the dish", level="warn")
            return
        elif index is not None or text in self.additives:
            session.additive = self.additives[index] if index is not None else text
            self.say(f"{session.additive}：{self._prompt(session)}")
        elif from_barcode or not text.isdigit():
            session.batch = text
            self.say(f"批号已记录 / batch noted; {self._prompt(session)}")
        else:
            self.say(f"请输入编号 1-{len(self.additives)} / additive number", level="warn")
            return
        self._write_if_ready(session, reading.at)

    def on_weight(self, reading: StableWeight) -> None:
        weighed = self.weighing_session(reading)
        if weighed is None:
            return
        session, grams = weighed
        if session.before_g is None:
            session.before_g = grams
            self.say(f"取用前 {grams:.1f} g / before; {self._prompt(session)}")
        elif grams >= session.before_g:
            session.before_g = grams
            self.say(f"未减少，按取用前重新记录 {grams:.1f} g / not lighter: new before", level="warn")
        else:
            session.after_g = grams
        self._write_if_ready(session, reading.at)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            self.session = None
            self.say("添加剂领用未完成，已取消 / additive session cancelled", level="warn")


    @staticmethod
    def _dish(session: Session, text: str) -> str | None:
        """``#n`` (1-based, the day's order) or a dish's name: that dish; else None."""
        if text in session.dishes:
            return text
        if text.startswith("#") and text[1:].isdigit() and 1 <= int(text[1:]) <= len(session.dishes):
            return session.dishes[int(text[1:]) - 1]
        return None

    def _prompt(self, session: Session) -> str:
        if session.additive is None:
            listed = " ".join(f"{i}={name}" for i, name in enumerate(self.additives[:9], 1))
            return f"请选择添加剂 / additive {listed}".rstrip()
        dishes = ""
        if session.food is None and session.dishes:
            listed = " ".join(f"#{i}={name}" for i, name in enumerate(session.dishes[:9], 1))
            dishes = f"；用于菜品 / dish {listed}"
        if session.before_g is None:
            return f"请放上容器称重（取用前） / weigh before{dishes}"
        return f"取用后请放回称重 / weigh after{dishes}"

    def _write_if_ready(self, session: Session, at: datetime) -> None:
        if session.additive is None or session.before_g is None or session.after_g is None:
            if session.after_g is not None and session.additive is None:
                self.say(self._prompt(session), level="warn")
            return
        taken = round(session.before_g - session.after_g, 1)
        data = AdditiveUsage(additive=session.additive, grams=taken, before_g=session.before_g,
                             after_g=session.after_g, batch=session.batch, food=session.food,
                             limit_g=self.config.rules.additive_limits_g.get(session.additive))
        saved = self.record(data, occurred_at=at, source=self.source("scale"),
                            operator=session.staff.operator)
        self.session = None
        verdict = saved.verdict
        if verdict == "fail":
            self.say(f"{session.additive} 领用 {taken:.1f} g，超过限量 {data.limit_g:g} g / over limit",
                     level="error")
        else:
            self.say(f"{session.additive} 领用 {taken:.1f} g 已记录 / recorded", level="ok")
        log.info("additive recorded station=%s id=%s verdict=%s", self.station.id, saved.id, verdict)
