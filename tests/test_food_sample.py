"""Food sample workflow: badge → meal/dish → stable weight → food_sample with verdict and kept_until."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from agent.core.menu import menu_key
from tests.conftest import TZ
from tests.fixtures_serial_stations import UNKNOWN, WANG, ZHANG, Rig, station_config

STATION = {"kind": "food_sample", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1",
           "fridge_id": "sample-fridge"}
MENU = [{"name": "番茄炒蛋", "meals": ["lunch"]}, {"name": "红烧肉", "meals": ["lunch", "dinner"]},
        {"name": "米饭"}, {"name": "豆浆", "meals": ["breakfast"]}]
LUNCH = datetime(2026, 11, 30, 11, 50, tzinfo=TZ)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(station_config(tmp_path, STATION, site={"menu": MENU}), LUNCH)
    yield rig
    rig.close()


def test_samples_every_dish_of_the_meal_in_menu_order(rig):
    rig.badge(ZHANG)
    assert "午餐留样" in rig.last_said() and "番茄炒蛋" in rig.last_said()
    for grams in (131.0, 150.2, 127.5):
        rig.advance(40)
        rig.weight(grams)
    records = rig.records("food_sample")
    assert [(r["data"]["dish"], r["data"]["grams"], r["verdict"]) for r in records] == [
        ("番茄炒蛋", 131.0, "pass"), ("红烧肉", 150.2, "pass"), ("米饭", 127.5, "pass")]
    first = records[0]
    assert first["data"]["meal"] == "lunch" and first["data"]["min_grams"] == 125
    assert first["data"]["sampled_at"] == "2026-11-30T11:50:40+08:00"
    assert first["data"]["kept_until"] == "2026-12-02T11:50:40+08:00"  # 48 h later
    assert first["data"]["fridge_id"] == "sample-fridge"
    assert first["operator"]["staff_id"] == "S001" and first["source"]["device_id"] == "scale-1"
    assert "本餐已全部留样" in rig.last_said()
    rig.advance(10)
    rig.weight(140)  # a fourth weight without a pick has no dish left
    assert len(rig.records("food_sample")) == 3 and "已全部留样" in rig.last_said()


def test_underweight_fails_and_topping_up_records_the_same_dish(rig):
    rig.badge(ZHANG)
    rig.weight(98.0)
    rig.advance(20)
    rig.weight(133.0)
    first, second = rig.records("food_sample")
    assert (first["data"]["dish"], first["verdict"], first["findings"]) == ("番茄炒蛋", "fail", ["underweight_sample"])
    assert (second["data"]["dish"], second["verdict"]) == ("番茄炒蛋", "pass")
    assert any("不足 125 g" in t for t in rig.said())


def test_keypad_picks_the_dish(rig):
    rig.badge(ZHANG)
    rig.text("3")
    rig.weight(140)
    assert rig.records("food_sample")[0]["data"]["dish"] == "米饭"
    rig.weight(126)  # the filter emits a new weight: next unsampled is now the first dish
    assert rig.records("food_sample")[1]["data"]["dish"] == "番茄炒蛋"
    rig.text("9")
    assert "菜品编号 1-3" in rig.last_said()


def test_next_unsampled_survives_another_operator(rig):
    rig.badge(ZHANG)
    rig.weight(130)
    rig.advance(5)
    rig.badge(WANG)
    assert "红烧肉" in rig.last_said()
    rig.weight(130)
    assert [r["data"]["dish"] for r in rig.records("food_sample")] == ["番茄炒蛋", "红烧肉"]
    assert rig.records("food_sample")[1]["operator"]["staff_id"] == "S003"


def test_minimum_and_keep_hours_are_configurable(tmp_path):
    cfg = station_config(tmp_path, STATION, site={"menu": MENU},
                         rules={"food_sample": {"min_grams": 150, "keep_hours": 72}})
    rig = Rig(cfg, LUNCH)
    rig.badge(ZHANG)
    rig.weight(140)
    [record] = rig.records("food_sample")
    assert record["verdict"] == "fail" and record["data"]["min_grams"] == 150
    assert record["data"]["kept_until"] == "2026-12-03T11:50:00+08:00"
    rig.close()


def test_numbered_dishes_without_a_menu(tmp_path):
    rig = Rig(station_config(tmp_path, STATION), LUNCH)
    rig.badge(ZHANG)
    rig.weight(130)
    rig.weight(140)
    rig.text("5")
    rig.weight(150)
    assert [r["data"]["dish"] for r in rig.records("food_sample")] == ["菜品1", "菜品2", "菜品5"]
    rig.close()


def test_platform_menu_for_today_wins(rig):
    rig.store.kv_set(menu_key(date(2026, 11, 30)), {"day": "2026-11-30", "meals": {"lunch": ["宫保鸡丁"]}})
    rig.badge(ZHANG)
    rig.weight(130)
    assert rig.records("food_sample")[0]["data"]["dish"] == "宫保鸡丁"


def test_another_days_platform_menu_is_not_todays(rig):
    rig.store.kv_set(menu_key(date(2026, 11, 29)), {"day": "2026-11-29", "meals": {"lunch": ["宫保鸡丁"]}})
    rig.store.kv_set(menu_key(date(2026, 12, 1)), {"day": "2026-12-01", "meals": {"lunch": ["鱼香肉丝"]}})
    rig.badge(ZHANG)
    rig.weight(130)
    assert rig.records("food_sample")[0]["data"]["dish"] == "番茄炒蛋"


def test_meal_from_the_time_of_day(tmp_path):
    rig = Rig(station_config(tmp_path, STATION, site={"menu": MENU}),
              datetime(2026, 11, 30, 6, 10, tzinfo=TZ))  # 50 min before breakfast
    rig.badge(ZHANG)
    rig.weight(130)
    record = rig.records("food_sample")[0]
    assert (record["data"]["meal"], record["data"]["dish"]) == ("breakfast", "米饭")
    rig.clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=TZ))
    rig.badge(WANG)
    assert "不在餐次时间" in rig.last_said()
    rig.weight(130)
    assert len(rig.records("food_sample")) == 1
    rig.close()


def test_weight_without_badge_and_unknown_badge(rig):
    rig.weight(130)
    assert "请先刷卡" in rig.last_said()
    rig.badge(UNKNOWN)
    rig.weight(130)
    assert rig.records("food_sample") == []
    assert "未登记的工卡" in rig.said()[-2]


def test_session_times_out_and_tare_is_subtracted(tmp_path):
    rig = Rig(station_config(tmp_path, {**STATION, "tare_g": 20.0, "session_timeout_s": 60},
                             site={"menu": MENU}), LUNCH)
    rig.badge(ZHANG)
    rig.weight(151.0)
    assert rig.records("food_sample")[0]["data"]["grams"] == 131.0
    rig.advance(61)
    assert "留样结束" in rig.last_said()
    rig.weight(150)
    assert len(rig.records("food_sample")) == 1 and "请先刷卡" in rig.last_said()
    rig.close()
