"""What every record kind is: a strict ``data`` model that knows its type, its words and its rule.

A record kind is one module in ``agent/records/`` holding one ``RecordData`` subclass:
its fields (the exported JSON Schema the platform validates against), ``record_type``,
its outbox ``priority``, ``title`` (what people call it, Chinese first, then English), ``brief`` (what the
console lists of it),
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
from agent.words.terms import Term

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


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of what a record says, for people: a label and its value in words."""

    label: Term
    text: str
    is_name: bool = False  # a person's or an account's own name (not words to translate)


def fact(zh: str, en: str, text: object, *, is_name: bool = False) -> Fact:
    return Fact(Term(zh, en), "" if text is None else str(text), is_name)


def facts(*found: Fact | None) -> list[Fact]:
    """The facts that have something to say."""
    return [f for f in found if f is not None and f.text.strip()]


def celsius_text(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} °C"


def grams_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.3f} kg" if value >= 10_000 else f"{value:.0f} g"


def when_text(value: datetime | None) -> str:
    return "" if value is None else f"{value:%m-%d %H:%M}"


def who_text(name: str | None, staff_id: str) -> str:
    return f"{name} ({staff_id})" if name and name != staff_id else staff_id


class RecordData(BaseModel):
    """Base of every record's ``data``: strict, knows its record type and its name for
    people (``title``), and says what matters in it (``brief``: the records page)."""

    model_config = ConfigDict(extra="forbid")
    record_type: ClassVar[str]
    title: ClassVar[Term]  # what people call it: Chinese, English
    provincial: ClassVar[int | None] = None  # its place among the province's ten types
    # Outbox priority class (see agent.store.Priority); health checks jump the queue.
    priority: ClassVar[str] = "record"
    # Holds a person's health data (a temperature, a health certificate): roles without
    # ``see_personal_data`` (the installer) are not shown it (``is_personal`` per record).
    personal: ClassVar[bool] = False

    def is_personal(self) -> bool:
        return self.personal

    def judge(self, rules: Rules, day: date) -> Judgement:
        """The verdict of this data on local ``day`` (a kind without a rule: none)."""
        return Judgement(None)

    def brief(self) -> list[Fact]:
        """The few facts a person looks for in this record (who, what, the figure)."""
        return []

    def settled(self, judgement: Judgement) -> Self:
        """The data as its final verdict leaves it (a kind may note the verdict's effect)."""
        return self


def judge(data: RecordData, rules: Rules, when: datetime) -> Judgement:
    """The verdict for one record's data at local time ``when``."""
    return data.judge(rules, when.date())
