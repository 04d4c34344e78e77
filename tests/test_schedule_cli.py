"""The manager's commands: ``meal``, ``today`` and ``discard-samples`` on a demo day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.cli.main import main
from agent.config_file.loader import load_config
from tests.fixtures_schedule import DAY, Canteen, at, write_config_yaml


def demo_day(tmp_path) -> tuple[str, Canteen]:
    """Four on duty, two checked by 09:40; breakfast done but no leader; lunch partly sampled."""
    path = str(write_config_yaml(tmp_path))
    canteen = Canteen(load_config(path), at("06:00"))
    canteen.check("S001", at("06:50"))
    canteen.check("S002", at("06:55"))
    for dish in ("包子", "豆浆", "米饭"):
        canteen.sample("breakfast", dish, at("07:05"))
    canteen.disinfect(at("09:00"))
    canteen.sample("lunch", "米饭", at("11:40"))
    canteen.sample("lunch", "番茄炒蛋", at("11:41"), grams=90)
    canteen.leader("lunch", at("12:05"))
    canteen.uv("kitchen", at("05:30"))
    return str(path), canteen


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_meal_registers_a_meal_service_record(tmp_path, capsys) -> None:
    path = str(write_config_yaml(tmp_path))
    code, out, _ = run(capsys, "meal", "--config", path, "--meal", "lunch", "--diners", "812",
                       "--dishes", "米饭,番茄炒蛋", "青菜", "--day", DAY.isoformat(), "--staff", "S001")
    assert code == 0 and "saved meal_service lunch 2026-11-23: 812 diners" in out
    canteen = Canteen(load_config(path), at("14:00"))
    try:
        [record] = canteen.store.iter_records(type_="meal_service")
        assert record["data"] == {"meal": "lunch", "served_on": "2026-11-23", "diners": 812,
                                  "dishes": ["米饭", "番茄炒蛋", "青菜"], "corrects": None}
        assert record["occurred_at"].startswith("2026-11-23T13:00:00")  # a late entry keeps its day
        assert record["operator"]["staff_id"] == "S001"
        assert record["source"] == {"device_id": "cli", "kind": "manager_cli"}
    finally:
        canteen.stop()


def test_meal_rejects_an_unknown_meal_and_stores_nothing(tmp_path, capsys) -> None:
    path = str(write_config_yaml(tmp_path))
    code, _, err = run(capsys, "meal", "--config", path, "--meal", "supper", "--diners", "10")
    assert code == 2 and "unknown meal 'supper'" in err and "breakfast, lunch, dinner" in err
    with pytest.raises(SystemExit, match="in the future"):
        main(["meal", "--config", path, "--meal", "lunch", "--diners", "1", "--day", "2999-01-01"])


def test_registered_dishes_become_the_dishes_to_sample(tmp_path, capsys) -> None:
    path, canteen = demo_day(tmp_path)
    canteen.stop()
    run(capsys, "meal", "--config", path, "--meal", "lunch", "--diners", "812", "--dishes", "米饭",
        "--day", DAY.isoformat())
    code, out, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat(), "--at", "13:10")
    assert code == 0
    assert "午餐 lunch 11:30–13:00  · 已登记就餐 812 人 served: 812 diners" in out
    assert "✔ 留样 samples" in out  # only 米饭 registered for lunch, and it was sampled
    _, earlier, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat(), "--at", "12:00")
    assert "午餐 lunch 11:30–13:00  · 供餐未登记 meal not registered yet" in earlier  # registered at 13:00


def test_today_on_the_demo_day(tmp_path, capsys) -> None:
    path, canteen = demo_day(tmp_path)
    canteen.tick(at("09:40"))
    canteen.stop()
    code, out, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat(), "--at", "09:40")
    assert code == 0
    print(out)  # shown with -s: what the manager reads at 09:40
    lines = out.splitlines()
    assert lines[0].startswith("日期 Day 2026-11-23 周一 Mon（往日 past day），截至当日 09:40")  # not 今日 Today
    assert "晨检 Morning checks，截止 by 09:30  已完成 done 2/4" in out
    assert any("✘ 王五 (S003)" in line and "已超时 OVERDUE since 09:30" in line for line in lines)
    assert any("✘ 赵六 (S004)" in line for line in lines)
    assert "钱七" not in out  # off duty today
    assert any("✘ 陪餐 leader meal" in line for line in lines)  # breakfast, nobody came
    # as it stood at 09:40: the lunch samples taken at 11:40 are not there yet
    assert any("· 留样 samples" in line and "截止 due 13:00" in line and "已留 0/3 道 dishes" in line
               for line in lines)
    assert any("✔ 厨房 kitchen" in line for line in lines) and any("· 库房 store room" in line for line in lines)
    assert "健康证 health cert" in out and "王五 (S003)" in out and "2026-11-28 (剩 5 天 5 days left)" in out
    assert "未处理告警 open alarms now: 5" in out  # 2 checks, breakfast leader, cert, licence

    code, out, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat(), "--at", "13:10")
    print(out)
    assert any("✘ 留样 samples" in line and "OVERDUE since 13:00" in line and "已留 1/3 道 dishes" in line
               and "待留 to do: 番茄炒蛋、青菜" in line and "重量不足 underweight: 番茄炒蛋" in line
               for line in out.splitlines())
    assert any("✔ 陪餐 leader meal" in line and "12:05" in line for line in out.splitlines())


def test_discard_samples_confirms_once(tmp_path, capsys) -> None:
    path, canteen = demo_day(tmp_path)
    two_days = DAY + timedelta(days=2)
    report = canteen.tick(at("12:00", two_days))
    assert "sample_discard_due|day=2026-11-23,meal=lunch" in report.raised
    canteen.stop()
    code, out, _ = run(capsys, "today", "--config", path, "--day", two_days.isoformat(), "--at", "12:00")
    assert "canteen-agent discard-samples --day 2026-11-23 --meal lunch" in out
    code, out, _ = run(capsys, "discard-samples", "--config", path, "--day", DAY.isoformat(),
                       "--meal", "lunch", "--staff", "S001")
    assert code == 0 and "confirmed: 2 lunch samples of 2026-11-23 discarded" in out
    code, out, _ = run(capsys, "discard-samples", "--config", path, "--day", DAY.isoformat(),
                       "--meal", "lunch")
    assert code == 0 and "already confirmed" in out
    code, _, err = run(capsys, "discard-samples", "--config", path, "--day", DAY.isoformat(),
                       "--meal", "dinner")
    assert code == 1 and "no dinner samples" in err
    canteen.start()
    try:
        report = canteen.tick(at("12:30", two_days))
        assert "sample_discard_due|day=2026-11-23,meal=lunch" in report.cleared
    finally:
        canteen.stop()
