"""What every record kind is: a strict ``data`` model that knows its type, its words and its rule.

A record kind is one module in ``agent/records/`` holding one ``RecordData`` subclass:
its fields (the exported JSON Schema the platform validates against), ``record_type``,
its outbox ``priority``, ``label`` (what people call it, Chinese first, then English),
``provincial`` (its place among the province's ten types, docs/DOMAIN.md), and ``judge``:
its verdict against the configured rules, a pure function of (data, rules, day) with no
I/O, so every boundary (125 g, 37.3 °C, 600 s at 120 °C ...) is tested directly. A kind
without a rule judges ``None``. ``agent.records.registry`` lists the kinds, one line each;
every table of types (the schema export, priorities, the console's type names, the
ledger's lines) is derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict

from agent.config.rules import Rules

Verdict = Literal["pass", "fail", "warn"]
Meal = str  # breakfast / lunch / dinner or a site-defined meal name


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict | None
    findings: list[str] = field(default_factory=list)

    @staticmethod
    def of(fails: list[str], warns: list[str]) -> Judgement:
        if fails:
            return Judgement("fail", fails + warns)
        if warns:
            return Judgement("warn", warns)
        return Judgement("pass", [])


class RecordData(BaseModel):
    """Base of every record's ``data``: strict, and knows its record type."""

    model_config = ConfigDict(extra="forbid")
    record_type: ClassVar[str]
    label: ClassVar[tuple[str, str]] = ("", "")  # what people call it: Chinese, English
    provincial: ClassVar[int | None] = None  # its place among the province's ten types
    # Outbox priority class (see agent.store.Priority); health checks jump the queue.
    priority: ClassVar[str] = "record"

    def judge(self, rules: Rules, day: date) -> Judgement:
        """The verdict of this data on local ``day`` (a kind without a rule: none)."""
        return Judgement(None)

    def settled(self, judgement: Judgement) -> Self:
        """The data as its final verdict leaves it (a kind may note the verdict's effect)."""
        return self


def judge(data: RecordData, rules: Rules, when: datetime) -> Judgement:
    """The verdict for one record's data at local time ``when``."""
    return data.judge(rules, when.date())
