"""Verdicts: each record type's data judged against the configured rules.

Pure functions of (data, rules, when): no I/O, so every boundary (125 g, 37.3 °C,
600 s at 120 °C ...) is tested directly. A type without a rule gets ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from agent.config.rules import Rules
from agent.core.records import (
    AdditiveUsage,
    FoodSample,
    IngredientPurchase,
    PremisesDisinfection,
    RoutineDailyCheck,
    StaffHealthCheck,
    ThermalDisinfection,
    Verdict,
    VisionViolation,
    _Data,
)

DataT = TypeVar("DataT", bound=_Data)


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


def judge_health_check(d: StaffHealthCheck, rules: Rules, day: date) -> Judgement:
    r = rules.morning_check
    low, high = d.normal_range_c
    fails: list[str] = []
    warns: list[str] = []
    if d.temperature_c > high:
        fails.append("fever")
    elif d.temperature_c < low:
        warns.append("temperature_low")  # usually a bad reading: ask for a re-check
    fails += [f"symptom_{s}" for s in d.symptoms if s in r.excluding_symptoms]
    warns += [f"symptom_{s}" for s in d.symptoms if s not in r.excluding_symptoms]
    fails += [f"hand_{h}" for h in d.hand_findings if h in r.hand_findings_fail]
    warns += [f"hand_{h}" for h in d.hand_findings if h not in r.hand_findings_fail]
    if d.health_cert_expires_on is not None and d.health_cert_expires_on < day:
        target = fails if r.expired_certificate_verdict == "fail" else warns
        target.append("health_certificate_expired")
    return Judgement.of(fails, warns)


def judge_food_sample(d: FoodSample, rules: Rules, day: date) -> Judgement:
    fails = ["underweight_sample"] if d.grams < d.min_grams else []
    return Judgement.of(fails, [])


def judge_thermal(d: ThermalDisinfection, rules: Rules, day: date) -> Judgement:
    if d.method == "chlorine":
        fails = []
        if d.chlorine_mg_per_l is None or d.chlorine_mg_per_l < rules.disinfection.chlorine_mg_per_l:
            fails.append("chlorine_below_target")
        if d.immersion_min is None or d.immersion_min < rules.disinfection.chlorine_immersion_min:
            fails.append("immersion_too_short")
        return Judgement.of(fails, [])
    fails = []
    if d.target_c is not None and (d.peak_c is None or d.peak_c < d.target_c):
        fails.append("cabinet_below_target")
    elif d.required_s is not None and (d.seconds_at_target or 0) < d.required_s:
        fails.append("hold_too_short")
    if d.cut_short:
        fails.append("cycle_cut_short")
    return Judgement.of(fails, [])


def judge_premises(d: PremisesDisinfection, rules: Rules, day: date) -> Judgement:
    return Judgement.of([f"{d.method}_run_too_short"] if d.minutes < d.target_minutes else [], [])


def judge_purchase(d: IngredientPurchase, rules: Rules, day: date) -> Judgement:
    fails: list[str] = []
    warns: list[str] = []
    if d.expiry_date is not None:
        if d.expiry_date < day:
            fails.append("expired_on_receipt")
        elif (d.expiry_date - day).days <= rules.receiving.near_expiry_days:
            warns.append("near_expiry")
    if d.production_date is not None and d.production_date > day:
        fails.append("production_date_in_future")
    if d.supplier_licence_expires_on is not None and d.supplier_licence_expires_on < day:
        fails.append("supplier_licence_expired")
    if d.certificate_checked is False:
        warns.append("certificate_not_checked")
    return Judgement.of(fails, warns)


def judge_additive(d: AdditiveUsage, rules: Rules, day: date) -> Judgement:
    limit = d.limit_g if d.limit_g is not None else rules.additive_limits_g.get(d.additive)
    if limit is None:
        return Judgement(None)
    return Judgement.of(["additive_over_limit"] if d.grams > limit else [], [])


def judge_routine(d: RoutineDailyCheck, rules: Rules, day: date) -> Judgement:
    return Judgement.of([f"item_failed:{i.item}" for i in d.items if not i.ok], [])


def judge_violation(d: VisionViolation, rules: Rules, day: date) -> Judgement:
    return Judgement("fail", [d.kind])


EXCLUDED_EARLIER = "excluded_earlier_today"  # a morning check after a failing one the same day


def settle(data: DataT, verdict: Verdict | None, findings: list[str]) -> DataT:
    """The data as its final verdict leaves it. A morning check that fails, or follows an
    exclusion earlier the same day, makes the person unfit for duty (docs/DOMAIN.md: they leave
    their post until a manager clears them, not a second thermometer reading)."""
    if isinstance(data, StaffHealthCheck) and data.fit_for_duty and (
            verdict == "fail" or EXCLUDED_EARLIER in findings):
        return data.model_copy(update={"fit_for_duty": False})
    return data


JUDGES: dict[type, Callable[[Any, Rules, date], Judgement]] = {
    StaffHealthCheck: judge_health_check,
    FoodSample: judge_food_sample,
    ThermalDisinfection: judge_thermal,
    PremisesDisinfection: judge_premises,
    IngredientPurchase: judge_purchase,
    AdditiveUsage: judge_additive,
    RoutineDailyCheck: judge_routine,
    VisionViolation: judge_violation,
}


def judge(data: Any, rules: Rules, when: datetime) -> Judgement:
    """The verdict for one record's data at local time ``when``."""
    fn = JUDGES.get(type(data))
    return fn(data, rules, when.date()) if fn else Judgement(None)
