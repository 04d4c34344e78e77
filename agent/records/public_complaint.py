"""投诉建议 ``public_complaint``: extension type 投诉建议: a complaint or suggestion from the social end
(a parents' representative, or anyone from the dining hall's QR code). Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import Term, term

COMPLAINT_CATEGORIES: dict[str, Term] = {
    "food_quality": Term("饭菜质量", "food quality"),
    "hygiene": Term("卫生", "hygiene"),
    "portion_price": Term("分量与价格", "portion and price"),
    "service": Term("服务", "service"),
    "safety": Term("食品安全隐患", "food-safety concern"),
    "suggestion": Term("建议", "suggestion"),
    "other": Term("其他", "other"),
}
CHANNELS: dict[str, Term] = {
    "qr": Term("扫码匿名", "anonymous, from the QR code"),
    "representative": Term("家长/社会代表", "representative"),
}
Category = Literal["food_quality", "hygiene", "portion_price", "service", "safety", "suggestion", "other"]


class PublicComplaint(RecordData):
    """Extension type 投诉建议: what someone outside the kitchen reported, as they wrote it."""

    record_type: ClassVar[str] = "public_complaint"
    title: ClassVar[Term] = Term("投诉建议", "Complaint or suggestion")
    category: Category = Field(description="food_quality, hygiene, portion_price, service, safety, suggestion, other")
    text: str = Field(min_length=1, max_length=10_000, description="what the submitter wrote (plain text)")
    channel: Literal["qr", "representative"] = Field(
        description="qr: anonymous from the dining hall's QR code; representative: a named invite code's holder")
    invite_id: str | None = Field(None, max_length=64, description="the representative's invite (never a name)")
    receipt_sha256: str = Field(pattern=r"^[0-9a-f]{64}$",
                                description="SHA-256 of the receipt code the submitter keeps to follow it")

    def brief(self) -> list[Fact]:
        return facts(fact("类别", "category", term(COMPLAINT_CATEGORIES, self.category)),
                     fact("来源", "from", term(CHANNELS, self.channel)), fact("内容", "text", self.text[:80]))
