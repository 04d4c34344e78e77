"""Stock on hand, derived from the records alone, and the rules for taking from it.

A batch is its receipt (``ingredient_purchase``). What is on hand of it is the
receipt's amount less every ``stock_issue`` (出库) and ``stock_discard`` (报废) naming
its id: the store keeps no counter that could drift from the records, and a record
replayed to the platform gives it the same figure. The amount is in the receipt's own
measure, grams when it was weighed, else its ``quantity`` in its ``unit``; a receipt
with neither has no amount on record and cannot be issued from (the console says so).

Taking from stock is refused, with the reason, for an unknown batch, more than is on
hand, and an expired batch; a manager's override (``StockOverride``: who and why) lets
an expired batch or one without a receipt go, and is written into the record. The
check and the write happen under one lock, so two people issuing the last kilogram at
once cannot both have it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from agent.core.reads import Reads
from agent.core.recorder import Recorded, Recorder
from agent.records.envelope import Operator, Source
from agent.records.stock_discard import DiscardReason, StockDiscard
from agent.records.stock_issue import StockIssue, StockOverride

Refusal = Literal["unknown", "no_amount", "over_on_hand", "expired", "nothing"]
REFUSALS: dict[Refusal, tuple[str, str]] = {  # reason -> (Chinese, English)
    "unknown": ("没有这个批次的入库记录", "No receipt of this batch"),
    "no_amount": ("入库时没有记录数量，无法出库", "The receipt has no amount on record"),
    "over_on_hand": ("超过库存数量", "More than is on hand"),
    "expired": ("该批次已过期", "This batch has expired"),
    "nothing": ("数量必须大于零", "The amount must be more than zero"),
}
_TAKE = threading.Lock()  # one check-and-write at a time: the console's and the stations' threads


class StockRefused(Exception):
    def __init__(self, reason: Refusal, batch: Batch | None = None, detail: str = "") -> None:
        zh, en = REFUSALS[reason]
        super().__init__(f"{zh} / {en}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.batch = batch
        self.detail = detail


@dataclass(frozen=True)
class Batch:
    """One received batch and what is left of it."""

    receipt_id: str
    received_on: date
    item: str
    batch: str | None
    supplier: str
    expiry_date: date | None
    grams: float | None  # as received, when weighed
    quantity: float | None  # as received, when counted
    unit: str | None
    moved: float  # taken off by issues and discards, in the same measure

    @property
    def measured_in_grams(self) -> bool:
        return self.grams is not None

    @property
    def received(self) -> float | None:
        return self.grams if self.grams is not None else self.quantity

    @property
    def on_hand(self) -> float | None:
        """What is left (never below zero on record); None: the receipt has no amount."""
        return None if self.received is None else round(self.received - self.moved, 3)

    @property
    def unit_text(self) -> str:
        return "g" if self.grams is not None else (self.unit or "")

    def expired(self, day: date) -> bool:
        return self.expiry_date is not None and self.expiry_date < day

    @property
    def label(self) -> str:
        """``大米 batch B7 from 粮油公司``: how warnings and lists name it."""
        return f"{self.item}" + (f" batch {self.batch}" if self.batch else "") + f" from {self.supplier}"


def _date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def _batch(row: dict[str, Any], moved: tuple[float, float]) -> Batch:
    grams = row["grams"] if row["grams"] is not None else None
    quantity = row["quantity"] if grams is None else None
    return Batch(row["id"], date.fromisoformat(row["day"]), row["item"], row["batch"], row["supplier"],
                 _date(row["expiry_date"]), None if grams is None else float(grams),
                 None if quantity is None else float(quantity), row["unit"],
                 moved[0] if grams is not None else moved[1])


class _Tally:
    """The receipts and what was taken off each, as of the record numbered ``seq``: read
    once from the records, then only the records stored since (a reader's own summary of
    them, in memory; it is never stored and never written to)."""

    def __init__(self) -> None:
        self.seq = 0
        self.receipts: dict[str, dict[str, Any]] = {}
        self.moved: dict[str, list[float]] = {}
        self.batches: dict[str, Batch] = {}  # in the receipts' order
        self.lock = threading.Lock()

    def catch_up(self, reads: Reads) -> list[Batch]:
        with self.lock:
            changed: set[str] = set()
            for seq, record_id, kind, day, data in reads.stock_changes(self.seq):
                if kind == "ingredient_purchase":
                    self.receipts[record_id] = {"id": record_id, "day": day, **{k: data.get(k) for k in (
                        "item", "batch", "supplier", "expiry_date", "grams", "quantity", "unit")}}
                    changed.add(record_id)
                elif data.get("receipt_id"):
                    moved = self.moved.setdefault(data["receipt_id"], [0.0, 0.0])
                    moved[0] += float(data.get("grams") or 0)
                    moved[1] += float(data.get("quantity") or 0)
                    changed.add(data["receipt_id"])
                self.seq = seq
            for receipt_id in changed:
                row = self.receipts.get(receipt_id)
                if row is not None:  # a movement naming no receipt on record changes no batch
                    moved = self.moved.get(receipt_id, [0.0, 0.0])
                    self.batches[receipt_id] = _batch(row, (moved[0], moved[1]))
            return list(self.batches.values())


_TALLIES: weakref.WeakKeyDictionary[Any, _Tally] = weakref.WeakKeyDictionary()
_TALLIES_LOCK = threading.Lock()


def batches(reads: Reads) -> list[Batch]:
    """Every batch ever received, oldest first, with what is left of it. The first call on
    a store reads every receipt and movement; later ones only what was stored since."""
    with _TALLIES_LOCK:
        tally = _TALLIES.get(reads)
        if tally is None:
            tally = _TALLIES[reads] = _Tally()
    return tally.catch_up(reads)


def on_hand(reads: Reads) -> list[Batch]:
    """The batches with something left (a receipt without an amount is not stock)."""
    return [b for b in batches(reads) if (b.on_hand or 0) > 0]


def batch_of(reads: Reads, receipt_id: str) -> Batch | None:
    """One batch by its receipt's id, None when there is no such receipt."""
    rows = reads.stock_receipts(receipt_id)
    if not rows:
        return None
    movements = reads.movements_of(receipt_id)
    grams = sum(float(m["data"].get("grams") or 0) for m in movements)
    quantity = sum(float(m["data"].get("quantity") or 0) for m in movements)
    return _batch(rows[0], (grams, quantity))


def find(reads: Reads, code: str) -> list[Batch]:
    """The batches a typed or scanned code names: a receipt's id, or a batch code."""
    code = code.strip()
    if not code:
        return []
    exact = batch_of(reads, code)
    if exact is not None:
        return [exact]
    found = [batch_of(reads, r["id"]) for r in reads.receipts_by_batch(code)]
    return [b for b in found if b is not None]


def check_take(batch: Batch | None, amount: float, day: date, *, override: StockOverride | None = None) -> None:
    """Raise ``StockRefused`` when this amount may not be taken from this batch on ``day``."""
    if not amount > 0:
        raise StockRefused("nothing", batch)
    if batch is None:
        if override is not None and override.of == "unknown_batch":
            return
        raise StockRefused("unknown")
    left = batch.on_hand
    if left is None:
        raise StockRefused("no_amount", batch)
    if amount > left + 1e-9:
        raise StockRefused("over_on_hand", batch, f"{left:g} {batch.unit_text}")
    if batch.expired(day) and (override is None or override.of != "expired"):
        raise StockRefused("expired", batch, str(batch.expiry_date))


def issue(recorder: Recorder, receipt_id: str | None, amount: float, meal: str, served_on: date, *,
          dishes: list[str] | None = None, override: StockOverride | None = None, item: str | None = None,
          unit: str | None = None, now: datetime | None = None, source: Source | None = None,
          operator: Operator | None = None) -> Recorded[StockIssue]:
    """出库: ``amount`` (the batch's measure) of a batch to a meal, through the Recorder.

    ``receipt_id`` None is a batch without a receipt: refused unless ``override`` is an
    ``unknown_batch`` one, when ``item`` (and ``unit``, else grams) say what it was."""
    with _TAKE:
        batch = batch_of(recorder.reads, receipt_id) if receipt_id else None
        if receipt_id and batch is None:
            raise StockRefused("unknown", None, receipt_id)
        check_take(batch, amount, served_on, override=override)
        if batch is None:
            if not item:
                raise StockRefused("unknown")
            grams, quantity = (amount, None) if unit in (None, "", "g") else (None, amount)
            data = StockIssue(receipt_id=None, item=item, grams=grams, quantity=quantity,
                              unit=None if grams is not None else unit, meal=meal, served_on=served_on,
                              dishes=dishes or [], override=override)
        else:
            grams, quantity = (amount, None) if batch.measured_in_grams else (None, amount)
            data = StockIssue(receipt_id=batch.receipt_id, item=batch.item, batch=batch.batch,
                              supplier=batch.supplier, expiry_date=batch.expiry_date, grams=grams,
                              quantity=quantity, unit=None if grams is not None else batch.unit, meal=meal,
                              served_on=served_on, dishes=dishes or [],
                              override=override if batch.expired(served_on) else None)
        return recorder.record(data, occurred_at=now, source=source, operator=operator)


def discard(recorder: Recorder, receipt_id: str, amount: float | None, reason: DiscardReason, discarded_by: str, *,
            remark: str | None = None, now: datetime | None = None, source: Source | None = None,
            operator: Operator | None = None) -> Recorded[StockDiscard]:
    """报废: ``amount`` of a batch (None: all that is left) off stock, through the Recorder."""
    with _TAKE:
        batch = batch_of(recorder.reads, receipt_id)
        if batch is None:
            raise StockRefused("unknown", None, receipt_id)
        left = batch.on_hand
        if left is None:
            raise StockRefused("no_amount", batch)
        taken = left if amount is None else amount
        if not taken > 0:
            raise StockRefused("nothing", batch)
        if taken > left + 1e-9:
            raise StockRefused("over_on_hand", batch, f"{left:g} {batch.unit_text}")
        grams, quantity = (taken, None) if batch.measured_in_grams else (None, taken)
        data = StockDiscard(receipt_id=batch.receipt_id, item=batch.item, batch=batch.batch, supplier=batch.supplier,
                            expiry_date=batch.expiry_date, grams=grams, quantity=quantity,
                            unit=None if grams is not None else batch.unit, reason=reason,
                            discarded_by=discarded_by, remark=remark)
        return recorder.record(data, occurred_at=now, source=source, operator=operator)
