"""Menus with nutrition (issue 25): the composition table imported line by line, a meal's
energy per portion against the WS/T 554-2017 target, unknown ingredients refused, on the
console over HTTP against a real agent and at the command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import pytest
import yaml

from agent.app import Agent
from agent.config.nutrition import (
    SHIPPED_TABLE,
    NutritionConfig,
    TableError,
    load_table,
    parse_table,
)
from agent.config_file.loader import ConfigError, load_config
from agent.console.pages_menu import parse_menu
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from agent.records.menu_plan import UnknownIngredients, per_portion
from simulator.platform.validate import SchemaValidator
from tests.conftest import REPO, TZ, make_config
from tests.test_console import MANAGER, PASSWORD, Http, start_console

LUNCH = "番茄炒蛋：西红柿 80，鸡蛋 50，食用油 5\n米饭：大米 100\n青椒肉丝：青椒 60、猪肉 40、食用油 5"


def test_the_shipped_table_loads_and_names_its_source() -> None:
    table = load_table(SHIPPED_TABLE)
    assert table["大米"].energy_kcal == 365 and table["食用油"].fat_g == 100
    assert "public domain" in SHIPPED_TABLE.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("text", "wrong"), [
    ("name,energy_kcal,protein_g\n大米,365,7", "line 1: the header lacks fat_g, carbohydrate_g"),
    ("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n大米,365,7,0.7,80\n面粉,lots,10,1,76", "line 3: energy_kcal 'lots'"),
    ("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n大米,365,7,0.7\n", "line 2: 4 fields"),
    ("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n大米,365,7,0.7,80\n大米,360,7,0.7,80", "line 3: '大米' is already"),
    ("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n大米,-5,7,0.7,80", "line 2: energy_kcal '-5' is out of range"),
    ("", "empty"),
])
def test_a_malformed_table_says_which_line(text: str, wrong: str) -> None:
    with pytest.raises(TableError, match=wrong.replace("(", r"\(")):
        parse_table(text, "t.csv")


def test_energy_per_portion_and_the_lunch_target() -> None:
    table = load_table(SHIPPED_TABLE)
    dishes = parse_menu(LUNCH)
    assert [d.name for d in dishes] == ["番茄炒蛋", "米饭", "青椒肉丝"]
    got = per_portion(dishes, table)
    # 80 g tomato 14.4 + 50 g egg 71.5 + 10 g oil 88.4 + 100 g rice 365 + 60 g pepper 12 + 40 g pork 105.2
    assert got.energy_kcal == pytest.approx(656.5, abs=0.1)
    assert NutritionConfig().energy_target("lunch") == (630, 880)  # 2000 kcal x 35-40 %, +-10 %
    with pytest.raises(UnknownIngredients) as unknown:
        per_portion(parse_menu("凉拌海蜇：海蜇 50，黄瓜 60"), table)
    assert unknown.value.names == ["海蜇"]
    for bad in ("番茄炒蛋 西红柿 80", "米饭：大米", "米饭：大米 一百"):
        with pytest.raises(ValueError, match="1: "):
            parse_menu(bad)


def test_the_menu_page_plans_a_meal_and_shows_energy_against_the_target(tmp_path) -> None:
    config = make_config(tmp_path, console={"enabled": True, "port": 0})
    agent = Agent(config, now=ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=TZ)),
                  clock=ClockMonitor(lambda: (True, "test")))
    try:
        client = Http(start_console(agent))
        client.log_in(MANAGER, PASSWORD)
        status, text = client.post("/manager/menu", [("day", "2026-12-01"), ("meal", "lunch"),
                                                     ("dishes", LUNCH + "\n凉拌海蜇：海蜇 50")])
        assert status == 400 and "食物成分表中没有这些食材" in text and "海蜇" in text
        status, text = client.post("/manager/menu", [("day", "2026-12-01"), ("meal", "lunch"), ("dishes", "米饭 大米 100")])
        assert status == 400 and "有一行食谱无法识别" in text
        assert list(agent.store.iter_records(type_="menu_plan")) == []
        status, text = client.post("/manager/menu", [("day", "2026-12-01"), ("meal", "lunch"), ("dishes", LUNCH)])
        assert status == 200 and "食谱已安排" in text
        lunch = text[text.index('data-meal="lunch"'):]
        assert '<strong class="kcal">656.5</strong>' in lunch and '<span class="target">630–880</span>' in lunch
        status, text = client.post("/manager/menu", [("day", "2026-12-01"), ("meal", "dinner"), ("dishes", "米饭：大米 50")])
        dinner = text[text.index('data-meal="dinner"'):]
        assert "低于目标" in dinner  # 182.5 kcal against 540-770
        [plan, light] = agent.store.iter_records(type_="menu_plan")
        assert (plan["verdict"], light["verdict"], light["findings"]) == ("pass", "warn", ["energy_below_target"])
        assert SchemaValidator().problem("menu_plan", agent.store.get_record(plan["id"])) is None
    finally:
        agent.stop()


def test_a_site_table_is_checked_by_the_config_and_the_command_line(tmp_path) -> None:
    bad = tmp_path / "table.csv"
    bad.write_text("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n大米,365,7,0.7,80\n海蜇,33,x,0.3,3.8\n",
                   encoding="utf-8")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({"identity": {"agent_id": "a1", "school_id": "5101040042", "canteen_id": "k1"},
                                    "nutrition": {"table": str(bad)}}, allow_unicode=True))
    with pytest.raises(ConfigError, match="line 3: protein_g 'x' is not a number"):
        load_config(path)
    run = subprocess.run([sys.executable, "-m", "agent", "nutrition-table", str(bad)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "line 3" in run.stderr
    bad.write_text("name,energy_kcal,protein_g,fat_g,carbohydrate_g\n海蜇,33,3.7,0.3,3.8\n", encoding="utf-8")
    assert load_config(path).nutrition.composition()["海蜇"].protein_g == 3.7
    run = subprocess.run([sys.executable, "-m", "agent", "nutrition-table", str(bad)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "海蜇: 33 kcal" in run.stdout


def test_the_plan_reaches_the_sample_station_and_a_meal_served_otherwise_is_confirmed(tmp_path) -> None:
    from agent.records.menu_plan import MenuPlan
    from tests.fixtures_serial_stations import ZHANG, Rig, station_config

    station = {"kind": "food_sample", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1"}
    rig = Rig(station_config(tmp_path / "rig", station), datetime(2026, 11, 30, 11, 50, tzinfo=TZ))
    try:
        table = load_table(SHIPPED_TABLE)
        dishes = parse_menu(LUNCH)
        rig.recorder.record(MenuPlan(day=date(2026, 11, 30), meal="lunch", dishes=dishes,
                                     per_portion=per_portion(dishes, table), age_group="9-11"))
        rig.badge(ZHANG)
        assert "番茄炒蛋" in rig.last_said()  # the planned meal's first dish, not the config's menu
        rig.weight(130)
        assert rig.records("food_sample")[0]["data"]["dish"] == "番茄炒蛋"
    finally:
        rig.close()

    config = make_config(tmp_path, console={"enabled": True, "port": 0})
    agent = Agent(config, now=ManualClock(datetime(2026, 11, 30, 13, 0, tzinfo=TZ)),
                  clock=ClockMonitor(lambda: (True, "test")))
    try:
        client = Http(start_console(agent))
        client.log_in(MANAGER, PASSWORD)
        client.post("/manager/menu", [("day", "2026-11-30"), ("meal", "lunch"), ("dishes", LUNCH)])
        served = [("meal", "lunch"), ("diners", "812"), ("dishes", "番茄炒蛋, 米饭, 麻婆豆腐")]
        status, text = client.post("/manager/meals", served)
        assert status == 409 and "菜品与带量食谱不一致" in text and "- 青椒肉丝; + 麻婆豆腐" in text
        assert list(agent.store.iter_records(type_="meal_service")) == []
        status, text = client.post("/manager/meals", [*served, ("differs", "yes")])
        assert status == 200 and [r["data"]["dishes"] for r in agent.store.iter_records(type_="meal_service")] == [
            ["番茄炒蛋", "米饭", "麻婆豆腐"]]
    finally:
        agent.stop()
