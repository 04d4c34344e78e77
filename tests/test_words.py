"""Every identifier a person may meet has its words, Chinese first (issue 21): alarm kinds,
findings, device states and down reasons, record types; and what a record says of itself
(``brief``) reads as words, not as fields."""

from __future__ import annotations

import re
import typing
from datetime import datetime

from agent.records.alarm import AlarmData
from agent.records.findings import FINDINGS, finding_term
from agent.records.food_sample import FoodSample
from agent.records.rectification import Rectification
from agent.records.registry import RECORD_TYPES
from agent.records.staff_health_check import StaffHealthCheck
from agent.schedule.reminders import REMINDER_KINDS
from agent.stations.registry import KIND_WORDS as STATION_KINDS
from agent.stations.registry import ROLE_WORDS as STATION_ROLES
from agent.words.alarms import TITLES, closes_by_rectification
from agent.words.terms import DEVICE_STATES, DOWN_REASONS, device_state, down_reason
from drivers.readings import DeviceState, DownReason
from tests.conftest import REPO, TZ
from tests.helpers.untranslated import untranslated

AGENT = REPO / "agent"


def sources(*paths: str) -> str:
    files = [f for p in paths or (".",) for f in ((AGENT / p).rglob("*.py") if (AGENT / p).is_dir() else [AGENT / p])]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_every_finding_the_agent_writes_has_words() -> None:
    text = sources("records", "workflows", "stations", "vision")
    written = set(re.findall(r'(?:fails|warns|findings)\.append\("([a-z_]+)"\)', text))
    written |= set(re.findall(r'FINDING_[A-Z_]+ = "([a-z_]+)"', text))
    written |= set(re.findall(r'= \["([a-z_]+)"\] if', text)) | set(re.findall(r'else \["([a-z_]+)"\]', text))
    written |= {f"{method}_run_too_short" for method in ("uv_lamp", "ozone")} | {"no_mask", "no_hat"}
    assert {"fever", "underweight_sample", "readings_gap", "supplier_unknown"} <= written  # the search works
    missing = sorted(f for f in written if f not in FINDINGS and finding_term(f).en == "")
    assert missing == []
    assert str(finding_term("symptom_vomiting")) == "症状：呕吐 symptom: vomiting"
    assert str(finding_term("hand_ring")) == "手部：戴戒指 hands: ring"


def test_every_alarm_kind_the_agent_raises_has_a_title() -> None:
    text = sources()
    raised = set(re.findall(r'raise_alarm\(\s*"([a-z_]+)"', text))
    raised |= set(re.findall(r'^(?:ALARM|ALARM_KIND|FAILED_ALARM) = "([a-z_]+)"', text, re.M)) - {"alarm"}
    raised |= set(REMINDER_KINDS) | {"device_offline", "camera_offline", "cold_chain_high", "cold_chain_low",
                                     "no_mask", "no_hat", "fever"}
    assert {"clock_unsynced", "config_rolled_back", "storage_failed", "disk_budget"} <= raised
    assert sorted(k for k in raised if k not in TITLES) == []
    # the event alarm: a fever (an accepted complaint opens a 整改单, agent/social/tasks.py)
    assert [k for k in TITLES if closes_by_rectification(k)] == ["fever"]


def test_device_states_reasons_stations_and_roles_have_words() -> None:
    assert {s.value for s in DeviceState} <= set(DEVICE_STATES)
    assert {r for r in typing.get_args(DownReason) if r} == set(DOWN_REASONS)
    assert str(down_reason("port_open_failed")) == "串口打不开 serial port cannot be opened"
    assert str(device_state("disconnected")) == "未连接 not connected"
    from agent.config_file.model import STATION_DEVICE_KINDS
    from agent.stations.registry import STATION_REQUIRED

    assert set(STATION_REQUIRED) == set(STATION_KINDS) and set(STATION_DEVICE_KINDS) == set(STATION_ROLES)


def test_every_record_type_has_a_name_and_says_what_matters_in_words() -> None:
    at = datetime(2026, 11, 30, 11, 40, tzinfo=TZ)
    samples = [
        StaffHealthCheck(staff_id="S003", name="王五", temperature_c=37.9, normal_range_c=(35.9, 37.3),
                         symptoms=["vomiting"], hand_findings=["ring"], fit_for_duty=False, attempt=2),
        FoodSample(meal="lunch", dish="红烧肉", grams=98, min_grams=125, sampled_at=at, kept_until=at),
        Rectification(alarm_id="x", alarm_kind="device_offline", subject={"device_id": "thermo-1"},
                      action_text="换了串口线", resolved_by="boss", clears_alarm=False),
        AlarmData(kind="cold_chain_high", state="cleared", severity="info", subject={"device_id": "fridge-1"},
                  message="resolved: rectification 0192", closed_by=None),
    ]
    for model in RECORD_TYPES.values():
        assert model.title.zh and model.title.en, model.record_type
    lines = []
    for data in samples:
        for fact in data.brief():
            lines.append(f"{fact.label} {fact.text}")
    text = "\n".join(lines)
    assert untranslated(text) == [], text
    assert "体温 temperature 37.9 °C" in text and "症状 symptoms 呕吐 vomiting" in text
    assert "今日上岗 fit for duty 否 no" in text and "餐次 meal 午餐 lunch" in text
    assert "结束方式 how it ended 已整改 Rectified" in text  # a clear from before closed_by, read as it was
