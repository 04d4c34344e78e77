"""The hand-disinfection station: a chlorine soak or hand steaming entered at a keypad,
judged by the same rules as the devices (250 mg/L for 5 min; steam 10 min)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import TZ
from tests.fixtures_serial_stations import ZHANG, Rig, station_config

STATION = {"kind": "hand_disinfection", "badge": "badge-1", "keypad": "keypad-1"}
LUNCH = datetime(2026, 11, 30, 12, 40, tzinfo=TZ)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(station_config(tmp_path, STATION), LUNCH)
    yield rig
    rig.close()


@pytest.mark.parametrize(("minutes", "verdict"), [("4", "fail"), ("6", "pass")])
def test_a_chlorine_soak_at_the_keypad_is_held_to_five_minutes(rig, minutes, verdict):
    rig.badge(ZHANG)
    assert "1=含氯消毒液浸泡" in rig.last_said()
    rig.text("1")
    assert "有效氯" in rig.last_said()
    rig.text("250")
    assert "浸泡时长" in rig.last_said()
    rig.text(minutes)
    [record] = rig.records("tableware_disinfection")
    data = record["data"]
    assert (record["verdict"], data["method"], data["by_hand"], data["meal"]) == (verdict, "chlorine", True, "lunch")
    assert (data["chlorine_mg_per_l"], data["immersion_min"], data["device_id"]) == (250.0, float(minutes), "manual")
    assert ("请重新消毒" if verdict == "fail" else "已记录") in rig.last_said()


def test_steaming_by_hand_and_bad_keys(rig):
    rig.badge(ZHANG)
    rig.text("7")
    assert "请选择" in rig.last_said()
    rig.text("2")
    rig.text("abc")
    assert "请输入数字" in rig.last_said() and rig.records("tableware_disinfection") == []
    rig.text("12")
    [record] = rig.records("tableware_disinfection")
    assert (record["data"]["method"], record["verdict"], record["data"]["seconds_at_target"]) == ("steam", "pass", 720)


@pytest.fixture
def premises_rig(tmp_path):
    rig = Rig(station_config(tmp_path, STATION, schedules={"uv_rooms": ["kitchen", "dining_hall"]}), LUNCH)
    yield rig
    rig.close()


@pytest.mark.parametrize(("mg", "minutes", "verdict", "findings"), [
    ("500", "30", "pass", []), ("200", "30", "fail", ["concentration_below_target"]),
    ("500", "20", "fail", ["contact_too_short"])])
def test_premises_sprayed_with_chlorine_at_the_keypad_is_judged_and_counts_for_the_room(
        premises_rig, mg, minutes, verdict, findings):
    rig = premises_rig
    rig.badge(ZHANG)
    assert "3=场所喷洒" in rig.last_said()
    rig.text("3")
    assert "消毒剂" in rig.last_said()
    rig.text("1")
    assert "有效氯" in rig.last_said()
    rig.text(mg)
    assert "1=厨房 2=餐厅" in rig.last_said()
    rig.text("5")  # no fifth room: asked again, nothing written
    assert "请选择区域" in rig.last_said() and rig.records("premises_disinfection") == []
    rig.text("2")
    assert "作用时长" in rig.last_said()
    rig.text(minutes)
    [record] = rig.records("premises_disinfection")
    data = record["data"]
    assert (record["verdict"], record["findings"], data["method"], data["room"], data["area"]) == (
        verdict, findings, "spray", "dining_hall", "餐厅")
    assert (data["concentration_mg_per_l"], data["min_concentration_mg_per_l"], data["minutes"],
            data["target_minutes"], data["device_id"]) == (float(mg), 250.0, float(minutes), 30.0, "manual")
    assert data["agent"] == "含氯消毒液 chlorine"
    assert ("请重新消毒" if verdict == "fail" else "已记录") in rig.last_said()


def test_premises_wiped_with_alcohol_counts_in_todays_duties(premises_rig):
    from agent.schedule.due import what_is_due

    rig = premises_rig
    rig.badge(ZHANG)
    rig.text("4")
    rig.text("9")  # not a disinfectant
    assert "请选择消毒剂" in rig.last_said()
    rig.text("2")
    assert "请选择区域" in rig.last_said()
    rig.text("1")
    rig.text("abc")
    assert "请输入数字" in rig.last_said() and rig.records("premises_disinfection") == []
    rig.text("35")
    [record] = rig.records("premises_disinfection")
    assert (record["verdict"], record["data"]["method"], record["data"]["room"]) == ("pass", "wipe", "kitchen")
    assert record["data"]["min_concentration_mg_per_l"] is None
    runs = {item.subject["room"]: item.is_done for item in what_is_due(rig.store, rig.config, rig.clock())
            if item.duty == "uv_run"}
    assert runs == {"kitchen": True, "dining_hall": False}
