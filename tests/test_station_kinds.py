"""Station kinds are plug-ins: each brings its words, its roles and its duties, and the rest derives.

A kind is one folder in agent/stations/ and one line in agent/stations/registry.py; these
tests hold every kind to what the rest of the agent takes from it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from agent.config.stations import StationConfig
from agent.stations.registry import BY_NAME, DUTIES, SCREEN_WORDS, STATION_KINDS
from agent.wiring.serial import WORKFLOWS
from agent.words.alarms import TITLES
from drivers.serial_devices import kinds_for_role
from tests.conftest import make_config

STATIONS = Path(__file__).resolve().parents[1] / "agent" / "stations"


def chinese(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


def test_every_kind_is_one_folder_and_one_line() -> None:
    folders = sorted(p.name for p in STATIONS.iterdir() if (p / "__init__.py").exists())
    assert sorted(BY_NAME) == folders
    assert len(BY_NAME) == len(STATION_KINDS)
    for kind in STATION_KINDS:
        assert kind.workflow.__module__ == f"agent.stations.{kind.name}.workflow"
        assert kind.config.__module__ == f"agent.stations.{kind.name}.config"
        assert kind.config.model_fields["kind"].annotation.__args__ == (kind.name,)  # type: ignore[union-attr]
    assert set(WORKFLOWS) == set(BY_NAME)


def test_every_kind_and_its_screen_words_read_chinese_first_then_english() -> None:
    for kind in STATION_KINDS:
        for words in (kind.label, *kind.role_words.values()):
            assert chinese(words.zh) and words.en and not chinese(words.en), kind.name
    for step, (zh, en) in SCREEN_WORDS.items():
        assert chinese(zh) and en and not chinese(en), step


def test_every_kinds_roles_are_filled_by_some_device_kind() -> None:
    for kind in STATION_KINDS:
        assert set(kind.config.required) <= set(kind.config.roles), kind.name
        for role in kind.config.roles:
            assert kinds_for_role(role), f"{kind.name}: no device kind can be its {role}"
        assert issubclass(kind.config, StationConfig)


def test_every_duty_has_its_alarm_title() -> None:
    for alarm in DUTIES:
        zh, en = TITLES[alarm]
        assert chinese(zh) and en


def test_a_station_of_each_kind_is_a_valid_config(tmp_path: Path) -> None:
    devices = [{"id": "b", "kind": "badge_reader", "port": "/dev/null"},
               {"id": "t", "kind": "ir_thermometer", "port": "/dev/null"},
               {"id": "s", "kind": "scale", "port": "/dev/null"},
               {"id": "k", "kind": "barcode_reader", "port": "/dev/null"},
               {"id": "p", "kind": "core_probe", "port": "/dev/null"}]
    by_role = {"badge": "b", "thermometer": "t", "scale": "s", "keypad": "k", "core_probe": "p"}
    for kind in STATION_KINDS:
        station = {"id": f"st-{kind.name}", "kind": kind.name, **{r: by_role[r] for r in kind.config.required}}
        if "keypad" in kind.config.roles:
            station["keypad"] = "k"
        [parsed] = make_config(tmp_path, devices=devices, stations=[station]).stations
        assert type(parsed) is kind.config
        assert re.match(r"^[a-z_]+$", kind.name)
