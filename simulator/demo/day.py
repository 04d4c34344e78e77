"""The demo's scripted canteen day, from the 06:00 delivery to the ledger at day end.

Times are local times on the demo day. People at stations act while the clock is
frozen (each step advances it by the seconds it takes), so the stations' windows hold
however busy the machine is; equipment runs (cabinet cycles, UV, the failing fridge)
play at ``busy_speed`` so every curve is polled every ~30-60 simulated seconds (while
cabinets and UV/ozone run, the clock waits for the agent's readings of them rather than
run more than ``READINGS_AHEAD_S`` past: ``DemoClock.leash``); idle
hours are jumped over (``--fast``) or run at ten times ``busy_speed``.

    06:20  a delivery of rice is received and weighed
    06:30  morning check of the roster: 王五 has a fever (alarm), re-checked 10 min later;
           the manager resolves the alarm at the kitchen console (rectification, fit again)
    07:10  breakfast samples, 07:20 the headmaster's meal check-in
    08:31  the manager registers breakfast served; 08:40 cabinet-1 disinfects the tableware;
           09:12 the routine daily check at the console (one item failed); 09:20 the data
           administrator enters 张三's renewed health certificate (a basic-data change)
    09:40  an inspector from the market regulator finds the sample fridge unlocked: a
           rectification task (整改单); the manager fixes it by 10:10, the food-safety
           lead (oversight) verifies it at 10:20
    10:30  18 kg of the morning's rice is issued from stock to lunch (出库, the stock page)
    11:35  the kitchen camera sees a cook take the mask off (violation, snapshot and clip)
    11:40  the broker goes down; lunch samples (红烧肉 underweight, then topped up) and two
           leaders' check-ins pile up in the outbox; the broker comes back and it drains
    13:10  cabinet-1 passes, cabinet-2 is cut short (failed cycle, alarm)
    14:00  the sample fridge's compressor dies: cold-chain alarm; repaired at 15:00, cleared;
           the data administrator enters the repair on the fridge's asset page
    15:45  the glasses for the staff canteen soaked by hand in chlorine (250 mg/L, 6 min)
    17:10  dinner samples and check-in; 18:40 both cabinets pass; UV and ozone runs;
           19:30 a waste disposal entered at the console
    23:55  the daily ledger
"""

from __future__ import annotations

import logging
import math
import threading
import time as systime
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from agent.cli.schedule import CLI_SOURCE
from agent.records.envelope import Operator
from agent.records.meal_service import MealService
from simulator.demo.console import ConsoleManager
from simulator.demo.kitchen import DemoClock, KitchenCamera, SerialKit, seconds_of
from simulator.devices.modbus_physics import (
    CabinetCycle,
    DisinfectionCabinetModel,
    FailingFridgeModel,
    FridgeModel,
    RunContactsModel,
    freezer_model,
)
from simulator.devices.modbus_scenarios import SimDevice

if TYPE_CHECKING:
    from agent.app import Agent
    from agent.config_file.model import AgentConfig
    from agent.core.feedback import MemoryOutput
    from simulator.demo.kitchen import DemoClock, KitchenCamera, SerialKit
    from simulator.demo.video import DemoVideo
    from simulator.platform.platform import Platform

log = logging.getLogger("simulator.demo")


class Rig(Protocol):
    """What the day needs of the demo's rig (``simulator.demo.run.Rig``: broker, platform, agent, devices)."""

    clock: DemoClock
    kit: SerialKit
    camera: KitchenCamera
    stop: threading.Event
    screen: MemoryOutput
    config: AgentConfig | None
    agent: Agent | None
    platform: Platform | None
    video: DemoVideo | None
    busy_devices: list[str]

    def event(self, text: str) -> None: ...

    def phase(self, name: str) -> None: ...

    def broker_down(self) -> None: ...

    def broker_up(self) -> None: ...


def at(hhmm: str) -> float:
    """Seconds since midnight of ``HH:MM``."""
    return seconds_of(time.fromisoformat(hhmm))


# --- equipment: what the Modbus devices do during the day -------------------------------------

BREAKFAST_CYCLE, LUNCH_CYCLE, DINNER_CYCLE = at("08:40"), at("13:10"), at("18:40")
FRIDGE_FAILS, FRIDGE_REPAIRED = at("14:00"), at("15:00")
UV_START, UV_MINUTES, OZONE_MINUTES = at("18:45"), 40, 35
# while equipment runs, the clock never gets further than this past the agent's last reading
# of a cabinet or the run contacts (the agent counts nothing across a gap of more than 120 s)
READINGS_AHEAD_S = 90.0


def demo_cycle(start_s: float, **kwargs: Any) -> CabinetCycle:
    """A cabinet run: ~6 min heating to 125 °C, 12 min hold (10 min required)."""
    return CabinetCycle(start_s=start_s, heat_c_per_s=0.25, hold_s=720, **kwargs)


@dataclass
class RepairedFridgeModel(FailingFridgeModel):
    """The compressor dies at ``fail_at_s`` and is repaired at ``repaired_at_s``: it cools back."""

    repaired_at_s: float = 0.0
    cool_tau_s: float = 600.0

    def temperature_c(self, t: float) -> float:
        if t < self.repaired_at_s:
            return super().temperature_c(t)
        warm_extra = super().temperature_c(self.repaired_at_s) - FridgeModel.temperature_c(self, self.repaired_at_s)
        return FridgeModel.temperature_c(self, t) + warm_extra * math.exp(-(t - self.repaired_at_s) / self.cool_tau_s)


def kitchen_line_devices() -> list[SimDevice]:
    """The RS-485 line (slave ids as in config/demo.yaml)."""
    doors = [(at("07:05"), 120), (at("11:20"), 180), (at("16:50"), 120)]  # back within the grace
    cabinet_ambient = {"ambient_c": 24.0, "cool_tau_s": 300.0}
    return [
        SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel(door_openings=doors)),
        SimDevice("fridge-2", 2, "xy-md02", "fridge",
                  RepairedFridgeModel(fail_at_s=FRIDGE_FAILS, repaired_at_s=FRIDGE_REPAIRED)),
        SimDevice("freezer-1", 3, "rs-ws-n01", "freezer", freezer_model()),
        SimDevice("cabinet-1", 4, "cabinet-pt100", "cabinet", DisinfectionCabinetModel(
            [demo_cycle(BREAKFAST_CYCLE), demo_cycle(LUNCH_CYCLE), demo_cycle(DINNER_CYCLE)], **cabinet_ambient)),
        # lunch: the door is opened 4 minutes into the hold, the run is cut short
        SimDevice("cabinet-2", 5, "cabinet-pt100", "cabinet", DisinfectionCabinetModel(
            [demo_cycle(LUNCH_CYCLE, cut_after_s=(125 - 24) / 0.25 + 240), demo_cycle(DINNER_CYCLE)],
            **cabinet_ambient)),
    ]


def store_gateway_devices() -> list[SimDevice]:
    """The run-contact module behind the TCP gateway: input 1 UV lamp, input 2 ozone."""
    return [SimDevice("contacts-1", 1, "di-module-4ch", "uv_lamp", RunContactsModel({
        "run": [(UV_START, UV_MINUTES * 60)], "run_2": [(UV_START, OZONE_MINUTES * 60)]}))]


# --- the people ----------------------------------------------------------------------------------

CARDS = {"S001": "0004212345", "S002": "0004212346", "S003": "0004212347", "S004": "0004212348",
         "S005": "0004212349", "M001": "0004212350", "L001": "0009990001", "L002": "0009990002"}
# (staff, temperature, keypad answer or None)
MORNING = [("S001", 36.5, "0"), ("S002", 36.6, None), ("S003", 37.9, None), ("S004", 36.4, "0"),
           ("S005", 36.7, None), ("M001", 36.3, "0")]
FEVER_RECHECK = ("S003", 37.0)
SAMPLES = {  # meal -> (operator, [grams per weighing]); a dish stays selected after an underweight one
    "breakfast": ("S001", [130.0, 128.0, 135.0]),
    "lunch": ("S002", [131.0, 98.0, 140.0, 127.0]),
    "dinner": ("S004", [133.0, 129.0]),
}
DINERS = {"breakfast": 420, "lunch": 812, "dinner": 790}


class Interrupted(Exception):
    """Ctrl-C (or a stop request) during the day."""


class DayScript:
    """Plays the day on a running ``Rig``; ``run()`` returns when the ledger is written."""

    def __init__(self, rig: Rig, *, busy_speed: float, jump_idle: bool, outage_s: float = 6.0) -> None:
        self.rig = rig
        self.clock = rig.clock
        self.kit = rig.kit
        self.busy_speed = busy_speed
        self.idle_speed = busy_speed * 10
        self.jump_idle = jump_idle
        self.outage_s = outage_s
        self.vision_thread: threading.Thread | None = None
        self.manager: ConsoleManager | None = None  # the manager at the kitchen console
        self.lead: ConsoleManager | None = None  # the food-safety lead (oversight) at the console
        self.admin: ConsoleManager | None = None  # the data administrator at the kitchen console

    # --- time ------------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        if self.rig.stop.wait(seconds):
            raise Interrupted

    def until(self, predicate: Callable[[], object], what: str, timeout: float = 20.0) -> Any:
        deadline = systime.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if systime.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.sleep(0.05)

    def run_to(self, hhmm: str, speed: float, *, paced: bool = False) -> None:
        """Let the clock run at ``speed`` until ``hhmm``, then freeze it. ``paced``: while
        cabinets and UV/ozone run, their readings pace it: it waits for the agent's poll
        rather than run past it (a busy machine makes the day slower, never a cycle's
        readings further apart)."""
        target = at(hhmm)
        with self.clock.leash(self.rig.busy_devices if paced else (), READINGS_AHEAD_S):
            self.clock.set_speed(speed)
            try:
                while self.clock.seconds() < target:
                    self.sleep(min(0.05, max(0.005, (target - self.clock.seconds()) / speed)))
            finally:
                self.clock.set_speed(0.0)

    def idle_to(self, hhmm: str) -> None:
        """Nothing happens until ``hhmm``: jump (fast mode) or run at the idle speed."""
        if self.jump_idle:
            self.clock.jump_to(time.fromisoformat(hhmm))
            self.sleep(0.3)  # the next polls carry the new time
        else:
            self.run_to(hhmm, self.idle_speed)

    def step(self, seconds: float) -> None:
        """A person's action takes ``seconds`` of the (frozen) day."""
        self.clock.advance(seconds)

    # --- stations ------------------------------------------------------------------------

    def said(self, station: str, needle: str, after: int, timeout: float = 15.0) -> str:
        screen = self.rig.screen
        found = screen.wait_for(lambda m: m.station == station and needle in m.text, timeout, after)
        if found is None:
            if self.rig.stop.is_set():
                raise Interrupted
            raise TimeoutError(f"station {station} never said {needle!r}; last: {screen.texts(station)[-3:]}")
        return found.text

    def mark(self) -> int:
        return len(self.rig.screen.messages)

    def morning_check(self, staff: str, celsius: float, answer: str | None) -> str:
        self.step(40)
        mark = self.mark()
        self.kit.badge_mc.scan(CARDS[staff])
        self.said("mc-1", "请测温", mark)
        if answer is not None:
            self.kit.keypad_mc.write(f"{answer}\r\n".encode())
            self.said("mc-1", "已记录回答", mark)
        self.kit.thermo_mc.present(celsius)
        text = self.said("mc-1", "°C", mark)
        self.kit.thermo_mc.away()
        self.sleep(0.2)  # the sensor sees the room again before the next person
        return text

    def samples(self, meal: str) -> None:
        operator, weights = SAMPLES[meal]
        self.step(30)
        mark = self.mark()
        self.kit.badge_fs.scan(CARDS[operator])
        self.said("fs-1", "留样", mark)
        for grams in weights:
            self.step(45)
            mark = self.mark()
            self.kit.scale_fs.place(grams)
            self.rig.event(self.said("fs-1", f"{grams:.0f} g", mark))
            self.kit.scale_fs.clear()
            self.sleep(0.6)  # the pan settles empty: the next dish is a new placement

    def leader_checkin(self, staff: str) -> None:
        self.step(20)
        mark = self.mark()
        self.kit.badge_ck.scan(CARDS[staff])
        self.rig.event(self.said("ck-1", "/", mark))

    def receive_delivery(self) -> None:
        day = self.clock.midnight.date()
        self.step(30)
        mark = self.mark()
        self.kit.badge_rc.scan(CARDS["M001"])
        self.said("rc-1", "进货查验", mark)
        produced = (day - timedelta(days=9)).strftime("%Y%m%d")
        for answer in ("1", "6901234567892", "B2611-07", produced, "+365"):  # item: the bag's GTIN
            self.step(15)
            mark = self.mark()
            self.kit.keypad_rc.write(f"{answer}\r\n".encode())
            self.said("rc-1", "", mark)
        self.step(20)
        mark = self.mark()
        self.kit.scale_rc.place(25_040.0)
        self.rig.event(self.said("rc-1", "验收", mark))
        self.kit.scale_rc.clear()

    def console_manager(self) -> ConsoleManager:
        """The manager logs in to the kitchen console (once)."""
        if self.manager is None:
            self.manager = ConsoleManager.create(self.rig.agent, "M001", "demo-manager-pass")
        return self.manager

    def issue_to_lunch(self) -> None:
        """The morning's rice goes from the store room to lunch (出库, on the stock page)."""
        [receipt] = [r for r in self.rig.agent.store.iter_records(type_="ingredient_purchase")][-1:]
        self.console_manager().issue(receipt["id"], 18_000, "lunch", "米饭")
        self.rig.event("manager (console): 18 kg of the morning's rice issued to lunch")

    def data_admin(self) -> ConsoleManager:
        """The data administrator (食安资料管理员) logs in to the kitchen console (once)."""
        if self.admin is None:
            self.admin = ConsoleManager.create(self.rig.agent, "A001", "demo-admin-pass", role="data_admin")
        return self.admin

    def renew_certificate(self) -> None:
        """张三 brings his renewed health certificate: one basic-data change, sent to the platform."""
        day = self.clock.midnight.date()
        self.data_admin().change_person("S001", {
            "name": "张三", "post": "cook", "badges": "0004212345", "health_cert_no": "HC510104-2026-0001",
            "health_cert_valid_until": day.replace(year=day.year + 1).isoformat()})
        self.rig.event("data administrator (console): 张三's renewed health certificate entered (basic_data)")

    def fridge_repair(self) -> None:
        """The technician's repair of the sample fridge, entered on its asset page."""
        self.data_admin().maintenance("fridge-2", {
            "work": "repair", "work_done": "更换压缩机启动电容，复测制冷正常", "done_by": "制冷维修 刘师傅",
            "next_due": (self.clock.midnight.date() + timedelta(days=90)).isoformat()})
        self.rig.event("data administrator (console): fridge-2's repair entered (asset_maintenance)")

    def resolve_fever(self) -> None:
        self.console_manager().rectify("fever", "复测正常，无其他症状，经主管确认今日恢复上岗", restore_fitness=True)
        self.rig.event("manager (console): fever alarm resolved, fitness restored after the re-check")

    def routine_daily_check(self) -> None:
        items = len(self.rig.config.console.daily_check_items)
        self.console_manager().daily_check(items, failed={items - 1: "后门垃圾桶未加盖，已整改"})
        self.rig.event("manager (console): routine daily check, 1 item failed")

    def inspection_to_verified(self) -> None:
        """An inspector's finding becomes a task; done and verified the same morning."""
        manager = self.console_manager()
        before = set(manager.tasks())
        manager.inspection("钱科长", "区市场监管局", "留样柜未上锁")
        [task_id] = [t for t in manager.tasks("opened") if t not in before]
        self.rig.event("inspector (console): sample fridge found unlocked, a rectification task opened")
        self.idle_to("10:10")
        manager.task_done(task_id, "留样柜已加锁，钥匙由主管保管")
        self.rig.event("manager (console): rectification done (sample fridge locked)")
        self.idle_to("10:20")
        self.oversight().verify(task_id, "现场查看已加锁，合格")
        self.rig.event("food-safety lead (console): rectification verified")

    def oversight(self) -> ConsoleManager:
        """The food-safety lead logs in (the oversight role) to verify rectifications."""
        if self.lead is None:
            self.lead = ConsoleManager.create(self.rig.agent, "O001", "demo-oversight-pass", role="oversight")
        return self.lead

    def chlorine_soak(self) -> None:
        self.console_manager().chlorine_soak(250, 6, "lunch")
        self.rig.event("manager (console): glasses soaked by hand in chlorine, 250 mg/L for 6 min (pass)")

    def waste_disposal(self) -> None:
        self.console_manager().waste("kitchen_waste", 46.5, "城市餐厨垃圾收运公司", "RC-0001")
        self.rig.event("manager (console): 46.5 kg kitchen waste handed to the collector")

    def register_meal(self, meal: str) -> None:
        """The manager registers the meal served (what ``canteen-agent meal`` writes)."""
        dishes = [d.name for d in self.rig.config.site.menu if meal in d.meals]
        data = MealService(meal=meal, served_on=self.clock.midnight.date(), diners=DINERS[meal], dishes=dishes)
        self.rig.agent.recorder.record(data, occurred_at=self.clock(), source=CLI_SOURCE,
                                       operator=Operator(staff_id="M001"))
        self.rig.event(f"manager: {meal} served, {DINERS[meal]} diners")

    # --- the camera, in real time ------------------------------------------------------------

    def start_mask_episode(self) -> None:
        """A cook in a mask, the mask off for ~12 s, back on, gone: on its own thread."""
        camera = self.rig.camera
        video = self.rig.video
        if video is not None:  # the platform watches the kitchen for a minute
            self.rig.event(video.relay(self.rig.platform, self.rig.config.identity.agent_id))
            video.episode_played(datetime.now(UTC), 21.0)

        def play() -> None:
            for person, seconds in (("with_mask", 3.0), ("without_mask", 12.0), ("with_mask", 6.0), (None, 0.0)):
                camera.show(person)
                if self.rig.stop.wait(seconds):
                    return

        self.vision_thread = threading.Thread(target=play, name="demo-camera-episode", daemon=True)
        self.vision_thread.start()
        self.rig.event("camera: a cook takes the mask off for a while")

    def fetch_video(self) -> None:
        """The inspector asks for the mask episode's video; the minute's relay is over by then."""
        video, rig = self.rig.video, self.rig
        if video is None:
            return
        speed = self.clock.speed
        self.clock.set_speed(0.0)  # real-time waits: the day holds still meanwhile
        try:
            agent_id = rig.config.identity.agent_id
            rig.event(video.fetch(rig.platform, agent_id))
            for line in video.gb_live_and_playback():
                rig.event(line)
            rig.event(video.wait_relay(rig.stop))
        finally:
            self.clock.set_speed(speed)

    # --- the day -------------------------------------------------------------------------------

    def begin(self, phase: str, hhmm: str) -> None:
        """Move to ``hhmm`` (jump or idle speed), then announce the phase."""
        self.idle_to(hhmm)
        self.rig.phase(phase)

    def run(self) -> None:
        rig = self.rig
        self.begin("delivery", "06:20")
        self.receive_delivery()

        self.begin("morning check", "06:30")
        for staff, celsius, answer in MORNING:
            rig.event(self.morning_check(staff, celsius, answer))
        self.step(600)
        rig.event(self.morning_check(*FEVER_RECHECK, None))
        self.resolve_fever()

        self.begin("breakfast", "07:10")
        self.samples("breakfast")
        self.idle_to("07:20")
        self.leader_checkin("L001")
        self.idle_to("08:31")
        self.register_meal("breakfast")

        self.begin("tableware (breakfast)", "08:35")
        self.run_to("09:12", self.busy_speed, paced=True)
        self.routine_daily_check()
        self.idle_to("09:20")
        self.renew_certificate()

        self.begin("inspection", "09:40")
        self.inspection_to_verified()

        self.begin("store room", "10:30")
        self.issue_to_lunch()

        self.begin("lunch prep", "11:35")
        self.start_mask_episode()
        self.sleep(1.0)
        self.begin("broker outage", "11:40")
        rig.broker_down()
        outage_started = systime.monotonic()
        self.idle_to("11:45")
        self.samples("lunch")
        self.idle_to("12:00")
        self.leader_checkin("L001")
        self.leader_checkin("L002")
        self.sleep(max(0.0, self.outage_s - (systime.monotonic() - outage_started)))
        rig.broker_up()
        rig.phase("lunch (broker back)")
        self.idle_to("13:01")
        self.register_meal("lunch")

        self.begin("tableware (lunch)", "13:05")
        self.run_to("13:42", self.busy_speed, paced=True)

        self.begin("sample fridge fails", "13:55")
        self.run_to("15:40", max(self.busy_speed, 600.0))
        self.fridge_repair()

        self.begin("soak by hand", "15:45")
        self.chlorine_soak()

        self.begin("dinner", "17:10")
        self.samples("dinner")
        self.idle_to("17:20")
        self.leader_checkin("L001")
        self.idle_to("18:31")
        self.register_meal("dinner")

        self.begin("tableware (dinner), UV, ozone", "18:35")
        self.run_to("19:30", self.busy_speed, paced=True)
        self.waste_disposal()

        self.begin("day end", "23:55")
        self.fetch_video()
        self.clock.set_speed(10.0)
        try:
            self.until(lambda: any(rig.agent.store.iter_records(type_="daily_ledger", limit=1)),
                       "the daily ledger", timeout=30)
        finally:
            self.clock.set_speed(0.0)
        if self.vision_thread is not None:
            self.vision_thread.join(30)
