"""Records: every type round-trips through its JSON Schema; verdicts at their boundaries."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cli.main import main
from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.records.additive_usage import AdditiveUsage
from agent.records.agent_update import AgentUpdate
from agent.records.alarm import AlarmData
from agent.records.asset_maintenance import AssetMaintenance
from agent.records.base import judge
from agent.records.basic_data import BasicData, StaffFacts
from agent.records.complaint_response import ComplaintResponse
from agent.records.core_temperature_check import CoreTemperatureCheck
from agent.records.daily_ledger import DailyLedger, LedgerLine
from agent.records.drill import Drill, Participant
from agent.records.envelope import Operator, Source, parse_envelope
from agent.records.food_sample import FoodSample
from agent.records.incident_report import IncidentReport
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.leader_meal import LeaderMeal
from agent.records.meal_service import MealService
from agent.records.menu_plan import MenuDishPlan, MenuIngredient, MenuPlan, Nutrients
from agent.records.premises_disinfection import PremisesDisinfection
from agent.records.public_complaint import PublicComplaint
from agent.records.rectification import Rectification
from agent.records.rectification_task import RectificationTask
from agent.records.registry import RECORD_TYPES
from agent.records.routine_daily_check import ChecklistItem, RoutineDailyCheck
from agent.records.sample_discard import SampleDiscard
from agent.records.schema_export import all_schemas
from agent.records.scorecard import compute
from agent.records.staff_health_check import StaffHealthCheck
from agent.records.staff_training import StaffTraining
from agent.records.stock_discard import StockDiscard
from agent.records.stock_issue import StockIssue
from agent.records.superior_inspection import SuperiorInspection
from agent.records.survey_summary import QuestionResult, SurveySummary
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.records.training_session import Attendee, TrainingSession
from agent.records.vision_violation import VisionViolation
from agent.records.waste_disposal import WasteDisposal
from agent.store import Store

from .conftest import TZ

T0 = datetime(2026, 11, 30, 7, 31, 5, 120000, tzinfo=TZ)
RANGE = (35.9, 37.3)


def samples() -> list:
    return [
        StaffHealthCheck(staff_id="S017", name="张三", temperature_c=36.5, normal_range_c=RANGE),
        FoodSample(meal="lunch", dish="番茄炒蛋", grams=131.0, min_grams=125, sampled_at=T0,
                   kept_until=T0 + timedelta(hours=48)),
        ThermalDisinfection(device_id="cab-1", method="infrared_cabinet", started_at=T0,
                            ended_at=T0 + timedelta(minutes=30), target_c=120, required_s=600,
                            peak_c=126.5, seconds_at_target=720),
        PremisesDisinfection(device_id="uv-1", room="粗加工间", method="uv_lamp", started_at=T0,
                             ended_at=T0 + timedelta(minutes=40), minutes=40, target_minutes=30),
        IngredientPurchase(supplier="成都鲜蔬", item="土豆", batch="B1", production_date=date(2026, 11, 28),
                           expiry_date=date(2026, 12, 10), grams=25000),
        AdditiveUsage(additive="食盐", grams=12.5, before_g=500, after_g=487.5),
        LeaderMeal(meal="lunch", staff_id="L1", name="王校长", role="principal"),
        StaffTraining(session="食品安全培训 2026-11", staff_id="S017"),
        SuperiorInspection(inspector_id="I9", name="李", organisation="区教育局"),
        RoutineDailyCheck(items=[ChecklistItem(item="地面清洁", ok=True)]),
        MealService(meal="lunch", served_on=date(2026, 11, 30), diners=812, dishes=["番茄炒蛋"]),
        SampleDiscard(meal="lunch", sampled_on=date(2026, 11, 28), samples=3, last_sampled_at=T0,
                      kept_hours=49.5),
        VisionViolation(camera_id="cam-1", kind="no_mask", started_at=T0, seen_s=6.0, track_id=3,
                        confidence=0.93),
        DailyLedger(day=date(2026, 11, 30), lines=[LedgerLine(record_type="food_sample", count=9, passed=9)]),
        Rectification(alarm_id="0192f1e2-0000-7000-8000-000000000001", alarm_kind="fever",
                      subject={"staff_id": "S017", "day": "2026-11-30"}, action_text="复测正常，医生证明",
                      resolved_by="boss", restores_fitness=True),
        WasteDisposal(kind="kitchen_waste", kg=42.5, collector="成都环卫", receipt_no="CD-20261130-17"),
        AgentUpdate(outcome="rolled_back", version="0.2.0", from_version="0.1.0", running_version="0.1.0",
                    reason="not healthy within 300 s: waiting for the uplink to connect", seconds=412.5),
        CoreTemperatureCheck(stage="cooking", dish="红烧肉", meal="lunch", core_c=78.5, target_c=70.0),
        PublicComplaint(category="hygiene", text="餐盘有油渍", channel="qr", receipt_sha256="ab" * 32),
        ComplaintResponse(complaint_id="0193a5c0-0000-7000-8000-000000000001", decision="accepted",
                          reply="已安排重新清洗消毒", by="boss", task_id="0193a5c0-0000-7000-8000-000000000002"),
        SurveySummary(survey_id="a1b2c3", survey_title="2026秋季满意度", term="2026秋", responses=50, closed=True,
                      questions=[QuestionResult(question_id="q1", text="饭菜口味", kind="scale", answered=50,
                                                counts=[10, 10, 10, 10, 10], mean=3.0)]),
        RectificationTask(task_id="0192f1e2-0000-7000-8000-000000000002", step="opened",
                          source_type="routine_daily_check", source_id="0192f1e2-0000-7000-8000-000000000003",
                          problem="冰箱温度：10 °C", owner="boss", deadline=T0 + timedelta(hours=24), by="boss"),
        IncidentReport(kind="power_cut", what="全楼停电", where="后厨", happened_at=T0, people_affected=0,
                       reported_by="boss"),
        Drill(scenario="火灾疏散", held_at=T0, minutes=30, recorded_by="boss",
              participants=[Participant(staff_id="S017", via="badge")]),
        TrainingSession(topic="食品安全法", trainer="李老师", held_at=T0, hours=2, recorded_by="boss",
                        attendees=[Attendee(staff_id="S017", result="pass")]),
        StockIssue(receipt_id="0193a1b2-0000-7000-8000-000000000001", item="大米", batch="B7", supplier="粮油公司",
                   grams=5000, meal="lunch", served_on=date(2026, 12, 1), dishes=["米饭"]),
        MenuPlan(day=date(2026, 12, 1), meal="lunch", age_group="9-11", energy_target_kcal=(630, 880),
                 dishes=[MenuDishPlan(name="番茄炒蛋", ingredients=[MenuIngredient(item="西红柿", grams=80)])],
                 per_portion=Nutrients(energy_kcal=14.4, protein_g=0.7, fat_g=0.2, carbohydrate_g=3.1)),
        compute([], {}, "month", date(2026, 11, 1), date(2026, 11, 30), 20, T0.tzinfo),
        StockDiscard(receipt_id="0193a1b2-0000-7000-8000-000000000001", item="大米", batch="B7", grams=1000,
                     reason="spoiled", discarded_by="王五"),
        BasicData(entity="staff", entity_id="S020", action="add", version=1, origin="console", entered_by="admin",
                  changed=["name", "badges"], staff=StaffFacts(staff_id="S020", name="赵厨", badges=["0004200020"],
                                                               health_cert_no="HC510100-2026-0020",
                                                               health_cert_valid_until=date(2026, 12, 10))),
        AssetMaintenance(asset_id="fridge-1", asset_name="冷藏柜1", category="fridge", work="maintenance",
                         done_on=date(2026, 11, 30), work_done="清洗冷凝器", done_by="海尔售后", next_due=date(2027, 5, 30),
                         entered_by="admin"),
        AlarmData(kind="cold_chain_high", state="raised", severity="major",
                  subject={"device_id": "fridge-2"}, message="fridge-2 at 11.2 °C for 25 min"),
    ]


def test_samples_cover_every_type() -> None:
    assert {s.record_type for s in samples()} == set(RECORD_TYPES)


@pytest.fixture
def recorder(config: AgentConfig) -> Recorder:
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, ManualClock(T0))
    store.close()


@pytest.mark.parametrize("data", samples(), ids=lambda d: d.record_type)
def test_round_trip_through_store_and_schema(recorder: Recorder, data) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    saved = recorder.record(data, source=Source(device_id="dev-1", kind="test"),
                            operator=Operator(staff_id="S017", badge="0004212345"))
    payload = json.loads(saved.payload)
    assert payload["occurred_at"] == "2026-11-30T07:31:05.120+08:00"
    assert payload["seq"] == saved.seq >= 1
    schema = all_schemas()[data.record_type]
    jsonschema.validate(payload, schema)
    parsed = parse_envelope(payload)
    assert parsed.data == data
    assert recorder.store.get_record(saved.id) == payload


def test_schema_rejects_unknown_data_field(recorder: Recorder) -> None:
    payload = json.loads(recorder.record(samples()[1]).payload)
    payload["data"]["colour"] = "red"
    with pytest.raises(ValidationError):
        parse_envelope(payload)


def test_schema_command_writes_one_file_per_type(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    names = {p.name.removesuffix(".schema.json") for p in tmp_path.glob("*.schema.json")}
    assert names == set(RECORD_TYPES) | {"telemetry"}


def health(t: float, **kw) -> StaffHealthCheck:
    return StaffHealthCheck(staff_id="S1", temperature_c=t, normal_range_c=RANGE, **kw)


def verdict(data, config: AgentConfig, at: datetime = T0):
    result = judge(data, config.rules, at)
    return result.verdict, result.findings


@pytest.mark.parametrize(("temp", "expected"), [
    (37.3, ("pass", [])), (37.31, ("fail", ["fever"])), (35.9, ("pass", [])),
    (35.89, ("warn", ["temperature_low"])), (39.0, ("fail", ["fever"])),
])
def test_fever_boundaries(config: AgentConfig, temp: float, expected) -> None:
    assert verdict(health(temp), config) == expected


def test_health_findings(config: AgentConfig) -> None:
    assert verdict(health(36.5, hand_findings=["ring"]), config) == ("warn", ["hand_ring"])
    assert verdict(health(36.5, hand_findings=["wound"]), config) == ("fail", ["hand_wound"])
    assert verdict(health(36.5, symptoms=["diarrhoea"]), config) == ("fail", ["symptom_diarrhoea"])
    expired = health(36.5, health_cert_expires_on=date(2026, 11, 29))
    assert verdict(expired, config) == ("fail", ["health_certificate_expired"])
    assert verdict(health(36.5, health_cert_expires_on=date(2026, 11, 30)), config) == ("pass", [])


@pytest.mark.parametrize(("grams", "expected"), [(125.0, "pass"), (124.99, "fail"), (300, "pass")])
def test_sample_weight_boundary(config: AgentConfig, grams: float, expected: str) -> None:
    data = FoodSample(meal="lunch", dish="d", grams=grams, min_grams=config.rules.food_sample.min_grams,
                      sampled_at=T0, kept_until=T0 + timedelta(hours=48))
    assert verdict(data, config)[0] == expected


def cycle(peak: float, held: float, **kw) -> ThermalDisinfection:
    return ThermalDisinfection(device_id="c", method="infrared_cabinet", started_at=T0, ended_at=T0,
                               target_c=120, required_s=600, peak_c=peak, seconds_at_target=held, **kw)


def test_disinfection_boundaries(config: AgentConfig) -> None:
    assert verdict(cycle(120.0, 600), config) == ("pass", [])
    assert verdict(cycle(119.9, 0), config) == ("fail", ["cabinet_below_target"])
    assert verdict(cycle(125, 599), config) == ("fail", ["hold_too_short"])
    assert verdict(cycle(125, 700, cut_short=True), config) == ("fail", ["cycle_cut_short"])


def test_uv_and_purchase_and_additive(config: AgentConfig) -> None:
    uv = PremisesDisinfection(device_id="u", method="uv_lamp", started_at=T0, ended_at=T0, minutes=29.9,
                              target_minutes=30)
    assert verdict(uv, config) == ("fail", ["uv_lamp_run_too_short"])
    fresh = IngredientPurchase(supplier="s", item="i", expiry_date=date(2026, 12, 3))
    assert verdict(fresh, config) == ("warn", ["near_expiry"])
    expired = IngredientPurchase(supplier="s", item="i", expiry_date=date(2026, 11, 29))
    assert verdict(expired, config) == ("fail", ["expired_on_receipt"])
    salt = AdditiveUsage(additive="亚硝酸钠", grams=0.2, limit_g=0.15)
    assert verdict(salt, config) == ("fail", ["additive_over_limit"])
    assert verdict(AdditiveUsage(additive="x", grams=1), config) == (None, [])
