"""食材采购 ``ingredient_purchase``: goods received and inspected. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    RecordData,
    fact,
    facts,
    grams_text,
)
from agent.words.terms import (
    Term,
)


class IngredientPurchase(RecordData):
    """食材采购 (进货查验): goods received and inspected."""

    record_type: ClassVar[str] = "ingredient_purchase"
    title: ClassVar[Term] = Term("进货查验", "Goods received")
    provincial: ClassVar[int | None] = 7
    supplier: str
    item: str
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    grams: float | None = None
    quantity: float | None = None
    unit: str | None = None
    supplier_licence_expires_on: date | None = None
    certificate_checked: bool | None = None

    def judge(self, rules: Rules, day: date) -> Judgement:
        fails: list[str] = []
        warns: list[str] = []
        if self.expiry_date is not None:
            if self.expiry_date < day:
                fails.append("expired_on_receipt")
            elif (self.expiry_date - day).days <= rules.receiving.near_expiry_days:
                warns.append("near_expiry")
        if self.production_date is not None and self.production_date > day:
            fails.append("production_date_in_future")
        if self.supplier_licence_expires_on is not None and self.supplier_licence_expires_on < day:
            fails.append("supplier_licence_expired")
        if self.certificate_checked is False:
            warns.append("certificate_not_checked")
        return Judgement.of(fails, warns)

    def brief(self) -> list[Fact]:
        amount = grams_text(self.grams) if self.grams is not None else (
            f"{self.quantity:g} {self.unit or ''}".strip() if self.quantity is not None else "")
        return facts(fact("食材", "item", self.item), fact("供应商", "supplier", self.supplier),
                      fact("数量", "amount", amount), fact("批次", "batch", self.batch),
                      fact("保质期至", "expires", self.expiry_date))
