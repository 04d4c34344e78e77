"""Config validation: typos, wrong types and missing values give one readable message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config_file.loader import ConfigError, load_config

from .conftest import REPO

GOOD = """\
identity:
  agent_id: k1-box
  school_id: "5101040042"
  canteen_id: k1
broker:
  host: 127.0.0.1
  port: 1883
rules:
  food_sample:
    min_grams: 150
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {})
    return str(info.value)


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), {})
    assert config.rules.food_sample.min_grams == 150
    assert config.rules.morning_check.normal_range_c == (35.9, 37.3)
    assert config.identity.timezone == "Asia/Shanghai"
    assert config.rules.disinfection.methods["infrared_cabinet"].target_c == 120


def test_typo_key_names_file_path_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  port: 1883", "  prot: 1883"))
    message = error_of(path)
    assert str(path) in message
    assert "broker.prot (line 7): unknown key (did you mean 'port'?)" in message


def test_wrong_type_names_path_line_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("min_grams: 150", "min_grams: lots"))
    message = error_of(path)
    assert "rules.food_sample.min_grams (line 10)" in message
    assert "'lots'" in message


def test_missing_required_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('  school_id: "5101040042"\n', ""))
    message = error_of(path)
    assert "identity.school_id (line 1): required value is missing" in message


def test_several_problems_in_one_message(tmp_path: Path) -> None:
    text = GOOD.replace("  port: 1883", "  port: 99999").replace("min_grams: 150", "min_gram: 150")
    message = error_of(write(tmp_path, text))
    assert "2 problems" in message
    assert "broker.port (line 7)" in message
    assert "rules.food_sample.min_gram (line 10): unknown key (did you mean 'min_grams'?)" in message


def test_invalid_yaml_and_empty_file(tmp_path: Path) -> None:
    assert "not valid YAML" in error_of(write(tmp_path, "identity: [unclosed\n"))
    assert "empty" in error_of(write(tmp_path, "\n"))


def test_environment_overrides_values_and_list_items(tmp_path: Path) -> None:
    env = {"CANTEEN__BROKER__PORT": "8883", "CANTEEN__RULES__FOOD_SAMPLE__MIN_GRAMS": "200",
           "CANTEEN__IDENTITY__TIMEZONE": "Asia/Chongqing", "OTHER": "x"}
    config = load_config(write(tmp_path, GOOD), env)
    assert config.broker.port == 8883
    assert config.rules.food_sample.min_grams == 200
    assert config.identity.timezone == "Asia/Chongqing"


def test_bad_environment_override_is_named(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD), {"CANTEEN__BROKER__PORT": "many"})
    assert "broker.port (from the environment)" in message


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    config = load_config(write(tmp_path, GOOD), {"CANTEEN__BROKER__PASSWORD_FILE": str(secret)})
    assert config.broker.password is not None
    assert config.broker.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config.broker)


def test_missing_secret_file_is_an_error(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD), {"CANTEEN__BROKER__PASSWORD_FILE": "/nonexistent/pw"})
    assert "cannot read secret file /nonexistent/pw" in message


def test_unknown_timezone(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("  canteen_id: k1", "  canteen_id: k1\n  timezone: Mars/Base")))
    assert "identity.timezone (line 5)" in message and "Mars/Base" in message


@pytest.mark.parametrize("name", ["minimal.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    load_config(REPO / "config" / name, {})


def test_the_example_config_a_new_user_starts_from_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    """README says to start from example.yaml: check-config on it passes (it named TLS files
    only a site has, and exited 2); the mutual-TLS lines are there, commented, to fill in."""
    assert main(["check-config", str(REPO / "config" / "example.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    text = (REPO / "config" / "example.yaml").read_text(encoding="utf-8")
    assert "#   cert_file: /etc/canteen-agent/tls/agent.pem" in text


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(write(tmp_path, GOOD))]) == 0
    assert main(["check-config", str(write(tmp_path, GOOD.replace("port:", "prot:")))]) == 2
    assert "unknown key" in capsys.readouterr().err
