"""突发事件 ``incident_report``: an incident reported from the kitchen (突发事件信息报送). Its data, its words.

Suspected food poisoning, a foreign object in food, a fire, a water or power cut, or
anything else: what, where, when, how many people affected, what was done, photos. It
travels ahead of every other item the agent holds (outbox class ``urgent``): a backlog
after an outage never delays it. A follow-up is another ``incident_report`` naming the
first one's id in ``follows``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
    when_text,
)
from agent.words.terms import Term, term

IncidentKind = Literal["food_poisoning", "foreign_object", "fire", "water_cut", "power_cut", "other"]
INCIDENT_KINDS: dict[str, Term] = {
    "food_poisoning": Term("疑似食物中毒", "suspected food poisoning"),
    "foreign_object": Term("食品中发现异物", "foreign object in food"),
    "fire": Term("火灾", "fire"),
    "water_cut": Term("停水", "water cut"),
    "power_cut": Term("停电", "power cut"),
    "other": Term("其他", "other"),
}


class IncidentReport(RecordData):
    """突发事件信息报送: an incident, or a follow-up to one (``follows``)."""

    record_type: ClassVar[str] = "incident_report"
    title: ClassVar[Term] = Term("突发事件", "Incident report")
    priority: ClassVar[str] = "urgent"
    kind: IncidentKind
    what: str = Field(min_length=1, max_length=2000, description="what happened")
    where: str = Field(min_length=1, max_length=200)
    happened_at: AwareDatetime
    people_affected: int = Field(0, ge=0, le=100000, description="how many people are affected (0: none known)")
    actions_taken: str | None = Field(None, max_length=2000)
    reported_by: str = Field(min_length=1, max_length=200, description="the console account that filed it")
    follows: str | None = Field(None, description="a follow-up: the id of the first report of this incident")

    def brief(self) -> list[Fact]:
        return facts(fact("类别", "kind", term(INCIDENT_KINDS, self.kind)), fact("情况", "what", self.what),
                      fact("地点", "where", self.where), fact("发生时间", "when", when_text(self.happened_at)),
                      fact("影响人数", "people affected", self.people_affected if self.people_affected else ""),
                      fact("已采取措施", "actions", self.actions_taken),
                      fact("续报", "follow-up", Term("是", "yes")) if self.follows else None,
                      fact("报告人", "by", self.reported_by, is_name=True))
