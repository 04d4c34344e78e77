"""固定资产维保 ``asset_maintenance``: extension type 维保记录: work done on a fixed asset
(maintenance, a repair, or the calibration of a measuring instrument: 计量器具检定), by
whom, and when it is next due. Its data and its words."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import Fact, RecordData, fact, facts
from agent.words.terms import Term, term

WORK: dict[str, Term] = {
    "maintenance": Term("保养", "maintenance"), "repair": Term("维修", "repair"),
    "calibration": Term("检定/校准", "calibration"), "cleaning": Term("清洗", "cleaning"),
}


class AssetMaintenance(RecordData):
    """Extension type 维保记录: maintenance, repair, cleaning or calibration of a fixed asset."""

    record_type: ClassVar[str] = "asset_maintenance"
    title: ClassVar[Term] = Term("设备维保", "Asset maintenance")
    asset_id: str = Field(min_length=1, max_length=32)
    asset_name: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=50)
    work: Literal["maintenance", "repair", "calibration", "cleaning"]
    done_on: date
    work_done: str = Field(min_length=1, max_length=1000, description="what was done")
    done_by: str = Field(min_length=1, max_length=100, description="who did it (a person or a company)")
    next_due: date | None = Field(None, description="when the same work is next due (calibration: 检定有效期至)")
    entered_by: str = Field(min_length=1, max_length=64, description="the console account")

    def brief(self) -> list[Fact]:
        return facts(fact("设备", "asset", f"{self.asset_name} ({self.asset_id})"),
                     fact("内容", "work", f"{term(WORK, self.work)}: {self.work_done}"),
                     fact("日期", "on", self.done_on.isoformat()),
                     fact("实施", "by", self.done_by, is_name=True),
                     fact("下次", "next due", self.next_due.isoformat() if self.next_due else ""))
