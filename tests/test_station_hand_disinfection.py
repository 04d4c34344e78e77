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
