"""The rules section: every figure in docs/DOMAIN.md, as a default the canteen may tighten."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from agent.config.base import Strict
from drivers.config_types import (
    Celsius,
    CelsiusRange,
    Days,
    Minutes,
    PositiveHours,
    PositiveMinutes,
    PositiveSeconds,
)


class MorningCheckRules(Strict):
    normal_range_c: CelsiusRange = Field((35.9, 37.3), description="Normal body temperature, inclusive.")
    plausible_range_c: CelsiusRange = Field(
        (34.0, 43.0), description="A steady forehead reading outside this is a bad reading (a hot pan, the sensor "
                                  "not aimed at a forehead): the person is asked to measure again, it is counted "
                                  "in the thermometer's health, and nothing is recorded.")
    temperature_window_s: PositiveSeconds = Field(30, description="After a badge, wait this long for a temperature.")
    expired_certificate_verdict: Literal["fail", "warn"] = "fail"
    hand_findings_fail: list[str] = Field(["wound", "nail_fungus"], description="Hand findings that exclude from duty.")
    hand_findings_warn: list[str] = Field(["foreign_object", "plaster", "ring", "nail_polish"])
    excluding_symptoms: list[str] = Field(
        ["fever", "diarrhoea", "vomiting", "throat_inflammation", "jaundice", "skin_infection"])

    @model_validator(mode="after")
    def _normal_within_plausible(self) -> MorningCheckRules:
        low, high = self.plausible_range_c
        if not (low <= self.normal_range_c[0] and self.normal_range_c[1] <= high):
            raise ValueError("normal_range_c must lie within plausible_range_c")
        if low < 25 or high > 45:  # the staff_health_check record's bounds
            raise ValueError("plausible_range_c must lie within 25 and 45 °C")
        return self


class FoodSampleRules(Strict):
    min_grams: float = Field(125, gt=0, le=100_000, description="Minimum grams per dish (some local rules: 150 or 200).")
    keep_hours: PositiveHours = Field(48, description="Samples are kept at least this long.")


class ColdChainRules(Strict):
    fridge_range_c: CelsiusRange = Field((0.0, 8.0), description="Refrigerated range.")
    freezer_max_c: Celsius = Field(-12.0, description="Frozen: below this.")
    grace_minutes: Minutes = Field(20, description="Out of range this long before an alarm (door openings).")
    probe_silent_minutes: PositiveMinutes = Field(5, description="A probe silent this long raises its own alarm.")
    telemetry_downsample_s: PositiveSeconds = Field(60, description="One stored sample per device per period.")


class ThermalMethod(Strict):
    target_c: Celsius
    hold_s: PositiveSeconds = Field( description="Seconds at or above target.")


def _default_methods() -> dict[str, ThermalMethod]:
    return {
        "infrared_cabinet": ThermalMethod(target_c=120, hold_s=600),
        "steam": ThermalMethod(target_c=100, hold_s=600),
        "boiling": ThermalMethod(target_c=100, hold_s=600),
        "dishwasher_rinse": ThermalMethod(target_c=85, hold_s=40),
    }


class DisinfectionRules(Strict):
    methods: dict[str, ThermalMethod] = Field(default_factory=_default_methods)
    chlorine_mg_per_l: float = Field(250, gt=0)
    chlorine_immersion_min: PositiveMinutes = 5
    cycle_start_rise_c: float = Field(15, gt=0, description="A cycle starts this far above ambient.")


class PremisesRules(Strict):
    uv_min_minutes: PositiveMinutes = 30
    ozone_min_minutes: PositiveMinutes = 30
    hand_min_minutes: PositiveMinutes = Field(
        30, description="Spraying or wiping by hand: the disinfectant's contact time (the site's disinfection plan).")
    hand_chlorine_mg_per_l: float = Field(
        250, gt=0, description="Spraying or wiping with a chlorine disinfectant: minimum effective chlorine.")


def _default_deadlines() -> dict[str, float]:
    return {"routine_daily_check": 24, "superior_inspection": 72, "incident_report": 4, "drill": 168,
            "tableware_disinfection": 4, "premises_disinfection": 24, "cold_chain": 4, "vision_violation": 24,
            "complaint": 72, "alarm": 24, "by_hand": 72}


class RectificationRules(Strict):
    deadline_hours: dict[str, float] = Field(
        default_factory=_default_deadlines,
        description="Hours to fix, by what opened the task (a source not listed: by_hand's).")
    overdue_severity: Literal["critical", "major", "minor"] = "major"
    vision_repeats: int = Field(3, ge=0, le=1000, description="A camera's violation of one kind this many times "
                                                                "in a day opens a task (0: never).")


class TrainingRules(Strict):
    yearly_min_hours: float = Field(40, ge=0, description="Training hours each person needs a year (0: no minimum).")
    warn_from: str = Field("10-01", pattern=r"^\d{2}-\d{2}$",
                           description="MM-DD: from this date on, people below the minimum are warned about.")


class DrillRules(Strict):
    every_days: Days = Field(120, description="A reminder when no drill was held for this many days (a term).")


class ReceivingRules(Strict):
    near_expiry_days: Days = Field(3, description="Warn when goods arrive this close to expiry.")


class ExpiryRules(Strict):
    warn_days: list[Days] = Field([30, 7, 1], description="Warn this many days before expiry (health certificates, "
                                                          "licences, calibration of measuring instruments).")
    maintenance_warn_days: list[Days] = Field([7, 1], description="Warn this many days before an asset's "
                                                                  "maintenance is due.")
    ingredient_expired_watch_days: Days = Field(
        3, description="A receipt with no amount on record stays flagged this many days past its expiry "
                     "(with an amount, an expired batch stays flagged while any of it is on hand).")


class Rules(Strict):
    morning_check: MorningCheckRules = MorningCheckRules()
    food_sample: FoodSampleRules = FoodSampleRules()
    cold_chain: ColdChainRules = ColdChainRules()
    disinfection: DisinfectionRules = DisinfectionRules()
    premises: PremisesRules = PremisesRules()
    receiving: ReceivingRules = ReceivingRules()
    expiry: ExpiryRules = ExpiryRules()
    rectification: RectificationRules = RectificationRules()
    training: TrainingRules = TrainingRules()
    drill: DrillRules = DrillRules()
    additive_limits_g: dict[str, float] = Field(
        default_factory=dict, description="Max grams per use for additives with a usage limit.")
