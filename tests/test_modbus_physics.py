"""The simulator's physics follow the scenario clock (pure functions of scenario time)."""

from __future__ import annotations

import pytest

from simulator.devices.modbus_physics import (
    CabinetCycle,
    DisinfectionCabinetModel,
    FailingFridgeModel,
    FridgeModel,
    RunContactsModel,
    ScenarioClock,
    freezer_model,
)


def test_clock_accelerates_and_advances() -> None:
    real = [100.0]
    clock = ScenarioClock(speed=60, real=lambda: real[0])
    real[0] += 1.0
    assert clock.now() == pytest.approx(60.0)
    clock.advance(600)
    assert clock.now() == pytest.approx(660.0)
    clock.set_speed(0)
    real[0] += 5
    assert clock.now() == pytest.approx(660.0)


def test_fridge_cycles_within_band_and_door_warms_it() -> None:
    fridge = FridgeModel(door_openings=[(300, 60)])
    temps = [FridgeModel().temperature_c(t) for t in range(0, 2400, 10)]
    assert 2.0 <= min(temps) and max(temps) <= 6.0
    assert fridge.temperature_c(360) > FridgeModel().temperature_c(360) + 1.0
    assert fridge.values(330)["humidity_pct"] > fridge.values(200)["humidity_pct"]


def test_failing_fridge_climbs_out_of_range() -> None:
    fridge = FailingFridgeModel(fail_at_s=600)
    assert fridge.temperature_c(500) <= 6.0
    assert fridge.temperature_c(4000) > 8.0
    assert fridge.temperature_c(8000) > fridge.temperature_c(4000)


def test_freezer_stays_below_minus_12() -> None:
    freezer = freezer_model()
    assert max(freezer.temperature_c(t) for t in range(0, 3600, 30)) < -12.0


def test_cabinet_heats_holds_and_cools() -> None:
    cabinet = DisinfectionCabinetModel([CabinetCycle(start_s=60)])
    assert cabinet.temperature_c(0) == 25.0
    assert 25 < cabinet.temperature_c(400) < 120
    assert cabinet.temperature_c(1200) == pytest.approx(125, abs=1.01)
    assert cabinet.temperature_c(4000) < 40


def test_aborted_cycles_never_hold_at_target() -> None:
    weak = DisinfectionCabinetModel([CabinetCycle(start_s=0, peak_c=95)])
    assert max(weak.temperature_c(t) for t in range(0, 3000, 10)) < 97
    cut = DisinfectionCabinetModel([CabinetCycle(start_s=0, cut_after_s=900)])
    assert cut.temperature_c(890) > 120
    assert cut.temperature_c(1500) < 100


def test_run_contacts() -> None:
    uv = RunContactsModel({"run": [(120, 1800)]})
    assert uv.values(100) == {"run": 0.0}
    assert uv.values(1000) == {"run": 1.0}
    assert uv.values(1920) == {"run": 0.0}
