"""出库 ``stock_issue``: a quantity of one received batch taken from the store room for a meal. Its data, its words and its rule.

A batch is its receipt (the ``ingredient_purchase`` record, ``receipt_id``): what is on
hand of it is the receipt's amount less every ``stock_issue`` and ``stock_discard`` naming
it, never a counter kept elsewhere (``agent.core.stock``). The amount is in the receipt's
own measure: ``grams`` when the receipt was weighed, else ``quantity`` in its ``unit``.
An expired or unknown batch is refused unless a manager overrides it; the override is
part of the record (``override``) and makes its verdict a warning.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.config.rules import Rules
from agent.records.base import Fact, Judgement, Meal, RecordData, fact, facts, grams_text
from agent.words.terms import Term, meal

OverrideOf = Literal["expired", "unknown_batch"]


class StockOverride(BaseModel):
    """A manager's decision to issue what the rules refuse, and why (part of an issue)."""

    model_config = ConfigDict(extra="forbid")
    of: OverrideOf = Field(description="what was refused: an expired batch, or one with no receipt")
    by: str = Field(min_length=1, max_length=100, description="the console user who overrode it")
    reason: str = Field(min_length=1, max_length=500)


def amount_text(grams: float | None, quantity: float | None, unit: str | None) -> str:
    if grams is not None:
        return grams_text(grams)
    return f"{quantity:g} {unit or ''}".strip() if quantity is not None else ""


class StockIssue(RecordData):
    """出库: part of a batch issued to the kitchen for one meal."""

    record_type: ClassVar[str] = "stock_issue"
    title: ClassVar[Term] = Term("出库", "Issued from stock")
    receipt_id: str | None = Field(description="id of the ingredient_purchase record of the batch; "
                                               "null only for a batch with no receipt, under an override")
    item: str = Field(min_length=1, max_length=200)
    batch: str | None = Field(None, max_length=100)
    supplier: str | None = Field(None, max_length=200)
    expiry_date: date | None = Field(None, description="the batch's expiry date, as received")
    grams: float | None = Field(None, gt=0, le=10_000_000)
    quantity: float | None = Field(None, gt=0, le=1_000_000)
    unit: str | None = Field(None, max_length=20)
    meal: Meal = Field(min_length=1, max_length=64)
    served_on: date = Field(description="the day of the meal it was issued for")
    dishes: list[str] = Field(default_factory=list, description="the dishes it goes into, when known")
    override: StockOverride | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> StockIssue:
        if (self.grams is None) == (self.quantity is None):
            raise ValueError("an issue has either grams or a quantity")
        if self.receipt_id is None and (self.override is None or self.override.of != "unknown_batch"):
            raise ValueError("an issue without a receipt needs a manager's override")
        return self

    def judge(self, rules: Rules, day: date) -> Judgement:
        warns = []
        if self.override is not None:
            warns.append(f"issued_{self.override.of}_by_override")
        elif self.expiry_date is not None and self.expiry_date < self.served_on:
            warns.append("issued_expired")  # the agent's own doors refuse this without an override
        return Judgement.of([], warns)

    def brief(self) -> list[Fact]:
        return facts(fact("食材", "item", self.item), fact("批次", "batch", self.batch),
                      fact("数量", "amount", amount_text(self.grams, self.quantity, self.unit)),
                      fact("餐次", "meal", f"{self.served_on} {meal(self.meal)}"),
                      fact("菜品", "dishes", "、".join(self.dishes)),
                      fact("放行", "override", f"{self.override.by}: {self.override.reason}" if self.override else None))
