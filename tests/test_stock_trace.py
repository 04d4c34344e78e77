"""Stock from the records and tracing both ways (issue 25): a receipt, two issues to two
meals, a sample per dish and a discard give the right on-hand quantity; a batch traces to
both meals, their diners and samples, and each meal back to the batch; bad takes refused."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.core.stock import StockRefused, batch_of, discard, issue, on_hand
from agent.core.timeutil import ManualClock
from agent.records.food_sample import FoodSample
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.meal_service import MealService
from agent.records.stock_issue import StockOverride
from agent.schedule.trace import batch_text, meal_text, trace_batch, trace_meal
from agent.store import Store
from simulator.platform.validate import SchemaValidator
from tests.conftest import REPO, TZ, make_config

DAY1, DAY2 = date(2026, 12, 1), date(2026, 12, 2)
T0 = datetime(2026, 12, 1, 7, 0, tzinfo=TZ)
DISHES = {DAY1: ["米饭", "番茄炒蛋"], DAY2: ["米饭", "青椒肉丝"]}


def serve(recorder: Recorder, clock: ManualClock, day: date, diners: int) -> list[str]:
    """The lunch of ``day``: registered with its diners, one sample of each dish."""
    clock.set(datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=12))
    recorder.record(MealService(meal="lunch", served_on=day, diners=diners, dishes=DISHES[day]))
    now = clock()
    return [recorder.record(FoodSample(meal="lunch", dish=dish, grams=150, min_grams=125, sampled_at=now,
                                       kept_until=now + timedelta(hours=48))).id for dish in DISHES[day]]


@pytest.fixture
def kitchen(tmp_path: Path):
    config = make_config(tmp_path)
    clock = ManualClock(T0)
    with Store(config.store.path, config.store.media_dir) as store:
        yield config, store, Recorder(config, store, clock), clock


def receive(recorder: Recorder, grams: float = 10_000, expiry: date = date(2027, 6, 1), batch: str = "B1",
            item: str = "大米") -> str:
    return recorder.record(IngredientPurchase(supplier="粮油公司", item=item, batch=batch, grams=grams,
                                              production_date=date(2026, 11, 20), expiry_date=expiry,
                                              supplier_licence_expires_on=date(2027, 12, 31),
                                              certificate_checked=True)).id


def test_receipt_issues_samples_and_a_discard_give_the_on_hand(kitchen) -> None:
    config, store, recorder, clock = kitchen
    rice = receive(recorder)
    first = issue(recorder, rice, 3000, "lunch", DAY1, dishes=["米饭"])
    samples1 = serve(recorder, clock, DAY1, 812)
    second = issue(recorder, rice, 4000, "lunch", DAY2, dishes=["米饭"])
    samples2 = serve(recorder, clock, DAY2, 790)
    gone = discard(recorder, rice, 1000, "spoiled", "王五", remark="受潮")
    batch = batch_of(store, rice)
    assert batch is not None and batch.on_hand == 2000  # 10 kg - 3 - 4 - 1; samples are of dishes, not stock
    assert [b.receipt_id for b in on_hand(store)] == [rice]
    validator = SchemaValidator()
    for saved in (first, second, gone):
        assert validator.problem(saved.type, json.loads(saved.payload)) is None
    assert (gone.verdict, first.verdict) == ("pass", "pass")

    # a batch → both meals, their diners and samples
    [traced] = trace_batch(store, "B1")
    assert [(u.meal.day, u.meal.meal, u.meal.diners, u.amount) for u in traced.meals] == [
        (DAY1, "lunch", 812, 3000), (DAY2, "lunch", 790, 4000)]
    assert [s["id"] for s in traced.meals[0].meal.samples] == samples1
    assert [s["id"] for s in traced.meals[1].meal.samples] == samples2
    assert traced.diners == 812 + 790 and [d["id"] for d in traced.discards] == [gone.id]
    text = batch_text([traced])
    assert "812" in text and "番茄炒蛋" in text and "青椒肉丝" in text and gone.id in text
    # ... and back: each meal → the batch, its supplier and documents
    back = trace_meal(store, DAY2, "lunch")
    assert [b.receipt["id"] for b in back.batches if b.receipt] == [rice]
    assert back.suppliers == ["粮油公司"] and back.meal.diners == 790
    assert any("certificate checked" in d for d in back.batches[0].documents)
    assert rice in meal_text(back) and "粮油公司" in meal_text(back)


def test_bad_takes_are_refused_and_an_override_is_recorded(kitchen) -> None:
    config, store, recorder, clock = kitchen
    rice = receive(recorder, grams=2000)
    with pytest.raises(StockRefused) as over:
        issue(recorder, rice, 2500, "lunch", DAY1)
    assert over.value.reason == "over_on_hand" and "2000 g" in str(over.value)
    with pytest.raises(StockRefused) as unknown:
        issue(recorder, "no-such-receipt", 100, "lunch", DAY1)
    assert unknown.value.reason == "unknown"
    milk = receive(recorder, grams=5000, expiry=date(2026, 11, 30), batch="M1", item="牛奶")
    with pytest.raises(StockRefused) as expired:
        issue(recorder, milk, 1000, "lunch", DAY1)
    assert expired.value.reason == "expired"
    saved = issue(recorder, milk, 1000, "lunch", DAY1,
                  override=StockOverride(of="expired", by="boss", reason="检验合格，当日用完"))
    assert (saved.verdict, saved.findings) == ("warn", ("issued_expired_by_override",))
    assert saved.data.override is not None and saved.data.override.by == "boss"
    nameless = issue(recorder, None, 500, "lunch", DAY1, item="鸡蛋",
                     override=StockOverride(of="unknown_batch", by="boss", reason="供应商补送单据"))
    assert nameless.findings == ("issued_unknown_batch_by_override",)
    with pytest.raises(StockRefused):
        discard(recorder, rice, 2001, "expired", "王五")
    assert len(store.movements_of(rice)) == 0  # nothing refused was written
    # the meal traces back to both, the one without a receipt with its override
    back = trace_meal(store, DAY1, "lunch")
    assert sorted(b.receipt is None for b in back.batches) == [False, True]
    assert "boss" in meal_text(back)


def test_trace_cli_both_directions(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "a1", "school_id": "5101040042", "canteen_id": "k1"},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "console": {"enabled": False}, "vision": {"enabled": False}}))
    config = AgentConfig.model_validate(yaml.safe_load(path.read_text()))
    clock = ManualClock(T0)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, clock)
        rice = receive(recorder)
        issue(recorder, rice, 3000, "lunch", DAY1)
        serve(recorder, clock, DAY1, 812)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", *args, "--config", str(path)], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    forward = run("trace", "--batch", "B1")
    assert forward.returncode == 0, forward.stderr
    assert "2026-12-01" in forward.stdout and "812" in forward.stdout and "番茄炒蛋" in forward.stdout
    back = run("trace", "--meal", "lunch", "--day", "2026-12-01", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["batches"][0]["receipt"]["id"] == rice
    stock = run("stock")
    assert "7000 g" in stock.stdout, stock.stdout
    refused = run("issue", "--batch", "B1", "--amount", "8000", "--meal", "lunch", "--day", "2026-12-02")
    assert refused.returncode == 1 and "More than is on hand" in refused.stderr
    missing = run("trace", "--batch", "nope")
    assert missing.returncode == 1 and "no receipt" in missing.stderr


def test_the_trace_questions_use_their_indexes(kitchen) -> None:
    """What keeps a trace in milliseconds on a year of records (``./dev.sh bench trace``)."""
    config, store, recorder, clock = kitchen
    plans = {
        "records_trace_receipt": ("SELECT payload FROM records WHERE type = 'stock_issue'"
                                  " AND json_extract(payload, '$.data.receipt_id') = ?", ("x",)),
        "records_trace_batch": ("SELECT payload FROM records WHERE type = 'ingredient_purchase'"
                                " AND json_extract(payload, '$.data.batch') = ?", ("B1",)),
        "records_trace_meal": ("SELECT payload FROM records WHERE type = 'stock_issue'"
                               " AND json_extract(payload, '$.data.served_on') = ?"
                               " AND json_extract(payload, '$.data.meal') = ?", ("2026-12-01", "lunch")),
    }
    for index, (sql, params) in plans.items():
        plan = " ".join(str(row[-1]) for row in store.query("EXPLAIN QUERY PLAN " + sql, params))
        assert index in plan, (index, plan)


def test_a_look_at_the_stock_after_the_first_reads_only_what_was_stored_since(kitchen) -> None:
    config, store, recorder, clock = kitchen
    plan = " ".join(str(r[-1]) for r in store.query(
        "EXPLAIN QUERY PLAN SELECT seq FROM records WHERE seq > ?"
        " AND +type IN ('ingredient_purchase', 'stock_issue', 'stock_discard') ORDER BY seq", (0,)))
    assert "seq>?" in plan.replace(" ", "")
    rice = receive(recorder)
    assert [b.on_hand for b in on_hand(store)] == [10_000]
    issue(recorder, rice, 2500, "lunch", DAY1)
    assert [b.on_hand for b in on_hand(store)] == [7_500]  # the same reader, caught up
    with Store(config.store.path) as fresh:  # another reader from scratch agrees
        assert [b.on_hand for b in on_hand(fresh)] == [7_500]


def test_a_batchs_movements_are_kept_as_long_as_its_receipt(kitchen) -> None:
    config, store, recorder, clock = kitchen
    salt = receive(recorder, expiry=date(2029, 12, 1), item="盐", batch="S1")  # a long shelf life
    issued = issue(recorder, salt, 500, "lunch", DAY1)
    kept = {r["id"]: r["keep_until"] for r in store.query("SELECT id, keep_until FROM records")}
    assert kept[issued.id] == kept[salt] == (date(2029, 12, 1) + timedelta(
        days=config.store.purchase_retention_days_past_expiry)).isoformat()
