"""Cabinet cycles from the temperature curve (and run contact) → ThermalDisinfection records and alarms.

Curves come from the simulator's cabinet physics, sampled every 10 s on a ManualClock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from agent.workflows.disinfection import cycle_key, meal_of, seconds_above
from agent.workflows.modbus_points import ModbusRoleError, check_points, point_roles
from simulator.devices.modbus_physics import CabinetCycle, DisinfectionCabinetModel
from tests.conftest import TZ
from tests.fixtures_modbus_records import Rig, modbus_config

AFTER_LUNCH = datetime(2026, 11, 30, 13, 10, tzinfo=TZ)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(modbus_config(tmp_path), AFTER_LUNCH)
    yield rig
    rig.close()


def play(rig: Rig, model: DisinfectionCabinetModel, until_s: float, *, from_s: float = 0.0,
         device: str = "cabinet-1", step_s: float = 10.0) -> None:
    """Feed the model's curve as readings at scenario seconds from_s..until_s."""
    t = from_s
    while t <= until_s:
        rig.clock.set(rig.start + timedelta(seconds=t))
        rig.feed(device, temperature_c=round(model.temperature_c(t), 1))
        t += step_s


def test_good_cycle_is_one_passing_record(rig):
    play(rig, DisinfectionCabinetModel([CabinetCycle(start_s=60)]), 4000)
    [record] = rig.records("tableware_disinfection")
    data = record["data"]
    assert record["verdict"] == "pass" and record["findings"] == []
    assert data["device_id"] == "cabinet-1" and data["method"] == "infrared_cabinet"
    assert (data["target_c"], data["required_s"], data["cut_short"]) == (120.0, 600.0, False)
    assert data["peak_c"] == pytest.approx(126.0, abs=0.2)
    assert 900 <= data["seconds_at_target"] <= 1000  # ~36 s up to 125, 900 s held at 125 +- 1, ~31 s down
    started = datetime.fromisoformat(data["started_at"]) - rig.start
    assert timedelta(seconds=160) <= started <= timedelta(seconds=180)  # 40 degC = ambient 25 + 15
    assert data["meal"] == "lunch"  # 13:13, within lunch end + 120 min
    assert record["source"] == {"device_id": "cabinet-1", "kind": "modbus"}
    assert rig.alarms() == [] and rig.store.kv_get(cycle_key("cabinet-1")) is None


def test_cycle_that_never_reaches_target_fails_and_alarms(rig):
    play(rig, DisinfectionCabinetModel([CabinetCycle(start_s=60, peak_c=95.0)]), 4000)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "fail" and record["findings"] == ["cabinet_below_target"]
    assert record["data"]["cut_short"] is False and record["data"]["seconds_at_target"] == 0
    [alarm] = rig.alarms()
    assert alarm["data"]["kind"] == "disinfection_failed" and alarm["data"]["state"] == "raised"
    assert alarm["data"]["subject"] == {"device_id": "cabinet-1", "cycle_id": record["id"]}
    assert alarm["data"]["details"]["findings"] == ["cabinet_below_target"]


def test_cycle_cut_short_fails_and_alarms(rig):
    play(rig, DisinfectionCabinetModel([CabinetCycle(start_s=60, cut_after_s=900)]), 4000)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "fail"
    assert set(record["findings"]) == {"hold_too_short", "cycle_cut_short"}
    assert record["data"]["cut_short"] is True
    assert 150 <= record["data"]["seconds_at_target"] <= 300
    assert [a["data"]["kind"] for a in rig.alarms()] == ["disinfection_failed"]


def test_each_failed_cycle_alarms_and_the_next_pass_clears_them(rig):
    model = DisinfectionCabinetModel([CabinetCycle(start_s=0, peak_c=95.0),
                                      CabinetCycle(start_s=4000, cut_after_s=800),
                                      CabinetCycle(start_s=8000)])
    play(rig, model, 7900)
    assert len(rig.open_alarm_kinds()) == 2  # one per failed cycle
    play(rig, model, 12000, from_s=7900)
    verdicts = [r["verdict"] for r in rig.records("tableware_disinfection")]
    assert verdicts == ["fail", "fail", "pass"]
    assert [a["data"]["state"] for a in rig.alarms()] == ["raised", "raised", "cleared", "cleared"]
    assert rig.store.open_alarms() == []


def test_restart_mid_cycle_carries_on(rig):
    model = DisinfectionCabinetModel([CabinetCycle(start_s=60)])
    play(rig, model, 1000)
    assert rig.store.kv_get(cycle_key("cabinet-1"))["peak_c"] > 120
    rig.restart()
    play(rig, model, 4000, from_s=1010)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "pass" and record["findings"] == []
    assert 900 <= record["data"]["seconds_at_target"] <= 1000


def test_agent_down_during_the_hold_counts_only_what_it_saw(rig):
    model = DisinfectionCabinetModel([CabinetCycle(start_s=60, hold_s=1500)])
    play(rig, model, 1000)
    rig.restart()  # down from 1000 s to 1300 s
    play(rig, model, 5000, from_s=1300)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "warn" and record["findings"] == ["readings_gap"]
    assert 1200 <= record["data"]["seconds_at_target"] <= 1300  # ~1567 minus the 300 s unseen


def test_single_spike_is_not_a_cycle(rig):
    rig.curve("cabinet-1", [25.0] * 10 + [180.0] + [25.0] * 10)
    assert rig.records("tableware_disinfection") == [] and rig.alarms() == []


def _contact(rig: Rig, on: bool) -> None:
    rig.feed("io-1", run=0.0, run_2=0.0, run_3=1.0 if on else 0.0)


def test_contact_starts_and_ends_a_steam_cycle(rig):
    _contact(rig, False)
    rig.curve("cabinet-2", [24.0] * 6)
    _contact(rig, True)
    contact_on = rig.clock()
    rig.curve("cabinet-2", [30, 45, 60, 75, 90, 101] + [103] * 72)  # 12 min at 103 (target 100)
    _contact(rig, False)
    contact_off = rig.clock()
    rig.curve("cabinet-2", [95, 85, 75, 65, 55, 45, 35] + [26] * 6)
    [record] = rig.records("tableware_disinfection")
    data = record["data"]
    assert record["verdict"] == "pass"
    assert (data["method"], data["target_c"], data["required_s"]) == ("steam", 100.0, 600.0)
    assert datetime.fromisoformat(data["started_at"]) == contact_on
    assert datetime.fromisoformat(data["ended_at"]) == contact_off


def test_contact_opened_early_is_a_cut_short_cycle(rig):
    _contact(rig, False)
    rig.curve("cabinet-2", [24.0] * 6)
    _contact(rig, True)
    rig.curve("cabinet-2", [40, 70, 101] + [103] * 30)  # 5 min at target
    _contact(rig, False)
    rig.curve("cabinet-2", [96, 80, 60, 40, 30] + [26] * 6)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "fail" and record["data"]["cut_short"] is True
    assert "cycle_cut_short" in record["findings"]
    assert [a["data"]["kind"] for a in rig.alarms()] == ["disinfection_failed"]


def test_cycle_outside_meal_windows_has_no_meal(rig):
    rig.clock.set(datetime(2026, 11, 30, 22, 0, tzinfo=TZ))
    rig.start = rig.clock()
    play(rig, DisinfectionCabinetModel([CabinetCycle(start_s=60)]), 4000)
    [record] = rig.records("tableware_disinfection")
    assert record["data"]["meal"] is None


def test_meal_of_uses_window_plus_deadline(config):
    at = datetime(2026, 11, 30, 14, 59, tzinfo=TZ)
    assert meal_of(config, at) == "lunch"
    assert meal_of(config, at + timedelta(minutes=2)) is None
    assert meal_of(config, datetime(2026, 11, 30, 7, 45, tzinfo=TZ)) == "breakfast"


def test_seconds_above_interpolates():
    t0 = datetime(2026, 1, 1, tzinfo=TZ)
    t1 = t0 + timedelta(seconds=10)
    assert seconds_above(t0, 110, t1, 130, 120) == pytest.approx(5)
    assert seconds_above(t0, 121, t1, 125, 120) == 10
    assert seconds_above(t0, 100, t1, 119, 120) == 0


@pytest.mark.parametrize(("device", "message"), [
    ({"id": "io-1", "profile": "di-module-4ch", "role": "cabinet_contact", "cabinet": "nope"}, "cabinet_contact needs"),
    ({"id": "cab", "profile": "cabinet-pt100", "role": "cabinet", "method": "microwave"}, "microwave"),
    ({"id": "x", "profile": "xy-md02", "role": "fridge", "cabinet": "cab"}, "only for role cabinet_contact"),
    ({"id": "x", "profile": "xy-md02", "role": "fridgee"}, "unknown role"),
])
def test_inconsistent_roles_are_config_errors(tmp_path, device, message):
    with pytest.raises(ValidationError, match=message):
        modbus_config(tmp_path, [device])


def test_role_point_missing_from_the_profile_is_an_error(tmp_path):
    # the config itself refuses it (so check-config does), with the profile's points
    with pytest.raises(ValueError, match="watches point 'temp'.*humidity_pct, temperature_c"):
        modbus_config(tmp_path, [{"id": "x", "profile": "xy-md02", "role": "fridge", "point": "temp"}])
    roles = point_roles(modbus_config(tmp_path, [{"id": "x", "profile": "xy-md02", "role": "fridge"}]))
    with pytest.raises(ModbusRoleError, match="temperature_c"):
        check_points(roles, {"x": {"temp"}})


@pytest.mark.parametrize(("first_s", "step_s", "then_s", "verdict"), [
    (270, +90, 270, "fail"),   # held 540 s of 600: an NTP step forward must not make it pass
    (330, -180, 330, "pass"),  # held 660 s: a step back must not make it fail and alarm
])
def test_clock_step_mid_hold_does_not_change_the_verdict(rig, first_s, step_s, then_s, verdict):
    rig.curve("cabinet-1", [25.0] * 6)
    rig.hold("cabinet-1", first_s, temperature_c=125.0)
    rig.clock.step(step_s)  # the wall clock is corrected; no time passes
    rig.hold("cabinet-1", then_s, temperature_c=125.0)
    rig.curve("cabinet-1", [25.0] * 6)
    [record] = rig.records("tableware_disinfection")
    held = record["data"]["seconds_at_target"]
    assert first_s + then_s - 10 <= held <= first_s + then_s  # the monotonic seconds, not the wall's
    assert record["verdict"] == verdict
    assert [a["data"]["kind"] for a in rig.alarms()] == (["disinfection_failed"] if verdict == "fail" else [])


def test_clock_step_forward_while_readings_flow_does_not_abandon_the_cycle(rig):
    rig.curve("cabinet-1", [25.0] * 6)
    rig.hold("cabinet-1", 300, temperature_c=125.0)
    rig.clock.step(3600)  # an hour ahead on the wall: longer than abandon_after (30 min)
    rig.tick()
    rig.hold("cabinet-1", 400, temperature_c=125.0)
    rig.curve("cabinet-1", [25.0] * 6)
    [record] = rig.records("tableware_disinfection")
    assert record["verdict"] == "pass" and record["findings"] == []
