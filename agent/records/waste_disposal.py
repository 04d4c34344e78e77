"""餐厨废弃物处置 ``waste_disposal``: extension type 餐厨废弃物处置: kitchen waste or used oil handed to a licensed collector. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import (
    WASTE_KINDS,
    Term,
    term,
)


class WasteDisposal(RecordData):
    """Extension type 餐厨废弃物处置: kitchen waste or used oil handed to a licensed collector."""

    record_type: ClassVar[str] = "waste_disposal"
    title: ClassVar[Term] = Term("餐厨废弃物处置", "Waste disposal")
    kind: Literal["kitchen_waste", "waste_oil", "other"] = Field(description="餐厨垃圾, 废弃油脂, other")
    kg: float = Field(gt=0, le=5000, description="weight handed over")
    weight_source: Literal["typed", "scale"] = "typed"
    collector: str = Field(min_length=1, max_length=200, description="the licensed collecting company")
    receipt_no: str | None = Field(None, max_length=100, description="the collector's receipt (联单) number")
    recorded_by: str | None = Field(None, description="console user name")

    def brief(self) -> list[Fact]:
        return facts(fact("类别", "kind", term(WASTE_KINDS, self.kind)), fact("重量", "weight", f"{self.kg:g} kg"),
                      fact("收运单位", "collector", self.collector), fact("联单号", "receipt", self.receipt_no))
