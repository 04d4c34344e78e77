"""Food samples (留样): operator badge → meal and dish → stable weight → ``food_sample``.

- The meal is the one whose window contains the badge time (``StationWorkflow.meal_at``:
  from ``meal_margin_min`` before its start to its end or sample deadline). Outside
  every meal window nothing starts (``不在餐次时间``).
- The dishes are today's menu for that meal: the platform's (store key ``menu``:
  ``{"day": "YYYY-MM-DD", "meals": {"lunch": [...]}}``) when it sent one for today, else
  ``site.menu``. With no menu at all dishes are numbered (``菜品1``, ``菜品2`` ...).
- Keypad: ``n`` picks dish n (1-based; any n when dishes are numbered), ``0`` ends the
  session. Without a pick, a weight goes to the *next unsampled dish*: the first dish of
  the meal with no passing sample today.
- A stable weight (less the station's ``tare_g``) becomes a record with the verdict
  against ``rules.food_sample.min_grams`` and ``kept_until`` = sampling time +
  ``keep_hours``. An underweight sample is recorded (it was weighed) and the dish stays
  selected, so topping it up and weighing again records the passing sample beside it.
- The session stays open for the next dish and ends after ``session_timeout_s`` idle,
  on ``0`` at the keypad, or when another badge starts one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.records.food_sample import FoodSample
from agent.stations.base import Staff, WeighingWorkflow, meal_label
from agent.stations.food_sample.config import FoodSampleConfig
from drivers.readings import BadgeScan, StableWeight, TextInput

log = logging.getLogger("agent.workflows.food_sample")


@dataclass
class Session:
    staff: Staff
    meal: str
    day: str
    dishes: list[str]  # empty: numbered dishes
    deadline: datetime
    chosen: str | None = None


class FoodSampleStation(WeighingWorkflow[FoodSampleConfig]):
    kind = "food_sample"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.rules = self.config.rules.food_sample
        self.session: Session | None = None

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        meal = self.meal_at(scan.at)
        if meal is None:
            self.session = None
            self.say("不在餐次时间，无法留样 / no meal now", level="warn")
            return
        day = self.day_of(scan.at)
        self.session = Session(staff, meal, day, self.dishes(meal, day), self.session_deadline(scan.at))
        self.say(f"{staff.name} {meal_label(meal)}留样：{self._next_prompt(self.session)}",
                 log_text=f"food sample started staff={staff.staff_id} meal={meal}")

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None:
            return
        if text == "0":
            self.session = None
            self.say("留样结束 / done")
            return
        if not text.isdigit() or int(text) < 1 or (session.dishes and int(text) > len(session.dishes)):
            count = len(session.dishes) or "n"
            self.say(f"请输入菜品编号 1-{count} / dish number", level="warn")
            return
        session.chosen = self._dish_name(session, int(text))
        self.say(f"请放 {session.chosen} / place {text}")

    def on_weight(self, reading: StableWeight) -> None:
        weighed = self.weighing_session(reading)
        if weighed is None:
            return
        session, grams = weighed
        dish = session.chosen or self._next_unsampled(session)
        if dish is None:
            self.say("本餐菜品已全部留样，如需补样请输入菜品编号 / all dishes sampled", level="warn")
            return
        keep = timedelta(hours=self.rules.keep_hours)
        at = reading.at.astimezone(self.tz)
        data = FoodSample(meal=session.meal, dish=dish, grams=grams, min_grams=self.rules.min_grams,
                          sampled_at=at, kept_until=at + keep, fridge_id=self.station.fridge_id)
        saved = self.record(data, occurred_at=at, source=self.source("scale"),
                            operator=session.staff.operator)
        if grams < self.rules.min_grams:
            session.chosen = dish  # top it up and weigh again: the same dish
            self.say(f"{dish} {grams:.0f} g 不足 {self.rules.min_grams:.0f} g，请补足后重新称量 / underweight",
                     level="error")
        else:
            session.chosen = None
            self.say(f"{dish} {grams:.0f} g 合格，留样至 {at + keep:%m-%d %H:%M} / kept until; "
                     f"{self._next_prompt(session)}", level="ok")
        log.info("food sample recorded station=%s meal=%s id=%s", self.station.id, session.meal, saved.id)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            self.session = None
            self.say("留样结束 / sampling session ended")

    # --- dishes ----------------------------------------------------------------------


    def _dish_name(self, session: Session, number: int) -> str:
        return session.dishes[number - 1] if session.dishes else f"菜品{number}"

    def _sampled(self, session: Session) -> set[str]:
        """Dishes of this meal with a passing sample today."""
        return {r["data"]["dish"] for r in self.records_today("food_sample", session.day)
                if r["data"]["meal"] == session.meal and r.get("verdict") == "pass"}

    def _next_unsampled(self, session: Session) -> str | None:
        done = self._sampled(session)
        if not session.dishes:
            n = 1
            while f"菜品{n}" in done:
                n += 1
            return f"菜品{n}"
        return next((d for d in session.dishes if d not in done), None)

    def _next_prompt(self, session: Session) -> str:
        dish = self._next_unsampled(session)
        if dish is None:
            return "本餐已全部留样 / all dishes sampled"
        return f"请放 {dish} / place next dish"
