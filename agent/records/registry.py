"""Every record kind the agent writes: one line each. The tables of types are derived here.

A new record kind is one module in ``agent/records/`` (its ``RecordData`` subclass: the
fields, ``title``, ``brief``, ``judge``) plus its line in ``RECORD_KINDS``: the JSON Schema export,
the outbox priority, the console's type names, the reference platform's validation and
the daily ledger's provincial lines all follow from this list.
"""

from __future__ import annotations

from agent.records import (
    additive_usage,
    agent_update,
    alarm,
    asset_maintenance,
    basic_data,
    complaint_response,
    core_temperature_check,
    daily_ledger,
    drill,
    food_sample,
    incident_report,
    ingredient_purchase,
    leader_meal,
    meal_service,
    menu_plan,
    premises_disinfection,
    public_complaint,
    rectification,
    rectification_task,
    routine_daily_check,
    sample_discard,
    scorecard,
    staff_health_check,
    staff_training,
    stock_discard,
    stock_issue,
    superior_inspection,
    survey_summary,
    tableware_disinfection,
    training_session,
    vision_violation,
    waste_disposal,
)
from agent.records.base import RecordData

RECORD_KINDS: tuple[type[RecordData], ...] = (
    routine_daily_check.RoutineDailyCheck,
    staff_health_check.StaffHealthCheck,
    food_sample.FoodSample,
    leader_meal.LeaderMeal,
    tableware_disinfection.ThermalDisinfection,
    premises_disinfection.PremisesDisinfection,
    ingredient_purchase.IngredientPurchase,
    additive_usage.AdditiveUsage,
    staff_training.StaffTraining,
    superior_inspection.SuperiorInspection,
    meal_service.MealService,
    sample_discard.SampleDiscard,
    vision_violation.VisionViolation,
    daily_ledger.DailyLedger,
    rectification.Rectification,
    waste_disposal.WasteDisposal,
    core_temperature_check.CoreTemperatureCheck,
    agent_update.AgentUpdate,
    public_complaint.PublicComplaint,
    complaint_response.ComplaintResponse,
    survey_summary.SurveySummary,
    rectification_task.RectificationTask,
    incident_report.IncidentReport,
    drill.Drill,
    training_session.TrainingSession,
    stock_issue.StockIssue,
    stock_discard.StockDiscard,
    scorecard.Scorecard,
    menu_plan.MenuPlan,
    basic_data.BasicData,
    asset_maintenance.AssetMaintenance,
    alarm.AlarmData,
)

RECORD_TYPES: dict[str, type[RecordData]] = {kind.record_type: kind for kind in RECORD_KINDS}
# the province's ten types, in its order (docs/DOMAIN.md)
PROVINCIAL_TYPES: tuple[str, ...] = tuple(
    kind.record_type for kind in sorted((k for k in RECORD_KINDS if k.provincial), key=lambda k: k.provincial or 0))


def priority_of(record_type: str) -> str:
    """The outbox class of a record type (``RecordData.priority``); unknown types queue as records."""
    kind = RECORD_TYPES.get(record_type)
    return kind.priority if kind is not None else "record"


def title_of(record_type: str) -> str:
    """``留样 Food sample`` for a known type, the type itself otherwise."""
    kind = RECORD_TYPES.get(record_type)
    return str(kind.title) if kind is not None else record_type
