"""Fleet load: simulated agents, each its own MQTT client, against Mosquitto and the
reference platform in two processes sharing the load; nothing may be lost."""

from __future__ import annotations

import pytest

from simulator.fleet import (
    FleetSettings,
    FleetStats,
    SimAgent,
    make_envelope,
    percentiles,
    run_with_platform,
)
from simulator.platform.validate import SchemaValidator


def test_envelopes_are_valid_v1_records():
    validator = SchemaValidator()
    for seq in range(1, 9):
        envelope = make_envelope("fleet-x-00001", seq)
        assert envelope["seq"] == seq and envelope["agent_id"] == "fleet-x-00001"
        assert validator.problem(envelope["type"], envelope) is None


def test_each_agent_is_its_own_client_with_its_own_subtree():
    settings = FleetSettings(agents=3, tag="t1")
    stats = FleetStats()
    agents = [SimAgent(settings.agent_id(i), settings, stats) for i in range(3)]
    assert [a.client._client_id.decode() for a in agents] == [a.agent_id for a in agents]
    assert len({a.root for a in agents}) == 3
    assert all(a.root == f"scfs/v1/{a.agent_id}" for a in agents)


def test_percentiles_in_ms():
    got = percentiles([i / 1000 for i in range(1, 101)])
    assert got["p50"] == pytest.approx(51) and got["p99"] == pytest.approx(100) and got["max"] == 100


def _assert_clean(report, agents):
    assert report.agents_ready == agents
    assert report.sent > 0
    assert report.lost == 0, report.format()
    assert report.acked == report.sent
    assert report.platform_stored == report.sent  # every acked id stored, once
    assert report.latency_ms["p99"] >= report.latency_ms["p50"] > 0


def test_small_fleet_loses_nothing(tmp_path):
    settings = FleetSettings(agents=20, duration_s=5, rate_per_agent=2.0, grace_s=30)
    report = run_with_platform(settings, platforms=2, workdir=tmp_path, start_broker=True)
    _assert_clean(report, 20)
    # both instances of the share group took part
    stored = [int(line.split("stored=")[1].split()[0]) for line in report.platform_instances_lines]
    assert len(stored) == 2 and all(n > 0 for n in stored) and sum(stored) == report.sent


@pytest.mark.soak
def test_thousand_agents_for_a_minute(tmp_path):
    settings = FleetSettings(agents=1000, duration_s=60, rate_per_agent=0.5, grace_s=60)
    report = run_with_platform(settings, platforms=2, workdir=tmp_path, start_broker=True)
    print(report.format())
    _assert_clean(report, 1000)
