"""整改单, incidents, drills, training and manual disinfection: the record kinds, their rules,
and a task's life through the Recorder on an injected clock, each step valid for the platform."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta

import pytest

from agent.config_file.model import AgentConfig
from agent.core.recorder import Photo, Recorder
from agent.core.tasks import OVERDUE_ALARM, TaskDesk, TaskMoved, all_tasks, find_task
from agent.core.timeutil import ManualClock
from agent.records.base import judge
from agent.records.drill import Drill, Participant
from agent.records.incident_report import IncidentReport
from agent.records.premises_disinfection import PremisesDisinfection
from agent.records.registry import RECORD_TYPES, priority_of
from agent.records.routine_daily_check import ChecklistItem, RoutineDailyCheck
from agent.records.superior_inspection import SuperiorInspection
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.records.training_session import Attendee, TrainingSession
from agent.store import Priority, Store
from simulator.platform.validate import SchemaValidator

from .conftest import TZ

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def soak(minutes: float, mg: float = 250) -> ThermalDisinfection:
    return ThermalDisinfection(device_id="manual", method="chlorine", started_at=T0,
                               ended_at=T0 + timedelta(minutes=minutes), chlorine_mg_per_l=mg,
                               immersion_min=minutes, by_hand=True, recorded_by="boss")


@pytest.mark.parametrize(("minutes", "mg", "verdict", "findings"), [
    (4, 250, "fail", ["immersion_too_short"]),
    (5, 250, "pass", []),
    (6, 250, "pass", []),
    (6, 200, "fail", ["chlorine_below_target"]),
])
def test_a_chlorine_soak_is_held_to_250_mg_per_l_for_5_minutes(config: AgentConfig, minutes, mg, verdict,
                                                               findings) -> None:
    judgement = judge(soak(minutes, mg), config.rules, T0)
    assert (judgement.verdict, judgement.findings) == (verdict, findings)


def test_spraying_by_hand_is_held_to_its_concentration_and_contact_time(config: AgentConfig) -> None:
    def spray(minutes: float, mg: float) -> PremisesDisinfection:
        return PremisesDisinfection(device_id="manual", room="kitchen", method="spray", started_at=T0,
                                    ended_at=T0 + timedelta(minutes=minutes), minutes=minutes, target_minutes=30,
                                    agent="含氯消毒液", concentration_mg_per_l=mg, min_concentration_mg_per_l=250,
                                    area="操作台")
    assert judge(spray(30, 500), config.rules, T0).verdict == "pass"
    assert judge(spray(20, 500), config.rules, T0).findings == ["contact_too_short"]
    assert judge(spray(30, 100), config.rules, T0).findings == ["concentration_below_target"]


def test_an_incident_queues_ahead_of_every_class() -> None:
    assert priority_of("incident_report") == "urgent"
    assert list(Priority)[0] is Priority.URGENT
    for kind in ("rectification_task", "incident_report", "drill", "training_session"):
        assert kind in RECORD_TYPES and kind in SchemaValidator().record_types


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def recorder(config: AgentConfig, clock: ManualClock) -> Recorder:
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, clock)
    store.close()


def test_a_failed_daily_check_item_opens_one_task_that_lives_to_verified(recorder: Recorder,
                                                                         clock: ManualClock) -> None:
    check = recorder.record(RoutineDailyCheck(items=[ChecklistItem(item="地面清洁", ok=True),
                                                     ChecklistItem(item="冰箱温度", ok=False, note="冷藏柜 10 °C")]))
    desk = TaskDesk(recorder)
    [opened] = desk.open_from(check, by="boss")
    assert desk.open_from(check, by="boss") == []  # once per finding
    task = find_task(recorder.reads, opened.data.task_id)
    assert task is not None and task.state(clock()) == "opened"
    assert opened.data.owner == "manager" and opened.data.source_id == check.id
    assert opened.data.deadline == T0 + timedelta(hours=24) and "冰箱温度" in opened.data.problem

    clock.advance(timedelta(hours=25))
    assert task.state(clock()) == "overdue"
    assert desk.sync_overdue() == ([f"{OVERDUE_ALARM}|task_id={task.id}"], [])
    assert [a["kind"] for a in recorder.reads.open_alarms()] == [OVERDUE_ALARM]
    with pytest.raises(TaskMoved):
        desk.verify(task.id, by="lead")  # not done yet

    desk.done(task.id, "调整温控后复测 4 °C", by="boss", photo=Photo(PNG, "image/png", ".png"))
    assert recorder.reads.open_alarms() == []  # the overdue alarm's condition cleared
    desk.verify(task.id, by="lead", note="复查合格")
    task = find_task(recorder.reads, task.id)
    assert [s["data"]["step"] for s in task.steps] == ["opened", "done", "verified"]
    assert task.steps[1]["media"][0]["role"] == "photo"
    validator = SchemaValidator()
    for step in task.steps:
        payload = {k: v for k, v in step.items() if not k.startswith("_")}
        assert validator.problem("rectification_task", payload) is None


def test_two_people_verifying_at_once_move_the_task_once(recorder: Recorder) -> None:
    desk = TaskDesk(recorder)
    opened = desk.open(source_type="by_hand", problem="洗手池无洗手液", by="boss")
    desk.done(opened.data.task_id, "已补充", by="boss")
    results: list[object] = []

    def verify() -> None:
        try:
            results.append(desk.verify(opened.data.task_id, by="lead"))
        except TaskMoved as exc:
            results.append(exc)

    threads = [threading.Thread(target=verify) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if not isinstance(r, TaskMoved)) == 1
    assert [s["data"]["step"] for s in all_tasks(recorder.reads)[0].steps] == ["opened", "done", "verified"]


def test_inspection_findings_drills_and_incidents_open_tasks(recorder: Recorder) -> None:
    desk = TaskDesk(recorder)
    inspection = recorder.record(SuperiorInspection(inspector_id="I9", name="李", organisation="区市场监管局",
                                                    findings_text="留样柜未上锁\n- 消毒记录不全"))
    assert [t.data.problem for t in desk.open_from(inspection, by="boss")] == ["留样柜未上锁", "消毒记录不全"]
    drill = recorder.record(Drill(scenario="燃气泄漏应急预案", held_at=T0, minutes=30, recorded_by="boss",
                                  participants=[Participant(staff_id="S001", via="badge"),
                                                Participant(staff_id="S002", via="badge")],
                                  findings=["疏散通道堆放杂物"]))
    assert len(desk.open_from(drill, by="boss")) == 1
    incident = recorder.record(IncidentReport(kind="foreign_object", what="米饭中发现头发", where="一楼餐厅",
                                              happened_at=T0, people_affected=1, reported_by="boss"))
    [task] = desk.open_from(incident, by="boss")
    assert task.data.deadline == T0 + timedelta(hours=4)
    session = recorder.record(TrainingSession(topic="食品安全法", trainer="李老师", held_at=T0, hours=2,
                                              recorded_by="boss",
                                              attendees=[Attendee(staff_id="S001", result="pass", score=92)]))
    assert desk.open_from(session, by="boss") == []
    assert json.loads(incident.payload)["type"] == "incident_report"


def test_the_sweep_opens_tasks_for_failed_cycles_cold_chain_and_repeated_violations_once(recorder: Recorder,
                                                                                        clock: ManualClock) -> None:
    from agent.records.vision_violation import VisionViolation

    recorder.record(soak(4))  # fails: too short
    recorder.raise_alarm("cold_chain_high", {"device_id": "fridge-2"}, "fridge-2 at 11.2 °C for 25 min")
    for n in range(3):
        recorder.record(VisionViolation(camera_id="cam-1", kind="no_mask", started_at=T0, seen_s=6.0, track_id=n,
                                        confidence=0.9))
    desk = TaskDesk(recorder)
    opened = desk.sweep(clock())
    assert sorted(t.data.source_type for t in opened) == ["cold_chain", "tableware_disinfection", "vision_violation"]
    assert desk.sweep(clock()) == []
    vision = next(t for t in opened if t.data.source_type == "vision_violation")
    assert "未戴口罩" in vision.data.problem and "no_mask" not in vision.data.problem


def test_a_verified_task_from_an_event_alarm_closes_it_with_its_rectification(recorder: Recorder) -> None:
    raised = recorder.raise_alarm("fever", {"staff_id": "S001", "day": "2026-11-30"}, "37.9 °C")
    desk = TaskDesk(recorder)
    opened = desk.open(source_type="alarm", source_id=raised.id, problem="发热：张三", by="boss")
    desk.done(opened.data.task_id, "已就医，复测正常", by="boss")
    assert recorder.reads.open_alarms()
    desk.verify(opened.data.task_id, by="lead")
    assert recorder.reads.open_alarms() == []
    [fix] = recorder.reads.rectifications_of([raised.id])[raised.id]
    assert fix["data"]["resolved_by"] == "boss" and fix["data"]["clears_alarm"] is True


def test_a_term_without_a_drill_reminds_until_one_is_held(config: AgentConfig, clock: ManualClock,
                                                                            recorder: Recorder) -> None:
    from agent.schedule.engine import ScheduleEngine

    recorder.store.replace_roster([{"staff_id": "S001", "name": "张三", "role": "cook", "badges": ["1"]}],
                                  clock().isoformat())
    engine = ScheduleEngine(recorder, mono=clock.monotonic)
    engine.tick(clock())
    assert [a["kind"] for a in recorder.reads.open_alarms()] == []  # a new box: no drill yet, not due
    clock.advance(timedelta(days=121))  # 2027-03-31: a term without a drill
    engine.tick(clock())
    assert {a["kind"] for a in recorder.reads.open_alarms()} >= {"drill_missing"}
    recorder.record(Drill(scenario="火灾疏散", held_at=clock(), minutes=20, recorded_by="boss",
                          participants=[Participant(staff_id="S001")]))
    engine.tick(clock())
    assert "drill_missing" not in {a["kind"] for a in recorder.reads.open_alarms()}
    from agent.core.training import short_of_hours
    assert [p["staff_id"] for p in short_of_hours(recorder.reads, config, date(2027, 10, 2))] == ["S001"]
    assert short_of_hours(recorder.reads, config, date(2027, 9, 30)) == []  # before warn_from


def test_the_sweep_opens_what_an_entry_called_for_when_the_agent_stopped_before(recorder: Recorder,
                                                                               clock: ManualClock) -> None:
    from agent.records.envelope import Operator

    recorder.record(RoutineDailyCheck(items=[ChecklistItem(item="冰箱温度", ok=False, note="10 °C")]),
                    operator=Operator(staff_id="boss"))  # stored; the agent stopped before its task
    [task] = TaskDesk(recorder).sweep(clock())
    assert (task.data.source_type, task.data.by, task.data.problem) == ("routine_daily_check", "boss",
                                                                        "冰箱温度：10 °C")
    assert TaskDesk(recorder).sweep(clock()) == []
