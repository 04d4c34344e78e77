"""UV lamp / ozone runs from run contacts → PremisesDisinfection records judged against rules.premises."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from agent.workflows.premises import run_key
from tests.conftest import TZ
from tests.fixtures_modbus_records import Rig, modbus_config

EVENING = datetime(2026, 11, 30, 19, 0, tzinfo=TZ)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(modbus_config(tmp_path), EVENING)
    yield rig
    rig.close()


def contacts(rig: Rig, seconds: float, *, uv: bool = False, ozone: bool = False) -> None:
    rig.hold("io-1", seconds, run=float(uv), run_2=float(ozone), run_3=0.0)


def test_uv_run_of_40_minutes_passes(rig):
    contacts(rig, 120)
    on_at = rig.clock()
    contacts(rig, 40 * 60, uv=True)
    off_at = rig.clock()
    contacts(rig, 120)
    [record] = rig.records("premises_disinfection")
    data = record["data"]
    assert record["verdict"] == "pass" and record["findings"] == []
    assert (data["device_id"], data["room"], data["method"]) == ("io-1", "kitchen", "uv_lamp")
    assert data["minutes"] == 40.0 and data["target_minutes"] == 30.0
    assert datetime.fromisoformat(data["started_at"]) == on_at
    assert datetime.fromisoformat(data["ended_at"]) == off_at
    assert record["source"] == {"device_id": "io-1", "kind": "modbus"}


def test_uv_run_of_20_minutes_fails(rig):
    contacts(rig, 60)
    contacts(rig, 20 * 60, uv=True)
    contacts(rig, 60)
    [record] = rig.records("premises_disinfection")
    assert record["verdict"] == "fail" and record["findings"] == ["uv_lamp_run_too_short"]
    assert record["data"]["minutes"] == 20.0


def test_ozone_channel_has_its_own_room_and_target(tmp_path):
    rig = Rig(modbus_config(tmp_path, rules={"premises": {"ozone_min_minutes": 45}}), EVENING)
    try:
        contacts(rig, 60)
        contacts(rig, 50 * 60, ozone=True)
        contacts(rig, 60)
        [record] = rig.records("premises_disinfection")
        assert (record["data"]["method"], record["data"]["room"]) == ("ozone", "store_room")
        assert record["data"]["target_minutes"] == 45.0 and record["verdict"] == "pass"
    finally:
        rig.close()


def test_uv_and_ozone_overlapping_are_two_runs(rig):
    contacts(rig, 60)
    contacts(rig, 10 * 60, uv=True)
    contacts(rig, 25 * 60, uv=True, ozone=True)
    contacts(rig, 10 * 60, ozone=True)
    contacts(rig, 60)
    runs = {r["data"]["method"]: r["data"]["minutes"] for r in rig.records("premises_disinfection")}
    assert runs == {"uv_lamp": 35.0, "ozone": 35.0}


def test_restart_during_a_run_keeps_its_start(rig):
    contacts(rig, 60)
    on_at = rig.clock()
    contacts(rig, 15 * 60, uv=True)
    rig.restart()
    contacts(rig, 20 * 60, uv=True)
    contacts(rig, 60)
    [record] = rig.records("premises_disinfection")
    assert datetime.fromisoformat(record["data"]["started_at"]) == on_at
    assert record["data"]["minutes"] == 35.0 and record["verdict"] == "pass"


def test_run_that_ended_while_the_agent_was_down_ends_at_the_last_sighting(rig):
    contacts(rig, 60)
    contacts(rig, 32 * 60, uv=True)
    last_on = rig.clock() - timedelta(seconds=10)
    assert rig.store.kv_get(run_key("io-1", "run")) is not None
    rig.restart()
    rig.clock.advance(600)  # down for 10 minutes; the lamp went off meanwhile
    contacts(rig, 60)
    [record] = rig.records("premises_disinfection")
    assert record["findings"] == ["readings_gap"] and record["verdict"] == "warn"
    # the last sighting saved before the restart: at most save_every_s (60 s) before the real one
    ended = datetime.fromisoformat(record["data"]["ended_at"])
    assert last_on - timedelta(seconds=60) <= ended <= last_on
    assert rig.store.kv_get(run_key("io-1", "run")) is None


def test_lamp_already_on_when_first_heard_says_so(rig):
    contacts(rig, 40 * 60, uv=True)
    contacts(rig, 60)
    [record] = rig.records("premises_disinfection")
    assert record["findings"] == ["run_start_not_seen"] and record["verdict"] == "warn"


def test_readings_stopping_mid_run_close_it(rig):
    contacts(rig, 60)
    contacts(rig, 35 * 60, uv=True)
    rig.clock.advance(31 * 60)
    rig.tick()
    [record] = rig.records("premises_disinfection")
    assert record["findings"] == ["readings_gap"] and 34.5 <= record["data"]["minutes"] <= 35.0


@pytest.mark.parametrize(("minutes", "step_s", "verdict"), [
    (29, +90, "fail"),   # 29 min of 30 with the clock stepped forward 90 s: still too short
    (33, -300, "pass"),  # 33 min with the clock stepped back 5 min: still long enough
])
def test_clock_step_during_a_uv_run_does_not_change_the_verdict(rig, minutes, step_s, verdict):
    contacts(rig, 120)
    contacts(rig, minutes * 60 / 2, uv=True)
    rig.clock.step(step_s)  # NTP corrects the wall clock mid-run; no time passes
    contacts(rig, minutes * 60 / 2, uv=True)
    contacts(rig, 120)
    [record] = rig.records("premises_disinfection")
    assert record["data"]["minutes"] == pytest.approx(minutes, abs=0.01)
    assert record["verdict"] == verdict
    assert record["findings"] == ([] if verdict == "pass" else ["uv_lamp_run_too_short"])
