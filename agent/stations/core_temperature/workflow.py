"""Core temperature (食品中心温度): badge → dish → the probe in its core → ``core_temperature_check``.

- A badge opens a session for the meal of the moment (``StationWorkflow.meal_at``; outside
  every meal window the record carries no meal) and lists today's dishes of that meal
  (the platform's menu, else ``site.menu``).
- Keypad: ``n`` picks dish n of that list; any other text is the dish's name (a dish not
  on the menu: a sauce, a reheated tray). ``0`` ends the session.
- A probe reading with a dish picked is recorded against the station's stage: cooking
  (``cooking_min_c``, 70 °C) or hot holding (``hot_holding_min_c``, 60 °C). Below it the
  record fails and the screen says to keep cooking (or reheat) and probe again; the dish
  stays picked for that, and the session stays open for the next dish until
  ``session_timeout_s`` idle or another badge.
- A probe reading without a badge, or without a dish, is no one's: the screen says what
  is missing and nothing is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.feedback import Screen
from agent.records.core_temperature_check import CoreTemperatureCheck
from agent.stations.base import BADGE_FIRST, Staff, StationWorkflow, meal_label, parse_choice
from agent.stations.core_temperature.config import CoreTemperatureConfig
from drivers.readings import BadgeScan, CoreTemperature, Reading, TextInput

log = logging.getLogger("agent.stations.core_temperature")

CHOOSE_DISH = "请先选择菜品 / choose the dish first"


@dataclass
class Session:
    staff: Staff
    meal: str | None
    dishes: list[str]
    deadline: datetime
    dish: str | None = None


class CoreTemperatureStation(StationWorkflow[CoreTemperatureConfig]):
    kind = "core_temperature"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.session: Session | None = None
        cooking = self.station.stage == "cooking"
        self.target_c = self.station.cooking_min_c if cooking else self.station.hot_holding_min_c

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        meal = self.meal_at(scan.at)
        dishes = self.dishes(meal, self.day_of(scan.at)) if meal else []
        self.session = Session(staff, meal, dishes, self.session_deadline(scan.at))
        menu = " ".join(f"{n} {d}" for n, d in enumerate(dishes, 1))
        prompt = f"请选择菜品 {menu} / choose the dish" if dishes else "请输入菜品名称 / type the dish"
        self.say(f"{staff.name} {meal_label(meal) if meal else ''} {prompt}".replace("  ", " "),
                 log_text=f"core temperature started staff={staff.staff_id} meal={meal or '-'}",
                 screen=Screen("identified", name=staff.name))

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None:
            return
        if text == "0":
            self.session = None
            self.say("已结束 / session ended", log_text=f"core temperature ended staff={session.staff.staff_id}")
            return
        choice = parse_choice(text, len(session.dishes))
        if choice is None and text.isdigit():
            self.say(f"没有菜品 {text} / no dish {text}", level="warn")
            return
        session.dish = session.dishes[choice] if choice is not None else text[:100]
        self.say(f"{session.dish} 请测中心温度 / probe its core", log_text="core temperature dish chosen")

    def on_other(self, reading: Reading) -> None:
        if not isinstance(reading, CoreTemperature):
            return
        session = self.session
        if session is None:
            self.say(BADGE_FIRST, level="warn")
            return
        if session.dish is None:
            self.say(CHOOSE_DISH, level="warn")
            return
        session.deadline = self.session_deadline(reading.at)
        data = CoreTemperatureCheck(stage=self.station.stage, dish=session.dish, meal=session.meal,
                                    core_c=round(reading.core_c, 1), target_c=self.target_c)
        saved = self.record(data, occurred_at=reading.at, source=self.source("core_probe"),
                            operator=session.staff.operator)
        shown = f"{data.core_c:.1f} °C"
        if saved.verdict == "fail":
            step = "keep_cooking" if self.station.stage == "cooking" else "reheat"
            self.say(f"{data.dish} {shown} 未达 {self.target_c:g} °C，请继续加热后复测 / "
                     f"below {self.target_c:g} °C: heat it and probe again", level="error",
                     log_text=f"core temperature low dish={data.dish} id={saved.id}",
                     screen=Screen("verdict", name=session.staff.name, reading=shown, verdict="fail",
                                   next_step=step))
            return
        self.say(f"{data.dish} {shown} 合格 / OK", level="ok", log_text=f"core temperature ok id={saved.id}",
                 screen=Screen("verdict", name=session.staff.name, reading=shown, verdict="pass"))
        log.info("core temperature recorded station=%s dish=%s id=%s", self.station.id, data.dish, saved.id)
        session.dish = None  # the next dish is picked at the keypad

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            self.session = None
