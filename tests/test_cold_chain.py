"""Cold chain workflow: readings on a ManualClock → telemetry batches, hourly figures, alarms."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from agent.records.envelope import TelemetryBatch
from agent.uplink.topics import outbox_topic
from agent.workflows.cold_chain import hourly_stats
from drivers.readings import DeviceHealth, DeviceState
from tests.conftest import TZ
from tests.fixtures_modbus_records import Rig, modbus_config

START = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(modbus_config(tmp_path), START)
    yield rig
    rig.close()


def test_door_opening_shorter_than_grace_raises_nothing(rig):
    rig.hold("fridge-1", 600, temperature_c=4.0, humidity_pct=70)
    rig.hold("fridge-1", 15 * 60, temperature_c=10.5, humidity_pct=80)  # door open 15 min (grace 20)
    rig.hold("fridge-1", 600, temperature_c=4.5, humidity_pct=70)
    assert rig.alarms() == []


def test_sustained_excursion_raises_once_and_recovery_clears_once(rig):
    rig.hold("fridge-1", 300, temperature_c=4.0)
    warm_from = rig.clock()
    rig.hold("fridge-1", 40 * 60, temperature_c=11.0)
    rig.clock.advance(5)
    rig.feed("fridge-1", temperature_c=12.5)
    rig.hold("fridge-1", 300, temperature_c=4.0)
    raised, cleared = rig.alarms()
    assert (raised["data"]["kind"], raised["data"]["state"]) == ("cold_chain_high", "raised")
    assert raised["data"]["subject"] == {"device_id": "fridge-1"}
    assert datetime.fromisoformat(raised["occurred_at"]) == warm_from + timedelta(minutes=20)
    details = raised["data"]["details"]
    assert details["limit_c"] == 8.0 and details["extreme_c"] == 11.0 and details["room"] == "kitchen"
    assert details["hour"]["min_c"] == 4.0 and details["hour"]["max_c"] == 11.0
    assert (cleared["data"]["kind"], cleared["data"]["state"]) == ("cold_chain_high", "cleared")
    assert cleared["data"]["raised_id"] == raised["id"]
    assert rig.store.open_alarms() == []


def test_fridge_too_cold_raises_low(rig):
    rig.hold("fridge-1", 25 * 60, temperature_c=-1.5)
    [alarm] = rig.alarms()
    assert alarm["data"]["kind"] == "cold_chain_low" and alarm["data"]["details"]["limit_c"] == 0.0


def test_freezer_warming_alarms_but_deep_cold_does_not(rig):
    rig.hold("freezer-1", 30 * 60, temperature_c=-30.0, humidity_pct=50)
    assert rig.alarms() == []
    rig.hold("freezer-1", 25 * 60, temperature_c=-9.0, humidity_pct=50)
    [alarm] = rig.alarms()
    assert alarm["data"]["kind"] == "cold_chain_high" and alarm["data"]["subject"] == {"device_id": "freezer-1"}


def test_probe_hovering_on_the_limit_still_alarms(rig):
    """7.9 / 8.1 alternating: the dips do not restart the grace clock (hysteresis)."""
    for _ in range(80):  # 80 x 20 s = 26.7 min
        rig.feed("fridge-1", temperature_c=8.1)
        rig.clock.advance(10)
        rig.feed("fridge-1", temperature_c=7.9)
        rig.clock.advance(10)
    assert [a["data"]["kind"] for a in rig.alarms()] == ["cold_chain_high"]


def test_store_room_keeps_figures_but_never_alarms(rig):
    rig.hold("store-1", 40 * 60, temperature_c=30.0, humidity_pct=85)
    assert rig.alarms() == []
    assert hourly_stats(rig.store, "2026-11-30")["store-1"][0]["max_c"] == 30.0


def test_excursion_alarm_raised_on_tick_when_readings_stop(rig):
    rig.feed("fridge-1", temperature_c=12.0)
    rig.clock.advance(21 * 60)
    rig.tick()
    assert [a["data"]["kind"] for a in rig.alarms()] == ["cold_chain_high"]


def test_telemetry_downsampled_and_batched(rig):
    rig.hold("fridge-1", 11 * 60, temperature_c=4.0, humidity_pct=70)  # a reading every 10 s
    rig.clock.advance(600)
    rig.tick()  # flushes the last partial batch
    items = [i for i in rig.store.outbox_next(100) if i.kind == "telemetry"]
    batches = [json.loads(i.payload) for i in items]
    samples = [s for b in batches for s in b["samples"]]
    assert len(samples) == 11  # one per minute
    assert [len(b["samples"]) for b in batches] == [5, 5, 1]
    for item, batch in zip(items, batches, strict=True):
        TelemetryBatch.model_validate(batch)
        assert item.id == batch["id"] and uuid.UUID(batch["id"]).version == 7
        assert outbox_topic(item) == "tele/fridge-1" and batch["kind"] == "temp_humidity"
    times = [datetime.fromisoformat(s["t"]) for s in samples]
    assert all(b - a == timedelta(minutes=1) for a, b in zip(times, times[1:], strict=False))
    assert samples[0] == {"t": "2026-11-30T09:00:00.000+08:00", "temperature_c": 4.0, "humidity_pct": 70}
    stored = rig.store.query("SELECT count(*) FROM telemetry WHERE device_id='fridge-1'")[0][0]
    assert stored == 11


def test_hourly_min_max_mean_survive_a_restart(rig):
    rig.clock.set(datetime(2026, 11, 30, 9, 50, tzinfo=TZ))
    rig.curve("fridge-1", [3.0, 5.0] * 30, step_s=20)  # 09:50 - 10:10
    rig.restart()
    rig.curve("fridge-1", [7.0] * 6, step_s=60)  # 10:10 - 10:16, same hour after the restart
    rig.clock.set(datetime(2026, 11, 30, 11, 0, 30, tzinfo=TZ))
    rig.feed("fridge-1", temperature_c=4.0)  # a new hour saves the previous one in full
    nine, ten, eleven = hourly_stats(rig.store, "2026-11-30")["fridge-1"]
    assert nine == {"hour": "2026-11-30T09:00+08:00", "min_c": 3.0, "max_c": 5.0, "mean_c": 4.0, "n": 30}
    # saved once per downsample minute: the restart loses the two readings after 10:09:00
    assert ten["hour"] == "2026-11-30T10:00+08:00" and ten["n"] == 34
    assert (ten["min_c"], ten["max_c"]) == (3.0, 7.0)
    assert ten["mean_c"] == pytest.approx((14 * 3 + 14 * 5 + 6 * 7) / 34, abs=0.01)
    assert eleven["n"] == 1


def test_restart_during_an_open_alarm_still_clears_it(rig):
    rig.hold("fridge-1", 25 * 60, temperature_c=10.0)
    rig.restart()
    rig.hold("fridge-1", 60, temperature_c=4.0)
    assert [a["data"]["state"] for a in rig.alarms()] == ["raised", "cleared"]


def _health(device_id: str, state: DeviceState, at: datetime) -> DeviceHealth:
    return DeviceHealth(device_id=device_id, kind="modbus", state=state, at=at, detail="timeout")


def test_silent_probe_raises_device_offline_after_grace_and_clears_when_back(rig):
    rig.offline.on_health(_health("fridge-1", DeviceState.SILENT, rig.clock()))
    rig.clock.advance(4 * 60)
    rig.tick()
    assert rig.alarms() == []  # probe_silent_minutes is 5
    rig.clock.advance(61)
    rig.tick()
    rig.clock.advance(600)
    rig.tick()
    [raised] = rig.alarms()
    assert raised["data"]["kind"] == "device_offline" and raised["data"]["subject"] == {"device_id": "fridge-1"}
    assert raised["source"] == {"device_id": "fridge-1", "kind": "modbus"}
    rig.offline.on_health(_health("fridge-1", DeviceState.OK, rig.clock()))
    assert [a["data"]["state"] for a in rig.alarms("device_offline")] == ["raised", "cleared"]


def test_short_silence_raises_nothing(rig):
    rig.offline.on_health(_health("cabinet-1", DeviceState.DISCONNECTED, rig.clock()))
    rig.clock.advance(120)
    rig.tick()
    rig.offline.on_health(_health("cabinet-1", DeviceState.OK, rig.clock()))
    rig.clock.advance(600)
    rig.tick()
    assert rig.alarms() == []
