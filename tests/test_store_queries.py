"""The store owns its SQL and knows nothing of MQTT; a record comes back with its judgement;
fitness for duty is read from the day's checks; an agent upgraded in the field keeps its queue."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.records.additive_usage import AdditiveUsage
from agent.records.food_sample import FoodSample
from agent.records.registry import priority_of
from agent.records.staff_health_check import StaffHealthCheck
from agent.store import Priority, Store
from agent.store.schema import MIGRATIONS, SCHEMA_VERSION
from agent.uplink.topics import outbox_topic

from .conftest import TZ

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=TZ)
DAY = "2026-11-30"
AGENT = Path(__file__).resolve().parents[1] / "agent"


@pytest.fixture
def rec(config: AgentConfig):
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, ManualClock(T0))
    store.close()


def check(temperature: float, **kw: object) -> StaffHealthCheck:
    return StaffHealthCheck(staff_id="S1", temperature_c=temperature, normal_range_c=(35.9, 37.3), **kw)


def test_record_returns_the_saved_row_with_its_judgement(rec: Recorder) -> None:
    saved = rec.record(FoodSample(meal="lunch", dish="d", grams=100, min_grams=125, sampled_at=T0,
                                  kept_until=T0 + timedelta(hours=48)), extra_findings=["late"])
    stored = rec.store.get_record(saved.id)
    assert stored is not None and json.loads(saved.payload) == stored
    assert (saved.seq, saved.type, saved.verdict) == (stored["seq"], "food_sample", "fail")
    assert saved.findings == ("underweight_sample", "late") == tuple(stored["findings"])
    unjudged = rec.record(AdditiveUsage(additive="unknown-additive", grams=1))
    assert unjudged.verdict is None and unjudged.findings == ()


def test_a_failing_check_is_recorded_unfit_and_fitness_is_read_from_the_checks(rec: Recorder) -> None:
    assert rec.store.duty(DAY, "S1") is None
    fever = rec.record(check(38.1))
    assert fever.verdict == "fail" and fever.data.fit_for_duty is False
    assert rec.store.get_record(fever.id)["data"]["fit_for_duty"] is False
    assert rec.store.duty(DAY, "S1") == {"day": DAY, "staff_id": "S1", "fit": False, "reason": "fever",
                                         "record_id": fever.id}
    # a passing re-check after an exclusion stays unfit, and the fever still decides
    recheck = rec.record(check(36.6), extra_findings=["excluded_earlier_today"])
    assert recheck.verdict == "warn" and recheck.data.fit_for_duty is False
    duty = rec.store.duty(DAY, "S1")
    assert duty is not None and not duty["fit"] and duty["record_id"] == fever.id
    # another person, and the next day, are not touched
    assert rec.store.duty(DAY, "S2") is None and rec.store.duty("2026-12-01", "S1") is None


def test_a_passing_check_is_fit_and_an_explicit_unfit_is_kept(rec: Recorder) -> None:
    ok = rec.record(check(36.5))
    assert ok.data.fit_for_duty is True
    assert rec.store.duty(DAY, "S1") == {"day": DAY, "staff_id": "S1", "fit": True,
                                         "reason": "morning_check", "record_id": ok.id}
    manual = rec.record(check(36.5, fit_for_duty=False))  # a manager's decision is never raised to fit
    assert manual.data.fit_for_duty is False and not rec.store.duty(DAY, "S1")["fit"]


def test_the_outbox_holds_what_an_item_is_and_the_uplink_names_the_topic(rec: Recorder) -> None:
    record = rec.record(check(36.5))
    alarm = rec.raise_alarm("fever", {"staff_id": "S1"}, "fever")
    rec.store.add_telemetry("b1", "fridge-1", {"samples": []}, [])
    media = rec.store.add_media("m1", b"jpeg", "image/jpeg", record_id=None, role="snapshot",
                                created_at=T0.isoformat())
    items = {i.id: i for i in rec.store.outbox_next(10)}
    assert {i.id: (i.kind, i.ref) for i in items.values()} == {
        record.id: ("record", "staff_health_check"), alarm.id: ("alarm", "alarm"),
        "b1": ("telemetry", "fridge-1"), media["id"]: ("media", "m1")}
    assert [outbox_topic(items[k]) for k in (record.id, alarm.id, "b1", "m1")] == [
        "rec/staff_health_check", "alarm", "tele/fridge-1", "media/m1"]


def test_a_resend_queues_each_record_in_its_own_class(rec: Recorder) -> None:
    check_id = rec.record(check(36.5)).id
    alarm_id = rec.raise_alarm("fever", {"staff_id": "S1"}, "fever").id
    sample_id = rec.record(FoodSample(meal="lunch", dish="d", grams=130, min_grams=125, sampled_at=T0,
                                      kept_until=T0 + timedelta(hours=48))).id
    rec.store.ack([check_id, alarm_id, sample_id])
    since, until = (T0 - timedelta(hours=1)).isoformat(), (T0 + timedelta(hours=1)).isoformat()
    assert rec.store.requeue(since, until, priority_of=priority_of) == 3
    assert {i.id: i.priority for i in rec.store.outbox_next(10)} == {
        alarm_id: Priority.ALARM, check_id: Priority.HEALTH, sample_id: Priority.RECORD}


def test_a_version_2_database_keeps_its_undelivered_queue(tmp_path: Path) -> None:
    """An agent upgraded in the field: every queued item keeps its number and its topic."""
    path = tmp_path / "agent.db"
    conn = sqlite3.connect(path)
    db = sqlite_utils.Database(conn)
    for migration in MIGRATIONS[:2]:
        migration(db)
    conn.execute("PRAGMA user_version = 2")
    record = {"seq": 1, "id": "r1", "type": "food_sample", "data": {}}
    conn.execute("INSERT INTO records(id, seq, type, day, payload) VALUES ('r1', 1, 'food_sample', ?, ?)",
                 (DAY, json.dumps(record)))
    queued = [("r1", 2, "record", "rec/food_sample", None), ("a1", 0, "alarm", "alarm", "{}"),
              ("b1", 4, "telemetry", "tele/fridge-1", "{}"), ("m1", 3, "media", "media/m1", None),
              ("gone", 2, "record", "rec/food_sample", None)]
    for item_id, priority, kind, topic, payload in queued:
        conn.execute("INSERT INTO outbox(id, priority, kind, topic, payload, enqueued_at) VALUES (?,?,?,?,?,?)",
                     (item_id, priority, kind, topic, payload, "2026-11-30T07:00:00+08:00"))
    conn.execute("DELETE FROM outbox WHERE id='gone'")  # acked: its number 5 must not come back
    conn.execute("INSERT INTO duty(day, staff_id, fit, reason, record_id) VALUES (?, 'S1', 0, 'fever', 'x')",
                 (DAY,))
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        items = store.outbox_next(10)
        assert [(i.n, i.id, outbox_topic(i)) for i in items] == [
            (2, "a1", "alarm"), (1, "r1", "rec/food_sample"), (4, "m1", "media/m1"), (3, "b1", "tele/fridge-1")]
        assert json.loads(items[1].payload) == record
        assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert not store.query("SELECT name FROM sqlite_master WHERE name='duty'")
        store.add_telemetry("b2", "fridge-1", {"samples": []}, [])
        assert [i.n for i in store.outbox_next(10) if i.id == "b2"] == [6]
    finally:
        store.close()


def test_no_sql_outside_the_store() -> None:
    """Every SQL string of the agent lives in agent/store (named queries)."""
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b|\.execute(many)?\(|\.query\(")
    offenders = [f"{path.relative_to(AGENT)}:{n}" for path in sorted(AGENT.rglob("*.py"))
                 if "store" not in path.relative_to(AGENT).parts[:1]
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if sql.search(line)]
    assert offenders == []
