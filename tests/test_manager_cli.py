"""What the manager and the installer read is true: read-only commands never invent an
empty store, filters refuse what they do not know, ``today`` does not tick a cook sent
off duty, ``discard-samples`` keeps the keep time and tells the platform, ``meal`` does
not register a lunch twice, alarms read Chinese first and ``status`` names nobody."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from agent.cli.main import main
from agent.config_file.loader import load_config
from agent.records.staff_health_check import EXCLUDED_EARLIER, StaffHealthCheck
from simulator.platform.store import PlatformStore
from simulator.platform.validate import SchemaValidator
from tests.fixtures_schedule import DAY, Canteen, at, write_config_yaml
from tests.helpers.untranslated import untranslated


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors and the store checks exit
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["status", "records"])
def test_read_only_commands_do_not_create_a_store(tmp_path, capsys, command: str) -> None:
    missing = tmp_path / "nowhere" / "agent.db"
    code, out, err = run(capsys, command, "--db", str(missing))
    assert code == 3 and "no agent store at" in err and "open alarms" not in out
    assert not missing.exists() and not missing.parent.exists()


def test_status_on_the_platforms_database_is_a_clear_error(tmp_path, capsys) -> None:
    platform_db = tmp_path / "platform.db"
    PlatformStore(platform_db).close()
    code, _, err = run(capsys, "status", "--db", str(platform_db))
    assert code == 3 and "is not a canteen-agent store" in err and "Traceback" not in err
    code, _, err = run(capsys, "records", "--db", str(tmp_path / "junk.db"))
    (tmp_path / "text.db").write_text("not sqlite at all, just text " * 100)
    code, _, err = run(capsys, "status", "--db", str(tmp_path / "text.db"))
    assert code == 3 and "not a readable SQLite database" in err


@pytest.fixture
def canteen_day(tmp_path):
    """A day with a cook sent off with a fever, a failed then redone cycle, two lunch samples."""
    path = str(write_config_yaml(tmp_path))
    canteen = Canteen(load_config(path), at("06:00"))
    canteen.check("S001", at("06:50"))
    canteen.check("S002", at("06:55"), temperature=37.9)  # fever: off duty
    canteen.check("S003", at("07:00"), temperature=37.8)
    canteen.check("S003", at("07:10"), temperature=36.9)  # re-checked: fit
    canteen.disinfect(at("13:30"), meal="lunch", peak=110)  # failed: below target
    canteen.disinfect(at("14:00"), meal="lunch")  # redone: passed
    canteen.sample("lunch", "米饭", at("11:40"))
    canteen.sample("lunch", "番茄炒蛋", at("11:41"))
    canteen.recorder.raise_alarm("fever", {"staff_id": "S002", "day": DAY.isoformat()},
                                 "fever at the morning check: staff S002 not fit for duty today")
    canteen.stop()
    return path, canteen


def test_record_filters_refuse_unknown_values_and_list_the_valid_ones(canteen_day, capsys) -> None:
    path, _ = canteen_day
    code, _, err = run(capsys, "records", "--config", path, "--type", "food_samples")
    assert code == 2 and "unknown record type 'food_samples'" in err and "food_sample" in err
    code, _, err = run(capsys, "records", "--config", path, "--day", "12/01/2026")
    assert code == 2 and "expected a day as YYYY-MM-DD" in err
    for limit in ("0", "-1"):
        code, _, err = run(capsys, "records", "--config", path, "--limit", limit)
        assert code == 2 and "1 or more" in err
    code, out, _ = run(capsys, "records", "--config", path, "--type", "food_sample", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 2  # header and one record


def test_alarm_records_show_kind_and_state_chinese_first(canteen_day, capsys) -> None:
    path, _ = canteen_day
    code, out, _ = run(capsys, "records", "--config", path, "--type", "alarm")
    assert code == 0
    [line] = out.splitlines()[1:]
    assert "raised: 发热 fever" in line
    code, out, _ = run(capsys, "records", "--config", path, "--type", "alarm", "--format", "jsonl")
    assert json.loads(out)["data"]["message"].startswith("发热：fever at the morning check")


def test_status_is_readable_text_without_staff_ids(canteen_day, capsys) -> None:
    path, _ = canteen_day
    code, out, _ = run(capsys, "status", "--config", path)
    assert code == 0
    assert "未处理告警 open alarms: 1" in out
    alarm_line = out.splitlines()[-1]
    assert "发热 fever" in alarm_line and "员工 (staff member)" in alarm_line and f"日期 day {DAY}" in alarm_line
    assert "S002" not in out and "{" not in out and "'" not in out
    code, out, _ = run(capsys, "status", "--config", path, "--json")
    assert "S002" not in out


def test_today_does_not_tick_a_cook_sent_off_and_names_a_redone_cycle(canteen_day, capsys) -> None:
    path, _ = canteen_day
    code, out, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat())
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"日期 Day {DAY} 周一 Mon（往日 past day），当日结束时 at the end of the day")
    checks = [line for line in lines if "健康证" not in line]  # S003's certificate is also listed
    [s002] = [line for line in checks if "(S002)" in line]
    assert s002.lstrip().startswith("!") and "不合格：今日停岗 failed: off duty today（体温超标 fever）" in s002
    [s003] = [line for line in checks if "(S003)" in line]
    # a passing re-check does not put a cook back on duty: only a manager's rectification does
    assert s003.lstrip().startswith("!") and "不合格：今日停岗" in s003
    [cycle] = [line for line in lines if "餐具消毒" in line and "不合格 1 次" in line]
    assert cycle.lstrip().startswith("✔") and "重做合格 1 次 / 1 failed, redone: 1 passed" in cycle


def test_today_marks_a_fever_before_and_after_the_re_check_and_the_rectification(tmp_path, capsys) -> None:
    """Item 4 of issue 21: ``today --at 07:00`` (and 23:59) showed ✔ for a cook with a fever."""
    path = str(write_config_yaml(tmp_path))
    canteen = Canteen(load_config(path), at("06:00"))
    canteen.check("S001", at("06:30"))
    canteen.check("S003", at("06:32"), temperature=37.9)
    fever = canteen.recorder.raise_alarm("fever", {"staff_id": "S003", "day": DAY.isoformat()}, "fever")
    assert fever is not None
    canteen.clock.set(at("06:44"))
    canteen.recorder.record(StaffHealthCheck(staff_id="S003", temperature_c=37.0, normal_range_c=(35.9, 37.3)),
                            occurred_at=at("06:44"), extra_findings=[EXCLUDED_EARLIER])  # as the station does
    canteen.clock.set(at("08:10"))
    canteen.recorder.rectify_alarm(fever.id, "复测正常，医生证明", "boss", restore_fitness=True)
    canteen.stop()

    def s003(when: str) -> str:
        code, out, _ = run(capsys, "today", "--config", path, "--day", DAY.isoformat(), "--at", when)
        assert code == 0
        [line] = [line for line in out.splitlines() if "(S003)" in line and "健康证" not in line]
        return line.strip()

    assert s003("06:31").startswith("·")  # not checked yet
    for when in ("06:40", "07:00"):  # after the fever, after the passing re-check: still off duty
        assert s003(when).startswith("! 王五 (S003)") and "06:32" in s003(when)
        assert "不合格：今日停岗 failed: off duty today（体温超标 fever）" in s003(when)
    for when in ("08:30", "23:59"):  # the manager put him back on duty: shown, not hidden
        assert s003(when).startswith("! 王五 (S003)")
        assert "不合格：整改后恢复上岗 failed: fit again after rectification（体温超标 fever）" in s003(when)


def test_today_without_a_store_says_so(tmp_path, capsys) -> None:
    path = str(write_config_yaml(tmp_path))
    code, _, err = run(capsys, "today", "--config", path)
    assert code == 3 and "no agent store" in err


def test_discard_samples_keeps_the_keep_time_and_writes_a_record(tmp_path, capsys) -> None:
    path = str(write_config_yaml(tmp_path))
    config = load_config(path)
    now = datetime.now(config.identity.tz)
    sampled_at = now - timedelta(hours=2)  # its local day, not now's: just after midnight they differ
    canteen = Canteen(config, now)
    canteen.sample("lunch", "米饭", sampled_at)
    canteen.stop()
    code, _, err = run(capsys, "discard-samples", "--config", path, "--day", sampled_at.date().isoformat(),
                       "--meal", "lunch")
    assert code == 1 and "too early" in err and "46.0 h from now" in err
    canteen = Canteen(config, now)
    assert list(canteen.store.iter_records(type_="sample_discard")) == []
    canteen.stop()

    code, out, _ = run(capsys, "discard-samples", "--config", path, "--day", DAY.isoformat(),
                       "--meal", "lunch")
    assert code == 1  # no samples that day
    canteen = Canteen(config, now)
    canteen.sample("dinner", "米饭", at("17:10"))
    canteen.stop()
    code, out, _ = run(capsys, "discard-samples", "--config", path, "--day", DAY.isoformat(),
                       "--meal", "dinner", "--staff", "S001")
    assert code == 0 and "confirmed: 1 dinner samples" in out
    canteen = Canteen(config, now)
    try:
        [record] = canteen.store.iter_records(type_="sample_discard")
        assert record["data"]["meal"] == "dinner" and record["data"]["samples"] == 1
        assert record["data"]["kept_hours"] >= 48
        assert record["operator"]["staff_id"] == "S001"
        assert record["_delivered_at"] is None  # queued for the platform, which accepts it:
        record.pop("_delivered_at")
        validator = SchemaValidator()
        assert "sample_discard" in validator.record_types
        assert validator.problem("sample_discard", record) is None
    finally:
        canteen.stop()


def test_a_second_meal_registration_needs_correct(tmp_path, capsys) -> None:
    path = str(write_config_yaml(tmp_path))
    args = ("meal", "--config", path, "--meal", "lunch", "--day", DAY.isoformat())
    assert run(capsys, *args, "--diners", "812")[0] == 0
    code, _, err = run(capsys, *args, "--diners", "821")
    assert code == 1 and "already registered: 812 diners" in err and "--correct" in err
    code, out, _ = run(capsys, *args, "--diners", "821", "--correct")
    assert code == 0 and "corrected meal_service (replaces" in out
    canteen = Canteen(load_config(path), at("14:00"))
    try:
        first, second = canteen.store.iter_records(type_="meal_service")
        assert second["data"]["diners"] == 821 and second["data"]["corrects"] == first["id"]
    finally:
        canteen.stop()


def test_records_into_a_pipe_that_closes_early_end_quietly(tmp_path) -> None:
    """``records … | head`` ended in a BrokenPipeError traceback (issue 21)."""
    path = str(write_config_yaml(tmp_path))
    canteen = Canteen(load_config(path), at("06:00"))
    for n in range(300):  # far more than a pipe holds
        canteen.sample("lunch", f"菜品{n}", at("11:40"))
    canteen.stop()
    proc = subprocess.Popen([sys.executable, "-m", "agent", "records", "--config", path, "--format", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what head does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and json.loads(first)["type"] == "food_sample"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_csv_has_a_bom_and_jsonl_keeps_chinese_as_itself(canteen_day, capsysbinary) -> None:
    path, _ = canteen_day
    assert main(["records", "--config", path, "--type", "food_sample", "--format", "csv"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith("\ufeff".encode()) and "番茄炒蛋".encode() in out  # Excel reads UTF-8 with its BOM
    assert main(["records", "--config", path, "--type", "food_sample", "--format", "jsonl"]) == 0
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert "番茄炒蛋" in out and "\\u" not in out


def test_status_and_today_read_chinese_first_with_nothing_untranslated(canteen_day, capsys) -> None:
    path, _ = canteen_day
    for argv in (["status"], ["today", "--day", DAY.isoformat()], ["today", "--day", DAY.isoformat(), "--at", "07:05"]):
        code, out, _ = run(capsys, *argv, "--config", path)
        assert code == 0 and untranslated(out) == [], (argv, out)
