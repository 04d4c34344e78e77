"""A demo canteen for the schedule tests: roster, menu, rooms, and record helpers that
write through the Recorder exactly as the workflows do."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.app import Agent
from agent.config_file.model import AgentConfig
from agent.core.feedback import Feedback, MemoryOutput
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.records.food_sample import FoodSample
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.leader_meal import LeaderMeal
from agent.records.premises_disinfection import PremisesDisinfection
from agent.records.staff_health_check import StaffHealthCheck
from agent.records.tableware_disinfection import ThermalDisinfection
from tests.conftest import make_config

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)  # a Monday, in the past so the CLI accepts it

STAFF = [
    {"staff_id": "S001", "name": "张三", "badges": ["B001"], "health_cert_expires_on": "2027-06-01"},
    {"staff_id": "S002", "name": "李四", "badges": ["B002"], "health_cert_expires_on": "2027-03-01"},
    {"staff_id": "S003", "name": "王五", "badges": ["B003"], "health_cert_expires_on": "2026-11-28"},
    {"staff_id": "S004", "name": "赵六", "badges": ["B004"], "role": "helper"},
    {"staff_id": "S005", "name": "钱七", "badges": ["B005"], "on_duty": False},
    {"staff_id": "L01", "name": "周校长", "badges": ["B100"], "role": "principal", "on_duty": False},
]
MENU = [
    {"name": "米饭"},
    {"name": "包子", "meals": ["breakfast"]},
    {"name": "豆浆", "meals": ["breakfast"]},
    {"name": "番茄炒蛋", "meals": ["lunch"]},
    {"name": "青菜", "meals": ["lunch", "dinner"]},
]


def schedule_sections(**overrides: Any) -> dict[str, Any]:
    sections: dict[str, Any] = {
        "site": {"staff": STAFF, "menu": MENU, "suppliers": {"绿源蔬菜": "2026-12-20"}},
        "schedules": {"uv_rooms": ["kitchen", "storeroom"], "missed_job_grace_s": 1800},
    }
    sections.update(overrides)
    return sections


def schedule_config(tmp_path: Path, **overrides: Any) -> AgentConfig:
    return make_config(tmp_path, **schedule_sections(**overrides))


def write_config_yaml(tmp_path: Path, **overrides: Any) -> Path:
    """The same config as a file, for the CLI (JSON is valid YAML)."""
    data = {"identity": {"agent_id": "test-agent", "school_id": "5101040042", "canteen_id": "k1"},
            "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")}}
    data.update(schedule_sections(**overrides))
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def at(hh_mm: str, day: date = DAY) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=TZ)


class Canteen:
    """An agent on a manual clock, restartable on the same database."""

    def __init__(self, config: AgentConfig, start: datetime) -> None:
        self.config = config
        self.clock = ManualClock(start)
        self.said = MemoryOutput()
        self.agent: Agent | None = None
        self.start()

    def start(self) -> Agent:
        """A fresh Agent on the same store, as after a power cut (nothing kept in memory)."""
        self.agent = Agent(self.config, now=self.clock, monotonic=self.clock.monotonic)
        self.agent.schedule_engine.notify = Feedback([self.said], self.clock).say
        return self.agent

    def restart(self, at_time: datetime | None = None) -> Agent:
        self.stop()
        if at_time is not None:
            self.clock.set(at_time)
        return self.start()

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.store.close()
            self.agent = None

    @property
    def recorder(self) -> Recorder:
        assert self.agent is not None
        return self.agent.recorder

    @property
    def store(self):
        assert self.agent is not None
        return self.agent.store

    def tick(self, when: datetime | None = None):
        if when is not None:
            self.clock.set(when)
        return self.agent.schedule_engine.tick(self.clock())

    # --- what the workflows would record ----------------------------------------------

    def check(self, staff_id: str, when: datetime, temperature: float = 36.5) -> None:
        self.recorder.record(StaffHealthCheck(staff_id=staff_id, temperature_c=temperature,
                                              normal_range_c=(35.9, 37.3)), occurred_at=when)

    def sample(self, meal: str, dish: str, when: datetime, grams: float = 130) -> None:
        keep = timedelta(hours=self.config.rules.food_sample.keep_hours)
        self.recorder.record(FoodSample(meal=meal, dish=dish, grams=grams, min_grams=125, sampled_at=when,
                                        kept_until=when + keep), occurred_at=when)

    def leader(self, meal: str, when: datetime) -> None:
        self.recorder.record(LeaderMeal(meal=meal, staff_id="L01", name="周校长", role="principal"),
                             occurred_at=when)

    def disinfect(self, start: datetime, minutes: float = 20, meal: str | None = None,
                  peak: float = 125) -> None:
        end = start + timedelta(minutes=minutes)
        self.recorder.record(ThermalDisinfection(
            device_id="cab-1", method="infrared_cabinet", started_at=start, ended_at=end, target_c=120,
            required_s=600, peak_c=peak, seconds_at_target=minutes * 60 - 300, meal=meal), occurred_at=end)

    def uv(self, room: str, start: datetime, minutes: float = 40) -> None:
        end = start + timedelta(minutes=minutes)
        self.recorder.record(PremisesDisinfection(
            device_id=f"uv-{room}", room=room, method="uv_lamp", started_at=start, ended_at=end,
            minutes=minutes, target_minutes=30), occurred_at=end)

    def purchase(self, item: str, expiry: date, when: datetime, supplier: str = "粮油公司",
                 licence: date | None = None, grams: float | None = 25000) -> str:
        return self.recorder.record(IngredientPurchase(
            supplier=supplier, item=item, batch="B7", expiry_date=expiry, grams=grams,
            supplier_licence_expires_on=licence), occurred_at=when).id

    # --- what was raised ----------------------------------------------------------------

    def alarm_events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every alarm record (raise and clear), in order."""
        return [r["data"] for r in self.store.iter_records(type_="alarm")
                if kind is None or r["data"]["kind"] == kind]

    def open_keys(self) -> set[str]:
        return {row["key"] for row in self.store.open_alarms()}
