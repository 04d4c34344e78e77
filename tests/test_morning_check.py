"""Morning check workflow: readings on a ManualClock in, records / alarms / duty / feedback out."""

from __future__ import annotations

import pytest

from agent.stations.morning_check.workflow import parse_answers
from tests.fixtures_serial_stations import LI, UNKNOWN, WANG, ZHANG, Rig, station_config

STATION = {"kind": "morning_check", "badge": "badge-1", "thermometer": "thermo-1"}


@pytest.fixture
def rig(tmp_path, morning):
    rig = Rig(station_config(tmp_path, STATION), morning)
    yield rig
    rig.close()


def test_normal_temperature_passes_and_person_is_fit(rig):
    rig.badge(ZHANG)
    assert "请测温" in rig.last_said()
    rig.advance(2)
    rig.temperature(36.5)
    [record] = rig.records("staff_health_check")
    assert record["verdict"] == "pass" and record["findings"] == []
    data = record["data"]
    assert (data["staff_id"], data["temperature_c"], data["attempt"], data["recheck_of"]) == ("S001", 36.5, 1, None)
    assert data["normal_range_c"] == [35.9, 37.3] and data["fit_for_duty"] is True
    assert record["operator"] == {"staff_id": "S001", "badge": ZHANG}
    assert record["source"] == {"device_id": "thermo-1", "kind": "ir_thermometer"}
    assert rig.last_said() == "张三 36.5 °C 合格 / OK"
    assert rig.store.duty("2026-11-30", "S001")["fit"] == 1
    assert rig.store.open_alarms() == []


def test_fever_fails_raises_alarm_and_marks_unfit(rig):
    rig.badge(ZHANG)
    rig.temperature(37.8)
    [record] = rig.records("staff_health_check")
    assert record["verdict"] == "fail" and record["findings"] == ["fever"]
    assert record["data"]["fit_for_duty"] is False
    duty = rig.store.duty("2026-11-30", "S001")
    assert duty["fit"] == 0 and duty["record_id"] == record["id"] and "fever" in duty["reason"]
    [alarm] = rig.records("alarm")
    assert alarm["data"]["kind"] == "fever" and alarm["data"]["state"] == "raised"
    assert alarm["data"]["subject"] == {"staff_id": "S001", "day": "2026-11-30"}
    assert alarm["data"]["details"]["record_id"] == record["id"]
    assert "温度异常，请复测" in rig.last_said() and "不得上岗" in rig.last_said()
    assert rig.screen.messages[-1].level == "error"


def test_recheck_is_kept_beside_the_first_and_does_not_clear_a_fever(rig):
    rig.badge(ZHANG)
    rig.temperature(37.9)
    rig.advance(300)
    rig.badge(ZHANG)
    rig.temperature(37.0)
    first, second = rig.records("staff_health_check")
    assert second["data"]["attempt"] == 2 and second["data"]["recheck_of"] == first["id"]
    # the measurement passed, but the person left their post until a manager clears them
    assert second["data"]["temperature_c"] == 37.0 and second["data"]["fit_for_duty"] is False
    assert second["verdict"] == "warn" and second["findings"] == ["excluded_earlier_today"]
    assert rig.store.duty("2026-11-30", "S001")["fit"] == 0
    assert "复测正常" in rig.last_said() and "停岗" in rig.last_said()
    # the screen: the reading is normal, the person still off duty: amber, not a large red "fail"
    screen = rig.screen.messages[-1].screen
    assert screen is not None and (screen.verdict, screen.next_step) == ("off_duty", "see_manager")
    assert rig.screen.messages[-1].level == "warn" and "不合格" not in rig.last_said()
    # a third check still points at the day's first
    rig.advance(300)
    rig.badge(ZHANG)
    rig.temperature(36.6)
    third = rig.records("staff_health_check")[2]
    assert third["data"]["attempt"] == 3 and third["data"]["recheck_of"] == first["id"]
    assert len(rig.records("alarm")) == 1  # one fever alarm per person and day


def test_next_day_starts_afresh(rig):
    rig.badge(ZHANG)
    rig.temperature(38.2)
    rig.advance(24 * 3600)
    rig.badge(ZHANG)
    rig.temperature(36.4)
    later = rig.records("staff_health_check")[1]
    assert later["data"]["attempt"] == 1 and later["verdict"] == "pass" and later["data"]["fit_for_duty"]
    assert rig.store.duty("2026-12-01", "S001")["fit"] == 1


def test_unknown_badge_gives_feedback_and_no_record(rig):
    rig.badge(UNKNOWN)
    rig.temperature(36.5)
    assert rig.records("staff_health_check") == []
    assert rig.said() == ["未登记的工卡 / unknown badge"]
    # the log gets a masked card, never the number
    assert UNKNOWN not in rig.screen.messages[0].log_text


def test_no_temperature_in_time_gives_feedback_and_no_record(rig):
    rig.badge(ZHANG)
    rig.advance(29)
    assert rig.records("staff_health_check") == []
    rig.advance(2)  # the 30 s window has passed
    assert "未测到体温" in rig.last_said()
    rig.temperature(36.5)  # too late: nobody's session
    assert rig.records("staff_health_check") == []


def test_window_is_configurable(tmp_path, morning):
    cfg = station_config(tmp_path, STATION, rules={"morning_check": {"temperature_window_s": 5}})
    rig = Rig(cfg, morning)
    rig.badge(ZHANG)
    rig.advance(6)
    assert "未测到体温" in rig.last_said()
    rig.close()


def test_expired_health_certificate_is_a_finding(rig):
    rig.badge(LI)
    rig.temperature(36.6)
    [record] = rig.records("staff_health_check")
    assert record["verdict"] == "fail" and record["findings"] == ["health_certificate_expired"]
    assert record["data"]["health_cert_expires_on"] == "2026-11-01" and record["data"]["fit_for_duty"] is False
    assert "健康证已过期" in rig.last_said()
    assert rig.records("alarm") == []  # not a fever


def test_certificate_about_to_expire_is_mentioned(rig):
    rig.badge(WANG)
    rig.temperature(36.6)
    assert rig.records("staff_health_check")[0]["verdict"] == "pass"
    assert "健康证 10 天后到期" in rig.last_said()


def test_low_reading_asks_for_a_recheck(rig):
    rig.badge(ZHANG)
    rig.temperature(35.0)
    [record] = rig.records("staff_health_check")
    assert record["verdict"] == "warn" and record["findings"] == ["temperature_low"]
    assert "请复测" in rig.last_said()


def test_a_forehead_no_person_has_is_measured_again_counted_and_not_recorded(rig):
    """Issue 21 item 10: a 44.9 °C frame (a hot pan, the sensor not aimed) was a fever."""
    rig.badge(WANG)
    for _ in range(5):
        rig.temperature(44.9)  # held on: one bad reading, counted once
    assert rig.records("staff_health_check") == [] and rig.records("alarm") == []
    assert "读数异常，请对准额头重新测温" in rig.last_said()
    assert rig.screen.messages[-1].level == "warn"
    assert rig.devices.snapshot()["thermo-1"]["implausible_readings"] == 1
    rig.temperature(33.0)  # the sensor not aimed: above the room, below any forehead
    assert rig.records("staff_health_check") == []
    assert rig.devices.snapshot()["thermo-1"]["implausible_readings"] == 2
    rig.temperature(36.6)  # measured again within the same session: recorded
    [record] = rig.records("staff_health_check")
    assert record["data"]["temperature_c"] == 36.6 and record["verdict"] == "pass"


def test_the_plausible_forehead_range_is_config(tmp_path, morning):
    rules = {"morning_check": {"plausible_range_c": [33.0, 44.0]}}
    rig = Rig(station_config(tmp_path, STATION, rules=rules), morning)
    rig.badge(WANG)
    rig.temperature(43.5)  # plausible here: a fever
    [record] = rig.records("staff_health_check")
    assert record["findings"] == ["fever"]
    rig.close()
    for bad in ([36.0, 43.0], [34.0, 46.0]):  # the normal range outside it; beyond a record's bounds
        with pytest.raises(ValueError, match="plausible_range_c"):
            station_config(tmp_path, STATION, rules={"morning_check": {"plausible_range_c": bad}})


def test_room_temperature_is_not_a_person(rig):
    rig.badge(ZHANG)
    for _ in range(5):
        rig.temperature(24.5)  # a streaming thermometer facing the room
    assert rig.records("staff_health_check") == []
    rig.temperature(36.7)
    assert rig.records("staff_health_check")[0]["data"]["temperature_c"] == 36.7


def test_streaming_thermometer_waits_for_steady_readings(tmp_path, morning):
    rig = Rig(station_config(tmp_path, {**STATION, "settle_readings": 3}), morning)
    rig.badge(ZHANG)
    for value in (33.0, 35.8, 36.4, 36.5):  # approaching the forehead
        rig.temperature(value)
    assert rig.records("staff_health_check") == []
    rig.temperature(36.6)
    assert rig.records("staff_health_check")[0]["data"]["temperature_c"] == 36.6
    rig.close()


def test_another_badge_replaces_an_unfinished_session(rig):
    rig.badge(ZHANG)
    rig.badge(WANG)
    assert "张三 未完成测温" in rig.said()[-2]
    rig.temperature(36.5)
    assert [r["data"]["staff_id"] for r in rig.records("staff_health_check")] == ["S003"]


def test_repeated_card_read_is_one_scan(rig):
    rig.badge(ZHANG)
    rig.badge(ZHANG)
    assert len(rig.said()) == 1


# --- answers from a keypad ---------------------------------------------------------------


@pytest.fixture
def keypad_rig(tmp_path, morning):
    rig = Rig(station_config(tmp_path, {**STATION, "keypad": "keypad-1", "answers_required": True}), morning)
    yield rig
    rig.close()


def test_answers_are_part_of_the_record(keypad_rig):
    rig = keypad_rig
    rig.badge(ZHANG)
    rig.temperature(36.5)
    assert rig.records("staff_health_check") == []  # waits for the answers
    assert "请输入症状" in rig.last_said()
    rig.text("25")
    [record] = rig.records("staff_health_check")
    assert record["data"]["hand_findings"] == ["ring"] and record["data"]["symptoms"] == []
    assert record["verdict"] == "warn" and record["findings"] == ["hand_ring"]


def test_excluding_symptom_fails(keypad_rig):
    rig = keypad_rig
    rig.badge(ZHANG)
    rig.text("12.21")
    rig.temperature(36.5)
    [record] = rig.records("staff_health_check")
    assert record["data"]["symptoms"] == ["diarrhoea"] and record["data"]["hand_findings"] == ["wound"]
    assert record["verdict"] == "fail" and record["data"]["fit_for_duty"] is False
    assert rig.store.duty("2026-11-30", "S001")["fit"] == 0


def test_fever_does_not_wait_for_answers(keypad_rig):
    rig = keypad_rig
    rig.badge(ZHANG)
    rig.temperature(38.0)  # recorded at once: the answers were not given (and are marked so)
    [record] = rig.records("staff_health_check")
    assert record["verdict"] == "fail" and record["findings"] == ["fever", "answers_missing"]
    assert rig.records("alarm")[0]["data"]["kind"] == "fever"


def test_missing_answers_still_record_the_measurement(keypad_rig):
    rig = keypad_rig
    rig.badge(ZHANG)
    rig.temperature(36.5)
    rig.advance(31)
    [record] = rig.records("staff_health_check")
    assert record["findings"] == ["answers_missing"] and record["verdict"] == "warn"


def test_bad_answer_is_refused_and_the_session_goes_on(keypad_rig):
    rig = keypad_rig
    rig.badge(ZHANG)
    rig.text("99")
    assert "无法识别" in rig.last_said()
    rig.text("0")
    rig.temperature(36.5)
    assert rig.records("staff_health_check")[0]["verdict"] == "pass"


def test_answer_grammar():
    names = (["diarrhoea", "vomiting"], ["wound", "ring"])
    assert parse_answers("0", *names).symptoms == []
    parsed = parse_answers("13 + 25, ring", *names)
    assert parsed.symptoms == ["vomiting"] and parsed.hands == ["ring"]
    assert parse_answers("diarrhoea", *names).symptoms == ["diarrhoea"]
    with pytest.raises(ValueError):
        parse_answers("77", *names)
    with pytest.raises(ValueError):
        parse_answers(" ", *names)


def test_health_data_never_reaches_the_log_in_clear(rig, caplog):
    caplog.set_level("DEBUG")
    rig.badge(ZHANG)
    rig.temperature(37.9)
    logged = caplog.text
    assert "37.9" not in logged and "张三" not in logged
    assert "staff=S001" in logged
