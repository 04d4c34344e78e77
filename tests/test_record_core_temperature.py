"""The ``core_temperature_check`` record kind: one module and one registry line, and the rest follows."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.config_file.model import AgentConfig
from agent.console.pages_records import _types as console_types
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.records.base import judge
from agent.records.core_temperature_check import CoreTemperatureCheck
from agent.records.envelope import Source
from agent.records.registry import PROVINCIAL_TYPES, RECORD_TYPES, priority_of
from agent.records.schema_export import all_schemas
from agent.store import Store
from agent.words.terms import Term
from simulator.platform.validate import SchemaValidator

T0 = datetime(2026, 11, 30, 11, 40, tzinfo=ZoneInfo("Asia/Shanghai"))


def check(core_c: float, stage: str = "cooking", target_c: float = 70.0) -> CoreTemperatureCheck:
    return CoreTemperatureCheck(stage=stage, dish="红烧肉", meal="lunch", core_c=core_c, target_c=target_c)


@pytest.mark.parametrize(("core_c", "stage", "target_c", "verdict"), [
    (70.0, "cooking", 70.0, "pass"),  # cooked through: the core reached 70 °C
    (69.9, "cooking", 70.0, "fail"),
    (60.0, "hot_holding", 60.0, "pass"),  # kept hot: at or above 60 °C
    (58.5, "hot_holding", 60.0, "fail"),
])
def test_a_dish_below_its_stages_minimum_fails(config: AgentConfig, core_c: float, stage: str, target_c: float,
                                               verdict: str) -> None:
    judgement = judge(check(core_c, stage, target_c), config.rules, T0)
    assert judgement.verdict == verdict
    assert judgement.findings == ([] if verdict == "pass" else ["core_below_target"])


def test_the_registry_derives_its_type_schema_priority_and_console_name() -> None:
    assert RECORD_TYPES["core_temperature_check"] is CoreTemperatureCheck
    assert priority_of("core_temperature_check") == "record"
    assert "core_temperature_check" not in PROVINCIAL_TYPES and len(PROVINCIAL_TYPES) == 10
    assert ("core_temperature_check", Term("食品中心温度", "Core temperature")) in console_types()
    facts = {str(f.label): f.text for f in check(66.0).brief()}
    assert facts == {"菜品 dish": "红烧肉", "环节 stage": "烹饪 cooking", "中心温度 core": "66.0 °C（≥ 70.0 °C）"}
    schema = all_schemas()["core_temperature_check"]
    assert schema["properties"]["type"]["const"] == "core_temperature_check"
    assert "core_temperature_check" in SchemaValidator().record_types


def test_recorded_judged_and_valid_for_the_platform(config: AgentConfig) -> None:
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, ManualClock(T0))
        saved = recorder.record(check(66.0), source=Source(device_id="probe-1", kind="core_probe"))
        payload = json.loads(saved.payload)
        assert (payload["type"], payload["verdict"], payload["findings"]) == (
            "core_temperature_check", "fail", ["core_below_target"])
        assert SchemaValidator().problem("core_temperature_check", payload) is None
        assert store.get_record(saved.id) == payload
