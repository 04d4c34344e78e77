"""报废 ``stock_discard``: a quantity of one received batch taken off stock, with its reason. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from agent.config.rules import Rules
from agent.records.base import Fact, Judgement, RecordData, fact, facts
from agent.records.stock_issue import amount_text
from agent.words.terms import Term

DiscardReason = Literal["expired", "spoiled", "damaged", "recalled", "other"]
DISCARD_REASONS: dict[str, Term] = {
    "expired": Term("过期", "expired"),
    "spoiled": Term("变质", "spoiled"),
    "damaged": Term("破损", "damaged"),
    "recalled": Term("召回", "recalled"),
    "other": Term("其他", "other"),
}


class StockDiscard(RecordData):
    """报废: part or all of a batch discarded from stock."""

    record_type: ClassVar[str] = "stock_discard"
    title: ClassVar[Term] = Term("报废", "Discarded from stock")
    receipt_id: str = Field(description="id of the ingredient_purchase record of the batch")
    item: str = Field(min_length=1, max_length=200)
    batch: str | None = Field(None, max_length=100)
    supplier: str | None = Field(None, max_length=200)
    expiry_date: date | None = None
    grams: float | None = Field(None, gt=0, le=10_000_000)
    quantity: float | None = Field(None, gt=0, le=1_000_000)
    unit: str | None = Field(None, max_length=20)
    reason: DiscardReason
    discarded_by: str = Field(min_length=1, max_length=100, description="who discarded it, as written")
    remark: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _one_measure(self) -> StockDiscard:
        if (self.grams is None) == (self.quantity is None):
            raise ValueError("a discard has either grams or a quantity")
        return self

    def judge(self, rules: Rules, day: date) -> Judgement:
        return Judgement.of([], ["expired_food_found"] if self.reason == "expired" else [])

    def brief(self) -> list[Fact]:
        reason = DISCARD_REASONS[self.reason]
        return facts(fact("食材", "item", self.item), fact("批次", "batch", self.batch),
                      fact("数量", "amount", amount_text(self.grams, self.quantity, self.unit)),
                      fact("原因", "reason", f"{reason.zh} {reason.en}"),
                      fact("处理人", "by", self.discarded_by, is_name=True))
