"""食品原材料追溯: from a batch to the meals, diners and samples it reached, and back.

Both directions read the records alone (``agent.core.stock`` for what is left):

- a batch (its receipt's id or its batch code) → every issue of it (出库), each meal it
  went into with that meal's dishes and diners (``meal_service``) and its retained
  samples (``food_sample``, with their photos), and what was discarded of it;
- a meal (day and meal) → every batch issued to it, with its supplier, its receipt and
  the documents behind it (the receipt's checks, the supplier's licence, its photos),
  and the meal's diners and samples.

The console's trace page and ``canteen-agent trace`` show the same answer; the
benchmark ``./dev.sh bench trace`` times both directions on a generated year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.core.reads import Reads
from agent.core.stock import Batch, batch_of, find
from agent.records.stock_discard import DISCARD_REASONS
from agent.words.terms import Term


@dataclass(frozen=True)
class MealFacts:
    """One meal as a trace shows it: its dishes, its diners and its samples."""

    day: date
    meal: str
    diners: int | None  # the latest registration of the meal (a correction replaces the earlier one)
    dishes: list[str]
    samples: list[dict[str, Any]]  # food_sample records, each with "_media": its photos still kept
    leader_meals: int


@dataclass(frozen=True)
class MealUse:
    """A meal a batch went into, and how much of it."""

    meal: MealFacts
    issues: list[dict[str, Any]]  # the batch's stock_issue records for this meal

    @property
    def amount(self) -> float:
        return sum(float(r["data"].get("grams") or r["data"].get("quantity") or 0) for r in self.issues)


@dataclass(frozen=True)
class BatchTrace:
    batch: Batch
    receipt: dict[str, Any]
    meals: list[MealUse]
    discards: list[dict[str, Any]]

    @property
    def diners(self) -> int:
        return sum(u.meal.diners or 0 for u in self.meals)


@dataclass(frozen=True)
class BatchBehind:
    """One batch behind a meal: the issue(s), the receipt and its documents."""

    issues: list[dict[str, Any]]
    receipt: dict[str, Any] | None  # None: issued without a receipt, under an override
    batch: Batch | None
    documents: list[str] = field(default_factory=list)  # what the receipt shows of the supplier's papers
    media: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MealTrace:
    meal: MealFacts
    batches: list[BatchBehind]

    @property
    def suppliers(self) -> list[str]:
        return sorted({str(b.issues[0]["data"].get("supplier") or "") for b in self.batches} - {""})


def meal_facts(reads: Reads, day: date, meal: str) -> MealFacts:
    served = [r for r in reads.records_of_day("meal_service", day.isoformat()) if r["data"]["meal"] == meal]
    samples = [r for r in reads.records_of_day("food_sample", day.isoformat()) if r["data"]["meal"] == meal]
    media = reads.media_of_records(r["id"] for r in samples)
    for sample in samples:
        sample["_media"] = media.get(sample["id"], [])
    leaders = [r for r in reads.records_of_day("leader_meal", day.isoformat()) if r["data"]["meal"] == meal]
    latest = served[-1]["data"] if served else None
    dishes = list(latest["dishes"]) if latest else []
    for sample in samples:
        if sample["data"]["dish"] not in dishes:
            dishes.append(sample["data"]["dish"])
    return MealFacts(day, meal, int(latest["diners"]) if latest else None, dishes, samples, len(leaders))


def trace_batch(reads: Reads, code: str) -> list[BatchTrace]:
    """Every batch ``code`` names (a receipt id names one; a batch code may name several,
    from different suppliers or deliveries), each followed to its meals."""
    found = []
    for batch in find(reads, code):
        receipt = reads.get_record(batch.receipt_id)
        assert receipt is not None  # find() read it a moment ago; records are never deleted
        movements = reads.movements_of(batch.receipt_id)
        by_meal: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in movements:
            if r["type"] == "stock_issue":
                by_meal.setdefault((r["data"]["served_on"], r["data"]["meal"]), []).append(r)
        uses = [MealUse(meal_facts(reads, date.fromisoformat(day), meal), issues)
                for (day, meal), issues in sorted(by_meal.items(), key=lambda kv: (kv[0][0], kv[1][0]["seq"]))]
        found.append(BatchTrace(batch, receipt, uses, [r for r in movements if r["type"] == "stock_discard"]))
    return found


def _documents(receipt: dict[str, Any]) -> list[str]:
    data = receipt["data"]
    papers = []
    if data.get("supplier_licence_expires_on"):
        papers.append(f"供应商许可证有效期至 supplier licence valid until {data['supplier_licence_expires_on']}")
    if data.get("certificate_checked") is True:
        papers.append("已查验合格证明 certificate checked")
    elif data.get("certificate_checked") is False:
        papers.append("未查验合格证明 certificate not checked")
    return papers


def trace_meal(reads: Reads, day: date, meal: str) -> MealTrace:
    """Every batch behind one meal, with its supplier and documents."""
    issues = reads.issues_for_meal(day, meal)
    by_receipt: dict[str, list[dict[str, Any]]] = {}
    for r in issues:
        by_receipt.setdefault(r["data"].get("receipt_id") or f"none:{r['id']}", []).append(r)
    receipts = [k for k in by_receipt if not k.startswith("none:")]
    media = reads.media_of_records(receipts)
    behind = []
    for key, its in by_receipt.items():
        receipt = None if key.startswith("none:") else reads.get_record(key)
        batch = None if receipt is None else batch_of(reads, key)
        behind.append(BatchBehind(its, receipt, batch, _documents(receipt) if receipt else [],
                                  media.get(key, [])))
    return MealTrace(meal_facts(reads, day, meal), behind)


# --- in words, for the command line ------------------------------------------------------------


def _amount(data: dict[str, Any]) -> str:
    if data.get("grams") is not None:
        grams = float(data["grams"])
        return f"{grams / 1000:.3f} kg" if grams >= 1000 else f"{grams:.0f} g"
    return f"{float(data.get('quantity') or 0):g} {data.get('unit') or ''}".strip()


def _meal_lines(facts: MealFacts, meal_words: Any) -> list[str]:
    diners = "未登记 not registered" if facts.diners is None else str(facts.diners)
    lines = [f"    就餐人数 diners: {diners}；菜品 dishes: {'、'.join(facts.dishes) or '-'}"
             f"；陪餐 leader meals: {facts.leader_meals}"]
    if not facts.samples:
        lines.append("    留样 samples: 无 none")
    for s in facts.samples:
        d = s["data"]
        photos = ", ".join(m["id"] for m in s.get("_media", [])) or "无照片 no photo"
        lines.append(f"    留样 sample: {d['dish']} {float(d['grams']):.0f} g，留样至 kept until {d['kept_until'][:16]}"
                     f"，{s['id']}（{photos}）")
    return lines


def batch_text(traces: list[BatchTrace], meal_words: Any = str) -> str:
    out = []
    for t in traces:
        b = t.batch
        left = "无数量记录 no amount on record" if b.on_hand is None else f"{b.on_hand:g} {b.unit_text}"
        out.append(f"批次 batch {b.batch or '-'}：{b.item}，供应商 supplier {b.supplier}，入库 received {b.received_on}"
                   f"（{b.received if b.received is not None else '-'} {b.unit_text}），保质期至 expires "
                   f"{b.expiry_date or '-'}，库存 on hand {left}；入库记录 receipt {b.receipt_id}")
        if not t.meals:
            out.append("  未出库 not issued to any meal")
        for use in t.meals:
            out.append(f"  {use.meal.day} {meal_words(use.meal.meal)}：出库 issued "
                       + "、".join(_amount(r["data"]) for r in use.issues)
                       + f"（{', '.join(r['id'] for r in use.issues)}）")
            out += _meal_lines(use.meal, meal_words)
        for d in t.discards:
            reason = DISCARD_REASONS.get(d["data"]["reason"], Term(d["data"]["reason"], ""))
            out.append(f"  报废 discarded {_amount(d['data'])}（{reason}，{d['data']['discarded_by']}）{d['id']}")
        out.append(f"  共 {len(t.meals)} 餐 meals，就餐 {t.diners} 人次 diners")
    return "\n".join(out)


def meal_text(trace: MealTrace, meal_words: Any = str) -> str:
    f = trace.meal
    out = [f"{f.day} {meal_words(f.meal)}"]
    out += _meal_lines(f, meal_words)
    if not trace.batches:
        out.append("  无出库记录 no batches issued to this meal")
    for b in trace.batches:
        first = b.issues[0]["data"]
        amount = "、".join(_amount(r["data"]) for r in b.issues)
        if b.receipt is None:
            over = first.get("override") or {}
            out.append(f"  {first['item']}：{amount}，无入库记录 no receipt（主管放行 override: {over.get('by')}: "
                       f"{over.get('reason')}）")
            continue
        r = b.receipt["data"]
        out.append(f"  {first['item']} 批次 batch {r.get('batch') or '-'}：{amount}，供应商 supplier {r['supplier']}，"
                   f"入库 received {b.batch.received_on if b.batch else '-'}，保质期至 expires {r.get('expiry_date') or '-'}"
                   f"；入库记录 receipt {b.receipt['id']}")
        for paper in b.documents:
            out.append(f"    {paper}")
        if b.media:
            out.append(f"    照片 photos: {', '.join(m['id'] for m in b.media)}")
    return "\n".join(out)
