"""One bounded back-off (drivers/backoff.py) for every retry loop: no overflow after any number of failures."""

from __future__ import annotations

from types import SimpleNamespace

from agent.config.broker import BrokerConfig
from agent.uplink.uplink import Uplink
from drivers.backoff import Backoff
from drivers.modbus.config import ModbusDeviceConfig
from drivers.modbus.device_state import PolledDevice
from drivers.modbus.profiles import load_profiles

FAILURES = 10_000  # ~13 h of a dead broker overflowed the old 2 ** n at n = 1024


def test_delays_grow_then_stay_at_the_cap() -> None:
    backoff = Backoff(0.5, 10.0)
    assert [backoff.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(FAILURES) == 10.0
    delays = backoff.delays()
    assert max(next(delays) for _ in range(FAILURES)) == 10.0


def test_jitter_stays_within_half_and_full_delay() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0.5)
    assert backoff.delay(FAILURES, rand=lambda: 0.0) == 60.0
    assert backoff.delay(FAILURES, rand=lambda: 1.0) == 30.0


def test_degenerate_settings_never_raise() -> None:
    assert Backoff(5.0, 1.0).delay(FAILURES) == 1.0  # initial above the cap
    assert Backoff(1.0, 10.0, factor=1.0).delay(FAILURES) == 1.0
    assert Backoff(1e-9, 1e9, factor=1.0001).delay(FAILURES) <= 1e9


def test_uplink_reconnect_after_10000_failed_connects() -> None:
    broker = BrokerConfig(reconnect_min_s=1.0, reconnect_max_s=60.0)
    delays = [Uplink._backoff(SimpleNamespace(broker=broker), n) for n in range(FAILURES)]  # type: ignore[arg-type]
    assert all(0.5 <= d <= 60.0 for d in delays)
    assert delays[-1] >= 30.0


def test_dead_modbus_device_probe_interval_is_capped() -> None:
    profile = next(iter(load_profiles().values()))
    config = ModbusDeviceConfig(id="fridge-1", slave=1, profile=profile.id, poll_s=1.0)
    device = PolledDevice.build(config, profile, bus_timeout_s=0.2)
    backoffs = []
    for n in range(FAILURES):
        device.schedule_after_failure(float(n), silent_after=3, backoff_max_s=120.0)
        backoffs.append(device.backoff_s)
    assert backoffs[:5] == [0.0, 0.0, 2.0, 4.0, 8.0]
    assert backoffs[-1] == 120.0
