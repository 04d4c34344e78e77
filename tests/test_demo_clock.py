"""The demo's clock waits for the agent's readings while equipment runs (``LeashedClock``).

The real time it runs on is a value the test moves, so every figure is exact.
"""

from __future__ import annotations

import logging

import pytest

from simulator.demo.kitchen import LeashedClock


class RealTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def leashed(speed: float = 240.0, **kwargs: float) -> tuple[LeashedClock, RealTime]:
    real = RealTime()
    clock = LeashedClock(start_s=100.0, real=real, **kwargs)
    clock.set_speed(speed)
    return clock, real


def test_without_a_leash_it_runs_like_the_scenario_clock() -> None:
    clock, real = leashed()
    real.t += 2.0
    assert clock.now() == pytest.approx(100.0 + 480.0)
    clock.advance(60.0)
    assert clock.now() == pytest.approx(640.0)


def test_a_late_reading_holds_the_clock_and_it_runs_on_from_where_it_held() -> None:
    clock, real = leashed()
    with clock.leash(["cabinet-1", "cabinet-2"], 90.0):
        real.t += 0.25  # 60 simulated seconds: within the leash
        assert clock.now() == pytest.approx(160.0)
        clock.acknowledge("cabinet-1", 160.0)
        real.t += 2.0  # the machine is busy: no reading of cabinet-2 for 2 real seconds
        assert clock.now() == pytest.approx(190.0)  # held at its start + 90
        real.t += 1.0
        assert clock.now() == pytest.approx(190.0)
        assert clock.holds == 1
        clock.acknowledge("cabinet-2", 190.0)  # the late poll arrives, stamped at the held time
        assert clock.now() == pytest.approx(190.0)  # runs on from where it held: no jump
        assert clock.held_s == pytest.approx(1.0)  # real seconds it was seen waiting
        real.t += 1.0
        assert clock.now() == pytest.approx(250.0)  # now cabinet-1 (160) + 90 holds it
        clock.acknowledge("cabinet-1", 250.0)
        real.t += 0.1
        assert clock.now() == pytest.approx(250.0 + 24.0)  # runs on at speed from where it held
    real.t += 10.0
    assert clock.now() == pytest.approx(274.0 + 2400.0)  # the leash is off
    assert clock.holds == 2


def test_readings_of_a_watched_device_are_never_further_apart_than_the_leash() -> None:
    """However late each poll falls in real time, stamp to stamp stays within ahead_s."""
    clock, real = leashed()
    stamps = []
    with clock.leash(["cabinet-1"], 90.0):
        for late_s in (0.1, 0.5, 3.0, 0.2, 7.0, 0.05, 1.0):
            real.t += late_s
            stamp = clock.now()  # the driver stamps the reading ...
            real.t += late_s / 2  # ... and the agent's reading bus takes it later still
            clock.acknowledge("cabinet-1", stamp)
            stamps.append(stamp)
    gaps = [b - a for a, b in zip([100.0, *stamps], stamps, strict=False)]
    assert max(gaps) <= 90.0 + 1e-9 and min(gaps) > 0


def test_other_devices_and_frozen_time_are_not_held() -> None:
    clock, real = leashed(speed=0.0)
    with clock.leash(["cabinet-1"], 90.0):
        clock.acknowledge("fridge-1", 5000.0)  # not watched: ignored
        clock.advance(40.0)  # a person's step while frozen moves the leash with it
        real.t += 100.0
        assert clock.now() == pytest.approx(140.0)
        clock.set_speed(240.0)
        real.t += 0.375
        assert clock.now() == pytest.approx(230.0)
        real.t += 1.0
        assert clock.now() == pytest.approx(230.0)  # 140 + 90
        assert clock.holds == 1


def test_a_device_that_never_answers_lets_the_day_go_on(caplog: pytest.LogCaptureFixture) -> None:
    clock, real = leashed(patience_s=30.0)
    with caplog.at_level(logging.WARNING, logger="simulator.demo"), clock.leash(["cabinet-1"], 90.0):
        real.t += 1.0
        assert clock.now() == pytest.approx(190.0)
        real.t += 31.0
        assert clock.now() == pytest.approx(190.0)  # patience ran out here: let go
        real.t += 1.0
        assert clock.now() == pytest.approx(190.0 + 240.0)
    assert "no reading of cabinet-1" in caplog.text
