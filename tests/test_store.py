"""The store: commits before returning, seq order, outbox priorities, alarms, budget."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta

import pytest

from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from agent.store import Priority, RecordDraft, Store, StoreWriteError
from agent.store.budget import apply_retention, enforce_budget
from agent.uplink.topics import outbox_topic

from .conftest import TZ

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=TZ)


@pytest.fixture
def rec(config: AgentConfig):
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, ManualClock(T0))
    store.close()


def sample(grams: float = 130) -> FoodSample:
    return FoodSample(meal="lunch", dish="d", grams=grams, min_grams=125, sampled_at=T0,
                      kept_until=T0 + timedelta(hours=48))


def health() -> StaffHealthCheck:
    return StaffHealthCheck(staff_id="S1", temperature_c=36.6, normal_range_c=(35.9, 37.3))


def test_seq_strictly_increasing_across_restarts(config: AgentConfig) -> None:
    seqs = []
    for _ in range(3):
        store = Store(config.store.path)
        rec = Recorder(config, store, ManualClock(T0))
        seqs += [rec.record(sample()).seq for _ in range(5)]
        store.close()
    assert seqs == list(range(1, 16))


def test_concurrent_producers_are_group_committed(rec: Recorder) -> None:
    def produce() -> None:
        for _ in range(200):
            rec.record(sample())

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [r["seq"] for r in rec.store.iter_records()]
    assert seqs == list(range(1, 1601))
    assert rec.store.writer.commits < rec.store.writer.ops  # batched, not one commit per add


def test_an_add_is_announced_only_once_committed(rec: Recorder, config: AgentConfig) -> None:
    """Whoever hears "saved" can read the record from another connection at that moment."""
    missing: list[str] = []

    def produce() -> None:
        reader = sqlite3.connect(f"file:{config.store.path}?mode=ro", uri=True)  # sees only commits
        try:
            pending = [rec.store.submit_record(rec.draft(sample())) for _ in range(150)]
            for fut in pending:
                saved = fut.result(timeout=30)
                if reader.execute("SELECT 1 FROM records WHERE id=?", (saved.id,)).fetchone() is None:
                    missing.append(saved.id)
        finally:
            reader.close()

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert missing == []
    assert rec.store.writer.ops == 600


def test_a_pending_write_times_out_while_the_writer_is_busy(rec: Recorder) -> None:
    gate = threading.Event()
    blocker = rec.store.writer.submit(lambda conn: gate.wait(10))
    queued = rec.store.submit_record(rec.draft(sample()))
    with pytest.raises(TimeoutError):
        queued.result(timeout=0.2)
    assert not queued.done() and not blocker.done()
    gate.set()
    assert queued.result(timeout=10).seq == 1
    assert blocker.result() is True


def test_a_bad_write_is_refused_alone(rec: Recorder) -> None:
    good = [rec.store.submit_record(rec.draft(sample())) for _ in range(3)]
    dup = rec.draft(sample())
    first = rec.store.submit_record(dup)
    again = rec.store.submit_record(dup)  # same id: violates the primary key
    assert first.result().seq >= 1
    with pytest.raises(Exception, match="UNIQUE"):
        again.result()
    assert all(f.result() for f in good)
    assert [r["seq"] for r in rec.store.iter_records()] == [1, 2, 3, 4]  # no gap from the refusal


def test_a_bad_record_inside_a_large_batch_is_refused_alone_and_the_rest_keep_their_order(rec: Recorder) -> None:
    """150 records in one batch go to SQLite in several multi-row INSERTs (128, 16, 4, 2):
    a taken id in the middle of one sinks that statement, and the batch is redone one by one."""
    started, gate = threading.Event(), threading.Event()
    blocker = rec.store.writer.submit(lambda conn: (started.set(), gate.wait(10))[1])
    assert started.wait(10)  # the writer is held: every record below waits for the next batch
    drafts = [rec.draft(sample()) for _ in range(150)]
    drafts[100] = RecordDraft({**drafts[100].envelope, "id": drafts[7].id}, drafts[7].priority, drafts[7].day)
    pending = [rec.store.submit_record(d) for d in drafts]
    gate.set()
    assert blocker.result() is True
    with pytest.raises(Exception, match="UNIQUE"):
        pending[100].result()
    saved = [p.result() for i, p in enumerate(pending) if i != 100]
    assert [s.seq for s in saved] == list(range(1, 150))  # in submission order, no gap
    stored = list(rec.store.iter_records())
    assert [r["id"] for r in stored] == [d.id for i, d in enumerate(drafts) if i != 100]
    assert [i.id for i in rec.store.outbox_next(200)] == [r["id"] for r in stored]
    assert rec.store.writer.ops == 151 and rec.store.writer.commits == 2


def test_a_record_once_per_key_commits_with_its_key_or_not_at_all(rec: Recorder) -> None:
    first = rec.record_once("once:lunch", {"by": "李四"}, sample())
    assert first is not None and rec.record_once("once:lunch", {"by": "王五"}, sample()) is None
    assert [r["id"] for r in rec.store.iter_records()] == [first.id]
    assert [i.id for i in rec.store.outbox_next(10)] == [first.id]
    assert rec.store.kv_get("once:lunch") == {"by": "李四", "record_id": first.id}
    # a record the store refuses (its id taken) leaves the key unset: one transaction
    draft = rec.draft(sample())
    taken = RecordDraft({**draft.envelope, "id": first.id}, draft.priority, draft.day)
    with pytest.raises(Exception, match="UNIQUE"):
        rec.store.add_record_once("once:dinner", {}, taken)
    assert rec.store.kv_get("once:dinner") is None and len(list(rec.store.iter_records())) == 1


def test_outbox_priority_then_order_and_cursor(rec: Recorder) -> None:
    s1 = rec.record(sample())
    h1 = rec.record(health())
    a1 = rec.raise_alarm("fever", {"staff_id": "S1"}, "fever")
    s2 = rec.record(sample())
    items = rec.store.outbox_next(10)
    assert [i.id for i in items] == [a1.id, h1.id, s1.id, s2.id]
    assert [outbox_topic(i) for i in items] == ["alarm", "rec/staff_health_check", "rec/food_sample", "rec/food_sample"]
    assert json.loads(items[0].payload)["type"] == "alarm"
    cursors = {Priority.ALARM: items[0].n, Priority.HEALTH: items[1].n}
    assert [i.id for i in rec.store.outbox_next(10, cursors)] == [s1.id, s2.id]
    assert rec.store.ack([a1.id, s1.id, "unknown"]) == 2
    assert [i.id for i in rec.store.outbox_next(10)] == [h1.id, s2.id]
    delivered = {r["id"]: r["_delivered_at"] for r in rec.store.iter_records()}
    assert delivered[s1.id] and not delivered[s2.id]


def test_alarm_raised_once_and_cleared_once(rec: Recorder) -> None:
    subject = {"device_id": "fridge-2"}
    raised = rec.raise_alarm("cold_chain_high", subject, "too warm")
    assert raised is not None
    assert rec.raise_alarm("cold_chain_high", subject, "too warm") is None
    cleared = rec.clear_alarm("cold_chain_high", subject, "back in range")
    assert json.loads(cleared.payload)["data"]["raised_id"] == raised.id
    assert rec.clear_alarm("cold_chain_high", subject) is None
    assert rec.raise_alarm("cold_chain_high", subject, "again") is not None


def test_roster_and_badges(rec: Recorder) -> None:
    rec.store.replace_roster([{"staff_id": "S1", "name": "张三", "badges": ["0004212345"],
                               "health_cert_expires_on": "2027-01-01"}], T0.isoformat())
    assert rec.store.staff_by_badge("0004212345")["name"] == "张三"
    assert rec.store.staff_by_badge("999") is None


def test_commands_claimed_once(rec: Recorder) -> None:
    assert rec.store.claim_command("c1", "ping", T0.isoformat())
    assert not rec.store.claim_command("c1", "ping", T0.isoformat())


def test_media_written_durably_and_indexed(rec: Recorder) -> None:
    ref = rec.store.add_media("m1", b"\xff\xd8jpeg", "image/jpeg", record_id=None, role="snapshot",
                              created_at=T0.isoformat(), suffix=".jpg")
    info = rec.store.media_info("m1")
    assert ref["sha256"] == info["sha256"] and ref["bytes"] == 6
    assert open(info["path"], "rb").read() == b"\xff\xd8jpeg"
    assert [i.kind for i in rec.store.outbox_next(5)] == ["media"]


def test_a_media_object_not_committed_leaves_no_file(rec: Recorder) -> None:
    # Cap the database file size at what it is now: soon a media row fails like on a full disk.
    rec.store.write(lambda conn: conn.execute(
        "PRAGMA max_page_count = " + str(conn.execute("PRAGMA page_count").fetchone()[0])))
    with pytest.raises(StoreWriteError, match="not saved"):
        for n in range(2000):
            rec.store.add_media(f"m{n}", b"\xff\xd8jpeg", "image/jpeg", record_id=None, role="snapshot",
                                created_at=T0.isoformat(), suffix=".jpg")
    rec.store.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    indexed = {r["path"] for r in rec.store.query("SELECT path FROM media")}
    on_disk = {str(p) for p in rec.store.media_dir.rglob("*") if p.is_file()}
    assert indexed and on_disk == indexed  # the refused one's file went with its row


def test_budget_evicts_media_first_never_undelivered_records(rec: Recorder) -> None:
    kept = [rec.record(sample()).id for _ in range(20)]
    for n in range(5):
        rec.store.add_media(f"m{n}", b"x" * 200_000, "video/mp4", record_id=None, role="clip",
                            created_at=T0.isoformat())
    used = rec.store.disk_usage_bytes()["total"]
    report = enforce_budget(rec.store, used - 500_000, T0, retention_days=730)
    assert report.pressure and report.media_evicted >= 3
    assert not report.over_budget
    assert {r["id"] for r in rec.store.iter_records()} == set(kept)
    assert all(rec.store.in_outbox(i) for i in kept)


def test_retention_keeps_undelivered_and_purchase_past_expiry(rec: Recorder) -> None:
    old = rec.record(sample())
    undelivered = rec.record(sample())
    rec.store.ack([old.id])
    later = T0 + timedelta(days=800)
    assert apply_retention(rec.store, later, retention_days=730, telemetry_keep_days=30) == 1
    assert rec.store.get_record(old.id) is None
    assert rec.store.get_record(undelivered.id) is not None


def test_full_disk_is_a_clear_error_and_loses_nothing(rec: Recorder) -> None:
    kept = rec.record(sample())
    # Cap the database file size at what it is now: the next growth fails like a full disk.
    rec.store.write(lambda conn: conn.execute(
        "PRAGMA max_page_count = " + str(conn.execute("PRAGMA page_count").fetchone()[0])))
    with pytest.raises(StoreWriteError, match="not saved"):
        for _ in range(2000):
            rec.record(FoodSample(meal="lunch", dish="x" * 2000, grams=130, min_grams=125,
                                  sampled_at=T0, kept_until=T0))
    rec.store.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    assert rec.store.get_record(kept.id) is not None
    seqs = [r["seq"] for r in rec.store.iter_records()]
    assert seqs == list(range(1, len(seqs) + 1))
    # the storage_failed alarm held in memory is saved first (raised, cleared), then the record
    assert rec.record(sample()).seq == len(seqs) + 3
    after = [(r["seq"], r["type"], r["data"].get("kind"), r["data"].get("state"))
             for r in rec.store.iter_records()][len(seqs):]
    n = len(seqs)
    assert after == [(n + 1, "alarm", "storage_failed", "raised"), (n + 2, "alarm", "storage_failed", "cleared"),
                     (n + 3, "food_sample", None, None)]
