"""The scorecard (汇总分析, issue 25): figures computed from the records alone, shown on the
console, sent once a month, and recomputed by the reference platform from the records it
was delivered: the two are equal."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest

from agent.app import Agent
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.tasks import TaskDesk
from agent.core.timeutil import ManualClock
from agent.records.food_sample import FoodSample
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.leader_meal import LeaderMeal
from agent.records.meal_service import MealService
from agent.records.scorecard import compute, period_of
from agent.records.staff_health_check import StaffHealthCheck
from agent.records.stock_issue import StockIssue, StockOverride
from agent.records.vision_violation import VisionViolation
from agent.social import complaints
from agent.social.surveys import Surveys, parse_questions
from agent.store import Store
from simulator.year import generate_year
from tests.conftest import TZ, make_config
from tests.fixtures_mqtt import broker_fixture, platform_fixture, wait_until  # noqa: F401
from tests.test_console import MANAGER, PASSWORD, Http, start_console

pytestmark = pytest.mark.timeout(240)
STAFF = [{"staff_id": f"S{i:03d}", "name": f"员工{i}", "badges": [f"B{i:03d}"]} for i in range(20)]


def test_periods() -> None:
    assert period_of("week", date(2026, 12, 3)) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period_of("month", date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_of("term", date(2026, 12, 3)) == (date(2026, 9, 1), date(2027, 1, 31))
    assert period_of("term", date(2027, 1, 3)) == (date(2026, 9, 1), date(2027, 1, 31))
    assert period_of("term", date(2027, 3, 3)) == (date(2027, 2, 1), date(2027, 8, 31))


def test_each_figure_from_known_records(tmp_path) -> None:
    config = make_config(tmp_path)
    day = date(2026, 12, 1)
    clock = ManualClock(datetime(2026, 12, 1, 6, 0, tzinfo=TZ))
    with Store(config.store.path) as store:
        rec = Recorder(config, store, clock)
        empty = compute([], {}, "day", day, day, 4, TZ)
        assert (empty.morning_check_rate, empty.leader_meal_rate, empty.traceability_rate) == (None, None, None)
        for staff in ("S1", "S2", "S3"):  # 3 of 4 checked
            rec.record(StaffHealthCheck(staff_id=staff, temperature_c=36.5, normal_range_c=(35.9, 37.3)))
        good = rec.record(IngredientPurchase(supplier="粮油公司", item="大米", batch="B1", grams=1000,
                                             supplier_licence_expires_on=date(2027, 1, 1), certificate_checked=True)).id
        bare = rec.record(IngredientPurchase(supplier="绿源", item="青菜", grams=1000)).id  # no batch, no licence
        for receipt, override in ((good, None), (bare, None), (None, StockOverride(of="unknown_batch", by="b", reason="r"))):
            rec.record(StockIssue(receipt_id=receipt, item="x", grams=100, meal="lunch", served_on=day, override=override))
        for meal, dishes in (("lunch", ["米饭", "青菜"]), ("dinner", ["面条"])):
            rec.record(MealService(meal=meal, served_on=day, diners=500, dishes=dishes))
        now = clock()
        for dish, grams in (("米饭", 130), ("青菜", 130), ("面条", 100)):  # dinner's sample is underweight
            rec.record(FoodSample(meal="lunch" if dish != "面条" else "dinner", dish=dish, grams=grams, min_grams=125,
                                  sampled_at=now, kept_until=now + timedelta(hours=48)))
        rec.record(LeaderMeal(meal="lunch", staff_id="L1"))
        clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=TZ))
        rec.raise_alarm("cold_chain_high", {"device_id": "fridge-1"}, "warm")
        clock.set(datetime(2026, 12, 1, 10, 25, tzinfo=TZ))
        rec.clear_alarm("cold_chain_high", {"device_id": "fridge-1"}, "back in range")
        rec.record(VisionViolation(camera_id="cam-1", kind="no_mask", started_at=clock(), seen_s=5, track_id=1,
                                   confidence=0.9))
        records = list(store.iter_records())
        receipts = {r["id"]: r for r in records if r["type"] == "ingredient_purchase"}
    card = compute(records, receipts, "day", day, day, 4, TZ)
    assert (card.service_days, card.meals_served, card.morning_checks, card.morning_check_rate) == (1, 2, 3, 0.75)
    assert (card.leader_meals, card.leader_meal_rate) == (1, 0.5)
    assert (card.sampled_meals, card.sample_compliance) == (1, 0.5)
    assert (card.issues, card.issues_traceable, card.traceability_rate) == (3, 1, 0.3333)
    assert (card.cold_chain_minutes_out, card.alarms, card.alarm_close_minutes) == (25.0, {"cold_chain_high": 1}, 25.0)
    assert (card.vision_violations, card.vision_violations_per_day) == (1, 1.0)
    assert compute(records, receipts, "day", day + timedelta(days=1), day + timedelta(days=1), 4, TZ).meals_served == 0


def test_tasks_and_complaints_count_as_they_stood_at_the_periods_end(tmp_path) -> None:
    config = make_config(tmp_path)
    day = date(2026, 12, 1)
    at = lambda hour, minute=0, days=0: datetime(2026, 12, 1 + days, hour, minute, tzinfo=TZ)  # noqa: E731
    clock = ManualClock(at(8))
    with Store(config.store.path) as store:
        rec = Recorder(config, store, clock)
        desk = TaskDesk(rec)
        sent_back = desk.open(source_type="by_hand", problem="地面积水", by="m", deadline=at(12))
        waiting = desk.open(source_type="by_hand", problem="灯坏了", by="m", deadline=at(20))
        assert sent_back is not None and waiting is not None
        clock.set(at(9))
        desk.done(sent_back.data.task_id, "已拖干", by="c")
        desk.reopen(sent_back.data.task_id, by="m", note="仍有积水", deadline=at(11))
        clock.set(at(10))
        complaint, _ = complaints.submit(rec, category="service", text="排队太久", channel="qr", invite_id=None,
                                         photo=None)
        complaints.respond(rec, complaint.id, "replied", "正在了解", "m")  # an answer only: not a decision
        clock.set(at(1, days=1))  # the next day: the reopened task done, late, and the complaint accepted
        desk.done(sent_back.data.task_id, "修好排水", by="c")
        complaints.respond(rec, complaint.id, "accepted", "已受理", "m")
        records = list(store.iter_records())
    one_day = compute(records, {}, "day", day, day, 4, TZ)
    # at the day's end: the reopened task open past its new deadline, the other past its own; nothing decided
    assert (one_day.rectification_tasks, one_day.rectification_done_on_time, one_day.rectification_done_late,
            one_day.rectification_overdue, one_day.rectification_on_time_rate) == (2, 0, 0, 2, 0.0)
    assert (one_day.complaints, one_day.complaints_by_category, one_day.complaints_accepted) == (1, {"service": 1}, 0)
    assert (one_day.satisfaction_mean, one_day.satisfaction_responses) == (None, None)
    # seen at 10:30 that day: neither is past its deadline yet (11:00 after the reopen, 20:00)
    noon = compute(records, {}, "day", day, day, 4, TZ, now=at(10, 30))
    assert (noon.rectification_overdue, noon.rectification_on_time_rate) == (0, None)
    # the week holds both days: the late one done, the accepted complaint's task (72 h) past due by the week's end
    week = compute(records, {}, "week", *period_of("week", day), 4, TZ)
    assert (week.rectification_tasks, week.rectification_done_late, week.rectification_overdue,
            week.complaints_accepted) == (3, 1, 2, 1)
    # the next day alone: the complaint's task, no complaint received
    after = compute(records, {}, "day", day + timedelta(days=1), day + timedelta(days=1), 4, TZ)
    assert (after.rectification_tasks, after.rectification_overdue, after.complaints) == (1, 0, 0)


@pytest.fixture
def agent(tmp_path, broker, platform):
    config = make_config(tmp_path, site={"staff": STAFF}, vision={"enabled": False},
                         broker={"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2,
                                 "reconnect_max_s": 1},
                         console={"enabled": True, "port": 0})
    clock = ManualClock(datetime(2026, 11, 1, 6, 0, tzinfo=TZ))
    agent = Agent(config, now=clock, clock=ClockMonitor(lambda: (True, "test")))
    agent.clock = clock  # type: ignore[attr-defined]
    yield agent
    agent.stop()


def figures_on_page(text: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-figure="([a-z_]+)"><th>.*?</th><td>(.*?)</td></tr>', text, re.S)
    return {key: re.sub(r"<[^>]+>", "", value).split("(")[0].strip() for key, value in rows}


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def test_the_month_on_the_console_equals_what_the_platform_recomputes(agent, platform) -> None:
    clock = agent.clock
    generate_year(agent.recorder, date(2026, 11, 1), 30, diners=1500, staff=len(STAFF), seed=3)
    # alarms and a camera's violation across the month, through the Recorder's door
    for n, day in enumerate((3, 11, 27)):
        clock.set(datetime(2026, 11, day, 14, 0, tzinfo=TZ))
        agent.recorder.raise_alarm("cold_chain_high", {"device_id": "fridge-1"}, "warm")
        clock.set(datetime(2026, 11, day, 14, 10 + 5 * n, tzinfo=TZ))
        agent.recorder.clear_alarm("cold_chain_high", {"device_id": "fridge-1"}, "back in range")
        agent.recorder.record(VisionViolation(camera_id="cam-1", kind="no_hat", started_at=clock(), seen_s=4,
                                              track_id=n, confidence=0.8))
    work_in_the_month(agent, clock)
    url = start_console(agent, "uplink")
    # the month ends: the schedule's first tick of December sends its scorecard, once
    clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=TZ))
    agent.schedule.engine.tick(clock())
    agent.schedule.engine.tick(clock() + timedelta(minutes=1))
    [card] = list(agent.store.iter_records(type_="scorecard"))
    assert (card["data"]["period"], card["data"]["start"], card["data"]["end"]) == ("month", "2026-11-01", "2026-11-30")
    assert card["data"]["meals_served"] == 90 and card["data"]["roster_size"] == len(STAFF)
    wait_until(lambda: len(platform.records(type="scorecard")) == 1, timeout=120, message="the scorecard delivered")
    wait_until(lambda: not list(agent.store.iter_records(delivered=False, limit=1)), timeout=120,
               message="every record of the month acked by the platform")
    assert sum(platform.count_by_type().values()) == sum(1 for _ in agent.store.iter_records())
    [delivered] = platform.records(type="scorecard")
    assert delivered["id"] == card["id"]
    assert platform.recompute_scorecard(delivered["agent_id"], delivered) == delivered["data"]
    data = delivered["data"]
    # four tasks opened in November: one done on time, one late, one open past its deadline, one not yet due
    assert (data["rectification_tasks"], data["rectification_done_on_time"], data["rectification_done_late"],
            data["rectification_overdue"], data["rectification_on_time_rate"]) == (4, 1, 1, 1, 0.3333)
    assert (data["complaints"], data["complaints_by_category"], data["complaints_accepted"],
            data["complaints_declined"]) == (2, {"food_quality": 1, "hygiene": 1}, 1, 1)
    # the latest survey's answers: 5, 4, 4 and 3, 4, 2 → 22 / 6
    assert (data["satisfaction_mean"], data["satisfaction_responses"]) == (3.67, 3)

    client = Http(url)
    client.log_in(MANAGER, PASSWORD)
    status, text = client.get("/manager/scorecard?period=month&day=2026-11-15")
    assert status == 200 and "汇总分析" in text and "<svg" in text
    shown = figures_on_page(text)
    for key in ("morning_check_rate", "leader_meal_rate", "sample_compliance", "disinfection_pass_rate",
                "traceability_rate", "rectification_on_time_rate"):
        assert shown[key] == pct(data[key]), key
    for key in ("service_days", "meals_served", "expired_food_found", "rectifications", "rectification_tasks",
                "rectification_done_late", "rectification_overdue", "complaints_accepted", "complaints_declined"):
        assert shown[key] == str(data[key]), key
    assert shown["alarms"].startswith(str(sum(data["alarms"].values())))
    assert shown["complaints"] == "2" and "饭菜质量" in text and shown["satisfaction_mean"] == "3.67"
    assert "整改按期完成率" in text and "投诉建议" in text
    status, body = client.get("/manager/scorecard.csv?period=month&day=2026-11-15")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[1][0] == "month" and len(rows) == 2 + 30
    assert rows[1][rows[0].index("traceability_rate")] == str(data["traceability_rate"])
    assert rows[1][rows[0].index("rectification_on_time_rate")] == "0.3333"
    assert rows[1][rows[0].index("complaints")] == "2" and rows[1][rows[0].index("satisfaction_mean")] == "3.67"
    status, printed = client.get("/manager/scorecard?period=month&day=2026-11-15&print=1")
    assert status == 200 and 'class="manager printing"' in printed and "<nav" not in printed


def work_in_the_month(agent: Agent, clock: ManualClock) -> None:
    """整改 tasks, complaints and a survey in November, as people make them."""
    desk = TaskDesk(agent.recorder)
    at = lambda day, hour, minute=0: datetime(2026, 11, day, hour, minute, tzinfo=TZ)  # noqa: E731
    # a complaint accepted: its task done the same day, well before its deadline, then verified
    clock.set(at(5, 9))
    food, _ = complaints.submit(agent.recorder, category="food_quality", text="米饭夹生", channel="qr",
                                invite_id=None, photo=None)
    clock.set(at(5, 9, 30))
    accepted = complaints.respond(agent.recorder, food.id, "accepted", "已安排整改", "manager1")
    clock.set(at(5, 11))
    desk.done(accepted.data.task_id or "", "重新蒸煮并调整水量", by="cook1")
    clock.set(at(5, 15))
    desk.verify(accepted.data.task_id or "", by="manager1")
    # a task done a day after its deadline
    clock.set(at(10, 9))
    late = desk.open(source_type="by_hand", problem="排水沟清理", by="manager1", deadline=at(11, 9))
    assert late is not None
    clock.set(at(12, 10))
    desk.done(late.data.task_id, "已清理", by="cook2")
    # a complaint declined
    clock.set(at(20, 12))
    hygiene, _ = complaints.submit(agent.recorder, category="hygiene", text="桌面不干净", channel="qr",
                                   invite_id=None, photo=None)
    complaints.respond(agent.recorder, hygiene.id, "declined", "经核查餐桌已按时清洁", "manager1")
    # a survey answered by three phones; its summary sent twice, the latest counting
    surveys = Surveys(agent.store)
    clock.set(at(22, 8))
    survey = surveys.define("伙食满意度", "2026秋", parse_questions("饭菜口味\n就餐环境\n？建议"), "manager1", clock())
    for device, (taste, place) in enumerate(((5, 3), (4, 4), (4, 2))):
        if device == 2:
            surveys.send_summary(agent.recorder, survey, with_text=False)  # two answers so far
        surveys.answer(survey, f"phone-{device}", {"q1": str(taste), "q2": str(place)}, 500, clock())
    clock.set(at(25, 18))
    surveys.send_summary(agent.recorder, survey, with_text=False)
    # a task open past its deadline at the month's end, and one not yet due then (done in December)
    clock.set(at(28, 9))
    assert desk.open(source_type="by_hand", problem="更换灭蝇灯", by="manager1", deadline=at(29, 9)) is not None
    clock.set(at(30, 16))
    due = desk.open(source_type="by_hand", problem="补充洗手液", by="manager1", deadline=at(30, 16) + timedelta(days=3))
    assert due is not None
    clock.set(datetime(2026, 12, 1, 0, 10, tzinfo=TZ))
    desk.done(due.data.task_id, "已补充", by="cook1")
