"""A whole canteen day on a manual clock: each reminder fires when due, clears when
done, and is never raised twice, across agent restarts in the middle of the day."""

from __future__ import annotations

from collections import Counter

import pytest

from agent.core.tasks import all_tasks
from agent.schedule.due import what_is_due
from tests.fixtures_schedule import DAY, Canteen, at, schedule_config


@pytest.fixture
def canteen(tmp_path):
    canteen = Canteen(schedule_config(tmp_path), at("06:00"))
    yield canteen
    canteen.stop()


def raised_keys(canteen: Canteen, kind: str | None = None) -> Counter:
    from agent.core.recorder import alarm_key

    return Counter(alarm_key(a["kind"], a["subject"]) for a in canteen.alarm_events(kind)
                   if a["state"] == "raised")


def key(kind: str, **subject: str) -> str:
    from agent.core.recorder import alarm_key

    return alarm_key(kind, {"day": DAY.isoformat(), **subject} if kind != "expiry_warning" else subject)


def test_a_whole_day_with_restarts(canteen: Canteen) -> None:
    # 06:00 start: nothing is due yet, only the expiry warnings
    report = canteen.tick()
    assert {k for k in report.raised} == {
        key("expiry_warning", what="health_certificate", id="S003", threshold="7"),
        key("expiry_warning", what="supplier_licence", id="绿源蔬菜", threshold="30"),
    }

    # breakfast: two morning checks, every dish sampled, no leader
    canteen.check("S001", at("06:50"))
    canteen.check("S002", at("06:55"))
    for dish in ("包子", "豆浆", "米饭"):
        canteen.sample("breakfast", dish, at("07:05"))
    assert canteen.tick(at("08:29:59")).raised == []
    report = canteen.tick(at("08:30"))
    assert report.raised == [key("leader_meal_missing", meal="breakfast")]

    # 09:30: the two who were not checked, and only them (S005 is off duty)
    report = canteen.tick(at("09:30"))
    assert sorted(report.raised) == [key("morning_check_missing", staff_id="S003"),
                                     key("morning_check_missing", staff_id="S004")]
    assert "晨检未完成：王五 (S003)，截止 09:30" in canteen.said.texts()[-2]
    assert canteen.tick(at("09:40")).raised == []  # open: not raised again

    # S003 comes in late: cleared; the cabinet ran after breakfast (it names no meal)
    canteen.check("S003", at("09:45"))
    canteen.disinfect(at("09:00"))
    report = canteen.tick(at("09:46"))
    assert report.cleared == [key("morning_check_missing", staff_id="S003")]

    # power cut at 09:50, back at 10:40: the breakfast disinfection deadline (10:30) passed
    # while off, but it was done: nothing raised, nothing raised twice
    canteen.restart(at("10:40"))
    report = canteen.tick()
    assert report.raised == [] and report.cleared == []
    assert key("morning_check_missing", staff_id="S004") in canteen.open_keys()

    # lunch: one dish underweight, one not sampled; the leader ate with the students
    canteen.sample("lunch", "米饭", at("11:40"))
    canteen.sample("lunch", "番茄炒蛋", at("11:41"), grams=90)
    canteen.leader("lunch", at("12:00"))
    report = canteen.tick(at("13:00"))
    assert report.raised == [key("samples_missing", meal="lunch")]
    alarm = canteen.alarm_events("samples_missing")[-1]
    assert alarm["details"]["missing"] == ["番茄炒蛋", "青菜"]
    assert "重量不足 underweight: 番茄炒蛋" in alarm["details"]["detail"]
    canteen.sample("lunch", "番茄炒蛋", at("13:05"))
    assert canteen.tick(at("13:06")).raised == []  # still 青菜 missing: stays open, once
    canteen.sample("lunch", "青菜", at("13:10"))
    assert canteen.tick(at("13:11")).cleared == [key("samples_missing", meal="lunch")]

    # second cut 13:30 -> 16:00: lunch disinfection (due 15:00) missed while off: raised on
    # start, marked late (60 min overdue, more than the 30 min grace)
    canteen.restart(at("16:00"))
    report = canteen.tick()
    assert report.raised == [key("disinfection_missing", meal="lunch")]
    late = canteen.alarm_events("disinfection_missing")[-1]
    assert late["details"]["late"] is True and late["details"]["overdue_s"] == 3600
    assert "停机期间到期" in canteen.said.texts()[-1]
    canteen.disinfect(at("16:05"), meal="lunch")
    assert canteen.tick(at("16:30")).cleared == [key("disinfection_missing", meal="lunch")]

    # dinner complete; a failed (too cool) cabinet run does not count, a good one does
    for dish in ("米饭", "青菜"):
        canteen.sample("dinner", dish, at("17:10"))
    canteen.leader("dinner", at("17:30"))
    canteen.disinfect(at("18:40"), peak=100)
    canteen.tick(at("18:30"))
    report = canteen.tick(at("20:30"))
    assert report.raised == [key("disinfection_missing", meal="dinner")]
    canteen.disinfect(at("20:35"))
    assert canteen.tick(at("20:56")).cleared == [key("disinfection_missing", meal="dinner")]

    # UV: the kitchen ran, the storeroom did not
    canteen.uv("kitchen", at("19:00"))
    report = canteen.tick(at("21:00"))
    assert report.raised == [key("uv_run_missing", room="storeroom")]

    # restart just before day end, then day end: one ledger
    canteen.restart(at("23:50"))
    # the failed cabinet run opened a 整改单 (due 4 h after the run), never marked done: overdue
    [task] = all_tasks(canteen.store)
    assert task.first.source_type == "tableware_disinfection" and task.first.by == "agent"
    overdue = f"rectification_overdue|task_id={task.id}"
    assert canteen.tick().raised == [overdue]
    report = canteen.tick(at("23:55"))
    assert report.ledgers == [DAY.isoformat()]
    assert canteen.tick(at("23:58")).ledgers == []

    # every reminder was raised exactly once over the whole day
    counts = raised_keys(canteen)
    assert counts and all(n == 1 for n in counts.values()), counts
    assert set(counts) == {
        key("expiry_warning", what="health_certificate", id="S003", threshold="7"),
        key("expiry_warning", what="supplier_licence", id="绿源蔬菜", threshold="30"),
        key("leader_meal_missing", meal="breakfast"),
        key("morning_check_missing", staff_id="S003"), key("morning_check_missing", staff_id="S004"),
        key("samples_missing", meal="lunch"), key("disinfection_missing", meal="lunch"),
        key("disinfection_missing", meal="dinner"), key("uv_run_missing", room="storeroom"), overdue,
    }

    ledgers = list(canteen.store.iter_records(type_="daily_ledger"))
    assert len(ledgers) == 1
    ledger = ledgers[0]["data"]
    assert ledger["day"] == DAY.isoformat()
    assert ledgers[0]["occurred_at"].startswith(f"{DAY}T23:55:00")
    lines = {line["record_type"]: line for line in ledger["lines"]}
    assert lines["food_sample"] == {"record_type": "food_sample", "count": 9, "passed": 8, "failed": 1,
                                    "warned": 0}
    assert lines["staff_health_check"]["count"] == 3
    assert lines["additive_usage"]["count"] == 0  # every provincial type is listed
    assert sorted(ledger["still_due"]) == sorted([
        key("leader_meal_missing", meal="breakfast"), key("morning_check_missing", staff_id="S004"),
        key("uv_run_missing", room="storeroom")])
    assert set(ledger["still_due"]) <= set(ledger["open_alarms"])
    # 4 on duty + 3 meals x 3 duties + 2 rooms
    assert (ledger["duties_due"], ledger["duties_done"]) == (15, 12)
    assert ledger["alarms_raised"] == 10  # with the overdue 整改单 of the failed cabinet run


def test_day_change_closes_yesterdays_reminders_after_the_ledger(canteen: Canteen) -> None:
    canteen.tick(at("09:30"))
    assert key("morning_check_missing", staff_id="S001") in canteen.open_keys()
    canteen.tick(at("00:00:05", DAY.replace(day=DAY.day + 1)))
    ledger = next(canteen.store.iter_records(type_="daily_ledger"))["data"]
    assert key("morning_check_missing", staff_id="S001") in ledger["open_alarms"]
    clears = [a for a in canteen.alarm_events("morning_check_missing") if a["state"] == "cleared"]
    assert len(clears) == 4
    assert all("see that day's ledger" in a["message"] for a in clears)
    assert not any(k.startswith("morning_check_missing") for k in canteen.open_keys())


def test_what_is_due_matches_the_alarms(canteen: Canteen) -> None:
    """``today`` and the reminder jobs read the same list: overdue <=> alarm open."""
    canteen.check("S001", at("07:00"))
    canteen.sample("lunch", "米饭", at("11:40"))
    for moment in ("08:00", "09:31", "13:01", "21:01"):
        canteen.tick(at(moment))
        items = what_is_due(canteen.store, canteen.config, at(moment))
        overdue = {i.key for i in items if i.state == "overdue"}
        open_reminders = {k for k in canteen.open_keys() if not k.startswith("expiry_warning")}
        assert overdue == open_reminders, moment


def test_no_duties_on_a_day_without_meals(tmp_path) -> None:
    weekdays = [1, 2, 3, 4, 5]
    meals = {name: {"start": s, "end": e, "weekdays": weekdays}
             for name, s, e in (("breakfast", "07:00", "08:30"), ("lunch", "11:30", "13:00"))}
    canteen = Canteen(schedule_config(tmp_path, schedules={"meals": meals, "uv_rooms": ["kitchen"]}),
                      at("06:00"))
    try:
        saturday = DAY.replace(day=DAY.day + 5)
        assert what_is_due(canteen.store, canteen.config, at("22:00", saturday)) == []
        report = canteen.tick(at("22:00", saturday))
        assert not [k for k in report.raised if not k.startswith("expiry_warning")]
        monday = what_is_due(canteen.store, canteen.config, at("22:00"))
        assert len([i for i in monday if i.duty == "samples"]) == 2
    finally:
        canteen.stop()


def test_a_box_without_site_data_raises_nothing(tmp_path) -> None:
    from agent.records.meal_service import MealService
    from tests.conftest import make_config

    canteen = Canteen(make_config(tmp_path), at("06:00"))  # default meals, no roster, no menu
    try:
        assert canteen.tick(at("22:00")).raised == []
        # the manager registers lunch: its duties are due from then on ("any dish" sampled)
        canteen.recorder.record(MealService(meal="lunch", served_on=DAY, diners=300), occurred_at=at("22:01"))
        report = canteen.tick(at("22:02"))
        assert sorted(report.raised) == [key("disinfection_missing", meal="lunch"),
                                         key("leader_meal_missing", meal="lunch"),
                                         key("samples_missing", meal="lunch")]
        canteen.sample("lunch", "米饭", at("12:00"))
        assert canteen.tick(at("22:03")).cleared == [key("samples_missing", meal="lunch")]
    finally:
        canteen.stop()
