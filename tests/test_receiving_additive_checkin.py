"""Receiving, additive usage and check-in workflows, fed readings on a ManualClock."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from agent.stations.base import parse_date
from agent.stations.receiving.workflow import parse_gs1
from tests.conftest import TZ
from tests.fixtures_serial_stations import (
    INSPECTOR,
    LEADER,
    STAFF,
    UNKNOWN,
    WANG,
    ZHANG,
    Rig,
    station_config,
)

SUPPLIERS = {"成都蔬菜公司": "2027-05-01", "川北肉联": "2026-10-01"}
RECEIVING = {"kind": "receiving", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1",
             "barcode": "barcode-1"}


@pytest.fixture
def receiving(tmp_path, morning):
    rig = Rig(station_config(tmp_path, RECEIVING, site={"suppliers": SUPPLIERS}), morning)
    yield rig
    rig.close()


def test_receiving_typed_step_by_step(receiving):
    rig = receiving
    rig.badge(ZHANG)
    assert "1=成都蔬菜公司" in rig.last_said()
    for typed in ("1", "西红柿", "B20261128", "20261128", "+7"):
        rig.text(typed)
    assert "请称重" in rig.last_said()
    rig.weight(12_500.0)
    [record] = rig.records("ingredient_purchase")
    data = record["data"]
    assert (data["supplier"], data["item"], data["batch"]) == ("成都蔬菜公司", "西红柿", "B20261128")
    assert (data["production_date"], data["expiry_date"]) == ("2026-11-28", "2026-12-05")
    assert data["grams"] == 12_500.0 and data["supplier_licence_expires_on"] == "2027-05-01"
    assert record["verdict"] == "pass" and record["operator"]["staff_id"] == "S001"
    assert "验收合格" in rig.said()[-2]
    # the session goes on with the same supplier
    assert "品名" in rig.last_said()
    for typed in ("黄瓜", "0", "0", "0"):
        rig.text(typed)
    rig.weight(3000)
    second = rig.records("ingredient_purchase")[1]["data"]
    assert (second["supplier"], second["item"], second["batch"], second["expiry_date"]) == \
        ("成都蔬菜公司", "黄瓜", None, None)


def test_receiving_verdicts(receiving):
    rig = receiving
    rig.badge(ZHANG)
    rig.weight(5000)  # the weight may come first
    for typed in ("2", "猪肉", "P1", "2026-11-29", "2026-11-29"):
        rig.text(typed)
    [record] = rig.records("ingredient_purchase")
    assert record["verdict"] == "fail"
    assert set(record["findings"]) == {"expired_on_receipt", "supplier_licence_expired"}
    assert "验收不合格" in rig.said()[-2]
    for typed in ("牛肉", "P2", "2026/11/29", "20261202"):
        rig.text(typed)
    rig.weight(4000)
    record = rig.records("ingredient_purchase")[1]
    assert record["verdict"] == "fail" and record["findings"] == ["supplier_licence_expired", "near_expiry"]


def test_receiving_unknown_supplier_and_bad_date(receiving):
    rig = receiving
    rig.badge(ZHANG)
    rig.text("路边摊")
    rig.text("鸡蛋")
    rig.text("0")
    rig.text("2026-13-45")
    assert "无法识别" in rig.last_said()
    rig.text("20261129")
    rig.text("+30")
    rig.weight(2000)
    [record] = rig.records("ingredient_purchase")
    assert record["verdict"] == "warn" and record["findings"] == ["supplier_unknown"]
    assert record["data"]["expiry_date"] == "2026-12-29"


def test_receiving_gs1_barcode_fills_several_fields(receiving):
    rig = receiving
    rig.badge(ZHANG)
    rig.text("1")
    rig.text("]C10106901234567892112611201727052010LOT-7\x1d", device="barcode-1")
    rig.weight(6000)
    [record] = rig.records("ingredient_purchase")
    data = record["data"]
    assert data["item"] == "GTIN 06901234567892" and data["batch"] == "LOT-7"
    assert (data["production_date"], data["expiry_date"]) == ("2026-11-20", "2027-05-20")


def test_receiving_cancelled_on_timeout_without_record(receiving):
    rig = receiving
    rig.badge(ZHANG)
    rig.text("1")
    rig.text("土豆")
    rig.advance(121)
    assert "已取消" in rig.last_said()
    rig.text("x")
    assert "请先刷卡" in rig.last_said() and rig.records("ingredient_purchase") == []


def test_date_and_gs1_parsing():
    assert parse_date("20261130") == parse_date("2026-11-30") == parse_date("261130") == date(2026, 11, 30)
    assert parse_date("270200") == date(2027, 2, 28)  # GS1: day 00 is the month's end
    for bad in ("2026-02-30", "30.11.2026", "abc"):
        with pytest.raises(ValueError):
            parse_date(bad)
    assert parse_gs1("010690123456789217270520") == {"01": "06901234567892", "17": "270520"}
    assert parse_gs1("西红柿") is None and parse_gs1("20261130") is None


# --- additives ------------------------------------------------------------------------------

ADDITIVE = {"kind": "additive", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1",
            "barcode": "barcode-1"}


@pytest.fixture
def additive(tmp_path, morning):
    cfg = station_config(tmp_path, ADDITIVE, rules={"additive_limits_g": {"苯甲酸钠": 10, "山梨酸钾": 15}})
    rig = Rig(cfg, morning)
    yield rig
    rig.close()


def test_additive_taken_is_before_minus_after(additive):
    rig = additive
    rig.badge(ZHANG)
    assert "1=山梨酸钾 2=苯甲酸钠" in rig.last_said()
    rig.text("2")
    rig.text("BATCH-9", device="barcode-1")
    rig.weight(500.0)
    assert "取用前 500.0 g" in rig.last_said()
    rig.weight(492.5)
    [record] = rig.records("additive_usage")
    data = record["data"]
    assert (data["additive"], data["grams"], data["before_g"], data["after_g"]) == ("苯甲酸钠", 7.5, 500.0, 492.5)
    assert data["batch"] == "BATCH-9" and data["limit_g"] == 10 and record["verdict"] == "pass"
    assert "领用 7.5 g" in rig.last_said()
    rig.weight(480)  # the session ended with the record
    assert "请先刷卡" in rig.last_said()


def test_additive_over_limit_fails(additive):
    rig = additive
    rig.badge(ZHANG)
    rig.weight(500.0)
    rig.weight(480.0)
    assert rig.records("additive_usage") == []  # no additive chosen yet
    rig.text("2")
    [record] = rig.records("additive_usage")
    assert record["verdict"] == "fail" and record["findings"] == ["additive_over_limit"]
    assert "超过限量" in rig.last_said()


def test_additive_not_lighter_is_a_new_before(additive):
    rig = additive
    rig.badge(ZHANG)
    rig.text("1")
    rig.weight(300.0)
    rig.weight(310.0)
    assert "未减少" in rig.last_said()
    rig.weight(305.0)
    assert rig.records("additive_usage")[0]["data"]["grams"] == 5.0


def test_additive_without_limit_has_no_verdict(tmp_path, morning):
    rig = Rig(station_config(tmp_path, {**ADDITIVE, "additives": ["食用色素"]}), morning)
    rig.badge(ZHANG)
    rig.weight(100)
    rig.weight(90)
    [record] = rig.records("additive_usage")
    assert record["data"]["additive"] == "食用色素" and record["verdict"] is None
    rig.close()


# --- check-ins ------------------------------------------------------------------------------

CHECKIN = {"kind": "checkin", "badge": "badge-1", "keypad": "keypad-1",
           "checkin_modes": ["leader_meal", "staff_training", "superior_inspection"],
           "session": "食品安全培训", "session_hours": 2, "organisation": "区市场监管局"}
LUNCH = datetime(2026, 11, 30, 12, 5, tzinfo=TZ)


@pytest.fixture
def checkin(tmp_path):
    rig = Rig(station_config(tmp_path, CHECKIN), LUNCH)
    yield rig
    rig.close()


def test_leader_meal_once_per_meal(checkin):
    rig = checkin
    rig.badge(LEADER)
    [record] = rig.records("leader_meal")
    assert record["data"] == {"meal": "lunch", "staff_id": "L001", "name": "赵校长", "role": "leader",
                              "remarks": None}
    assert "午餐陪餐已登记" in rig.last_said()
    rig.advance(60)
    rig.badge(LEADER)
    assert len(rig.records("leader_meal")) == 1 and "已登记" in rig.last_said()
    rig.clock.set(datetime(2026, 11, 30, 17, 30, tzinfo=TZ))
    rig.badge(LEADER)
    assert [r["data"]["meal"] for r in rig.records("leader_meal")] == ["lunch", "dinner"]
    rig.clock.set(datetime(2026, 11, 30, 21, 0, tzinfo=TZ))
    rig.badge(LEADER)
    assert "不在用餐时间" in rig.last_said() and len(rig.records("leader_meal")) == 2


def test_keypad_switches_mode_on_one_reader(checkin):
    rig = checkin
    rig.text("2")
    assert "培训" in rig.last_said()
    rig.badge(ZHANG)
    rig.advance(5)
    rig.badge(WANG)
    rig.advance(5)
    rig.badge(ZHANG)  # again: already there
    training = rig.records("staff_training")
    assert [(r["data"]["staff_id"], r["data"]["session"], r["data"]["hours"]) for r in training] == [
        ("S001", "食品安全培训", 2.0), ("S003", "食品安全培训", 2.0)]
    rig.text("3")
    rig.badge(INSPECTOR)
    [inspection] = rig.records("superior_inspection")
    assert inspection["data"]["inspector_id"] == "I001" and inspection["data"]["organisation"] == "区市场监管局"
    rig.text("7")
    assert "请选择模式" in rig.last_said()


def test_checkin_unknown_badge_and_roles(tmp_path):
    rig = Rig(station_config(tmp_path, {**CHECKIN, "allowed_roles": ["leader"]}), LUNCH)
    rig.badge(UNKNOWN)
    assert "未登记的工卡" in rig.last_said()
    rig.badge(ZHANG)
    assert "权限" in rig.last_said()
    rig.badge(LEADER)
    assert [r["data"]["staff_id"] for r in rig.records("leader_meal")] == ["L001"]
    rig.close()


def test_additive_names_the_dish_it_goes_into_from_the_menu(tmp_path, morning):
    menu = [{"name": "红烧肉", "meals": ["lunch"]}, {"name": "糖醋排骨", "meals": ["lunch"]}]
    cfg = station_config(tmp_path, ADDITIVE, rules={"additive_limits_g": {"苯甲酸钠": 10}},
                         site={"staff": STAFF, "menu": menu})
    rig = Rig(cfg, morning)
    try:
        rig.badge(ZHANG)
        assert "#1=红烧肉 #2=糖醋排骨" in rig.last_said()
        rig.text("#9")
        assert "菜品编号" in rig.last_said() and rig.records("additive_usage") == []
        rig.text("#2")
        assert "用于 糖醋排骨" in rig.last_said()
        rig.weight(500.0)
        rig.weight(495.0)
        [record] = rig.records("additive_usage")
        assert record["data"]["food"] == "糖醋排骨" and record["data"]["grams"] == 5.0
    finally:
        rig.close()


def test_a_drill_checkin_keeps_the_badged_people_for_the_consoles_drill_form(tmp_path):
    from agent.stations.checkin.workflow import drill_key

    rig = Rig(station_config(tmp_path, {**CHECKIN, "checkin_modes": ["drill"]}), LUNCH)
    try:
        rig.badge(ZHANG)
        rig.advance(5)
        rig.badge(WANG)
        rig.advance(5)
        rig.badge(ZHANG)
        assert "已签到" in rig.last_said()
        assert rig.store.kv_get(drill_key("2026-11-30")) == ["S001", "S003"]
        assert rig.records("drill") == []  # the drill itself is recorded at the console
    finally:
        rig.close()


def test_the_additive_keypad_numbers_the_days_dishes_as_the_console_does(tmp_path, morning):
    """#n counts the day's dishes meal by meal (the platform's menu first), the same list the
    console's additive page numbers, not the config's whole menu."""
    from agent.core.menu import day_dishes, menu_key

    menu = [{"name": "红烧肉", "meals": ["lunch"]}, {"name": "糖醋排骨", "meals": ["lunch"]}]
    cfg = station_config(tmp_path, ADDITIVE, rules={"additive_limits_g": {"苯甲酸钠": 10}},
                         site={"staff": STAFF, "menu": menu})
    rig = Rig(cfg, morning)
    try:
        day = morning.date()
        rig.store.kv_set(menu_key(day), {"day": day.isoformat(),
                                         "meals": {"breakfast": ["馒头"], "lunch": ["宫保鸡丁", "米饭"]}})
        assert day_dishes(rig.store, cfg, day) == ["馒头", "宫保鸡丁", "米饭"]
        rig.badge(ZHANG)
        assert "#1=馒头 #2=宫保鸡丁 #3=米饭" in rig.last_said()
        rig.text("#2")
        rig.weight(500.0)
        rig.weight(496.0)
        [record] = rig.records("additive_usage")
        assert record["data"]["food"] == "宫保鸡丁"
    finally:
        rig.close()
