"""从业人员晨检 ``staff_health_check``: one morning check of one person. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    RecordData,
    celsius_text,
    fact,
    facts,
    who_text,
)
from agent.words.terms import (
    YES_NO,
    Term,
    term,
)

SYMPTOMS: dict[str, Term] = {
    "fever": Term("发热", "fever"), "diarrhoea": Term("腹泻", "diarrhoea"), "vomiting": Term("呕吐", "vomiting"),
    "throat_inflammation": Term("咽部炎症", "sore throat"), "jaundice": Term("黄疸", "jaundice"),
    "skin_infection": Term("皮肤感染", "skin infection"),
}
HAND_FINDINGS: dict[str, Term] = {
    "wound": Term("手部伤口", "wound"), "nail_fungus": Term("灰指甲", "nail fungus"),
    "foreign_object": Term("手部异物", "foreign object"), "plaster": Term("创可贴", "plaster"),
    "ring": Term("戴戒指", "ring"), "nail_polish": Term("指甲油", "nail polish"),
}

EXCLUDED_EARLIER = "excluded_earlier_today"  # a morning check after a failing one the same day


class StaffHealthCheck(RecordData):
    """从业人员日检 (晨检): one morning check of one person."""

    record_type: ClassVar[str] = "staff_health_check"
    personal: ClassVar[bool] = True
    title: ClassVar[Term] = Term("晨检", "Morning check")
    provincial: ClassVar[int | None] = 2
    priority: ClassVar[str] = "health"
    staff_id: str
    name: str | None = None
    temperature_c: float = Field(ge=25, le=45)
    normal_range_c: tuple[float, float]
    ambient_c: float | None = None
    symptoms: list[str] = Field(default_factory=list, description="e.g. diarrhoea, vomiting, jaundice")
    hand_findings: list[str] = Field(default_factory=list, description="e.g. wound, ring, nail_polish")
    health_cert_expires_on: date | None = None
    attempt: int = Field(1, ge=1, description="1 for the first check of the day, 2+ for re-checks")
    recheck_of: str | None = Field(None, description="id of the earlier check this one repeats")
    fit_for_duty: bool = True

    def judge(self, rules: Rules, day: date) -> Judgement:
        r = rules.morning_check
        low, high = self.normal_range_c
        fails: list[str] = []
        warns: list[str] = []
        if self.temperature_c > high:
            fails.append("fever")
        elif self.temperature_c < low:
            warns.append("temperature_low")  # usually a bad reading: ask for a re-check
        fails += [f"symptom_{s}" for s in self.symptoms if s in r.excluding_symptoms]
        warns += [f"symptom_{s}" for s in self.symptoms if s not in r.excluding_symptoms]
        fails += [f"hand_{h}" for h in self.hand_findings if h in r.hand_findings_fail]
        warns += [f"hand_{h}" for h in self.hand_findings if h not in r.hand_findings_fail]
        if self.health_cert_expires_on is not None and self.health_cert_expires_on < day:
            target = fails if r.expired_certificate_verdict == "fail" else warns
            target.append("health_certificate_expired")
        return Judgement.of(fails, warns)

    def settled(self, judgement: Judgement) -> StaffHealthCheck:
        """A morning check that fails, or follows an exclusion earlier the same day, makes the
        person unfit for duty (docs/DOMAIN.md: they leave their post until a manager clears
        them, not a second thermometer reading)."""
        if self.fit_for_duty and (judgement.verdict == "fail" or EXCLUDED_EARLIER in judgement.findings):
            return self.model_copy(update={"fit_for_duty": False})
        return self

    def brief(self) -> list[Fact]:
        return facts(
            fact("人员", "person", who_text(self.name, self.staff_id)),
            fact("体温", "temperature", celsius_text(self.temperature_c)),
            fact("症状", "symptoms", "、".join(str(term(SYMPTOMS, s)) for s in self.symptoms)),
            fact("手部", "hands", "、".join(str(term(HAND_FINDINGS, h)) for h in self.hand_findings)),
            fact("今日上岗", "fit for duty", YES_NO[self.fit_for_duty]),
            fact("复测", "re-check", f"第 {self.attempt} 次 / check {self.attempt}") if self.attempt > 1 else None)
