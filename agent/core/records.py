"""Records as the platform sees them: the v1 envelope and each type's ``data``.

docs/PLATFORM.md defines the envelope; docs/DOMAIN.md the ten provincial record types. We add
``meal_service``, ``vision_violation``, the documented extensions ``daily_ledger``,
``rectification``, ``waste_disposal`` and ``sample_discard``, and the alarm envelope.
Every ``data`` model is strict (unknown fields are errors) so the exported JSON Schemas are a contract the platform can validate against.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Verdict = Literal["pass", "fail", "warn"]
Meal = str  # breakfast / lunch / dinner or a site-defined meal name
ENVELOPE_VERSION = 1


class _Data(BaseModel):
    """Base of every record's ``data``: strict, and knows its record type."""

    model_config = ConfigDict(extra="forbid")
    record_type: ClassVar[str]
    # Outbox priority class (see agent.store.Priority); health checks jump the queue.
    priority: ClassVar[str] = "record"


# --- the ten provincial types ---------------------------------------------------------


class StaffHealthCheck(_Data):
    """从业人员日检 (晨检): one morning check of one person."""

    record_type: ClassVar[str] = "staff_health_check"
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


class FoodSample(_Data):
    """食品留样: one dish of one meal, weighed into the sample fridge."""

    record_type: ClassVar[str] = "food_sample"
    meal: Meal
    dish: str
    grams: float
    min_grams: float
    sampled_at: AwareDatetime
    kept_until: AwareDatetime
    fridge_id: str | None = None
    container: str | None = None


class ThermalDisinfection(_Data):
    """餐饮具消毒: one disinfection cycle of a cabinet, steamer or dishwasher."""

    record_type: ClassVar[str] = "tableware_disinfection"
    device_id: str
    method: str = Field(description="infrared_cabinet, steam, boiling, dishwasher_rinse, chlorine")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    target_c: float | None = None
    required_s: float | None = None
    peak_c: float | None = None
    seconds_at_target: float | None = None
    chlorine_mg_per_l: float | None = None
    immersion_min: float | None = None
    cut_short: bool = False
    meal: Meal | None = None


class PremisesDisinfection(_Data):
    """场所设备消毒: one UV lamp or ozone run."""

    record_type: ClassVar[str] = "premises_disinfection"
    device_id: str
    room: str | None = None
    method: Literal["uv_lamp", "ozone"]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    minutes: float
    target_minutes: float


class IngredientPurchase(_Data):
    """食材采购 (进货查验): goods received and inspected."""

    record_type: ClassVar[str] = "ingredient_purchase"
    supplier: str
    item: str
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    grams: float | None = None
    quantity: float | None = None
    unit: str | None = None
    supplier_licence_expires_on: date | None = None
    certificate_checked: bool | None = None


class AdditiveUsage(_Data):
    """添加剂领用: additive taken from the dedicated cabinet."""

    record_type: ClassVar[str] = "additive_usage"
    additive: str
    grams: float = Field(description="weight taken (before minus after)")
    before_g: float | None = None
    after_g: float | None = None
    batch: str | None = None
    food: str | None = None
    limit_g: float | None = None


class LeaderMeal(_Data):
    """领导陪餐: a school leader accompanied a meal."""

    record_type: ClassVar[str] = "leader_meal"
    meal: Meal
    staff_id: str
    name: str | None = None
    role: str | None = None
    remarks: str | None = None


class StaffTraining(_Data):
    """从业人员培训: attendance at a training session."""

    record_type: ClassVar[str] = "staff_training"
    session: str
    staff_id: str
    name: str | None = None
    hours: float | None = None


class SuperiorInspection(_Data):
    """上级巡检: an inspector from a supervising authority checked in."""

    record_type: ClassVar[str] = "superior_inspection"
    inspector_id: str
    name: str | None = None
    organisation: str | None = None
    findings_text: str | None = None


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str
    ok: bool
    note: str | None = None


class RoutineDailyCheck(_Data):
    """常规日检: the manager's daily checklist."""

    record_type: ClassVar[str] = "routine_daily_check"
    items: list[ChecklistItem] = Field(min_length=1)


# --- project types ---------------------------------------------------------------------


class MealService(_Data):
    """供应餐次/就餐人数: a meal served and how many ate."""

    record_type: ClassVar[str] = "meal_service"
    meal: Meal
    served_on: date
    diners: int = Field(ge=0)
    dishes: list[str] = Field(default_factory=list)
    corrects: str | None = Field(None, description="id of the meal_service record of the same meal and "
                                                   "day that this one replaces (a corrected registration)")


class SampleDiscard(_Data):
    """留样处理: one meal's food samples discarded once their keep time was over."""

    record_type: ClassVar[str] = "sample_discard"
    meal: Meal
    sampled_on: date
    samples: int = Field(ge=1, description="food_sample records of that meal and day")
    last_sampled_at: datetime = Field(description="the latest of them: the keep time counts from it")
    kept_hours: float = Field(ge=0, description="hours from last_sampled_at to the discard")
    sample_ids: list[str] = Field(default_factory=list, description="ids of the food_sample records discarded")
    discarded_by: str | None = Field(None, max_length=100, description="who discarded them, as the manager wrote it")
    remark: str | None = Field(None, max_length=500)


class VisionViolation(_Data):
    """A compliance violation seen by a kitchen camera (no mask, no chef hat)."""

    record_type: ClassVar[str] = "vision_violation"
    priority: ClassVar[str] = "record"
    camera_id: str
    kind: Literal["no_mask", "no_hat"]
    started_at: AwareDatetime
    seen_s: float = Field(ge=0, description="How long it persisted before being raised")
    track_id: int
    confidence: float = Field(ge=0, le=1)
    box: tuple[float, float, float, float] | None = Field(None, description="x1,y1,x2,y2 normalised")


class LedgerLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_type: str
    count: int
    passed: int = 0
    failed: int = 0
    warned: int = 0


class DailyLedger(_Data):
    """Extension type: the day's summary, written once at day end."""

    record_type: ClassVar[str] = "daily_ledger"
    day: date
    lines: list[LedgerLine]
    open_alarms: list[str] = Field(default_factory=list)
    still_due: list[str] = Field(default_factory=list)
    # Optional since v1.1 of the extension (docs/daily_ledger.md); absent in older ledgers.
    duties_due: int | None = Field(None, ge=0, description="Duties that fell due that day (reminders)")
    duties_done: int | None = Field(None, ge=0, description="Of those, how many were done")
    alarms_raised: int | None = Field(None, ge=0, description="Alarms raised that day, any kind")
    diners: int | None = Field(None, ge=0, description="Diners over all meals served (meal_service)")
    replaces: str | None = Field(None, description="Id of an earlier ledger of this day written before the "
                                                   "day had ended (a clock set ahead); that one is void")


class Rectification(_Data):
    """Extension type 整改: the corrective action that resolved an alarm (docs/PLATFORM.md)."""

    record_type: ClassVar[str] = "rectification"
    alarm_id: str = Field(description="id of the alarm envelope (its raise) this resolves")
    alarm_kind: str = Field(description="kind of that alarm, e.g. fever, cold_chain_high")
    subject: dict[str, str] = Field(description="the alarm's subject (staff_id / device_id / meal ...)")
    action_text: str = Field(min_length=1, max_length=2000, description="what was done about it")
    resolved_by: str = Field(min_length=1, description="console user name of the manager")
    restores_fitness: bool | None = Field(
        None, description="fever: the manager restores the person's fitness for duty today (reason in action_text)")


class WasteDisposal(_Data):
    """Extension type 餐厨废弃物处置: kitchen waste or used oil handed to a licensed collector."""

    record_type: ClassVar[str] = "waste_disposal"
    kind: Literal["kitchen_waste", "waste_oil", "other"] = Field(description="餐厨垃圾, 废弃油脂, other")
    kg: float = Field(gt=0, le=5000, description="weight handed over")
    weight_source: Literal["typed", "scale"] = "typed"
    collector: str = Field(min_length=1, max_length=200, description="the licensed collecting company")
    receipt_no: str | None = Field(None, max_length=100, description="the collector's receipt (联单) number")
    recorded_by: str | None = Field(None, description="console user name")


class AgentUpdate(_Data):
    """Extension type: what became of a remote update (docs/PLATFORM.md §12)."""

    record_type: ClassVar[str] = "agent_update"
    # sent in the alarms' class: a new version on trial proves its uplink by this record's
    # ack, which a backlog of days of records must not hold back past the trial window
    priority: ClassVar[str] = "alarm"
    outcome: Literal["started", "committed", "rolled_back", "refused"] = Field(
        description="started: the new version runs, on trial (its delivery proves the uplink); "
                    "committed: it was healthy in time and stays; rolled_back: it was undone and "
                    "the old version runs; refused: nothing was installed")
    version: str = Field(max_length=64, description="the version the update named")
    from_version: str = Field(max_length=64, description="the version running when it was accepted")
    running_version: str | None = Field(None, max_length=64, description="the version running now")
    reason: str | None = Field(None, max_length=1000, description="why it was undone or refused")
    command_id: str | None = Field(None, max_length=128, description="the update command's id")
    seconds: float | None = Field(None, ge=0, description="from the command's acceptance to this outcome")


AlarmState = Literal["raised", "cleared"]
Severity = Literal["critical", "major", "minor", "info"]


class AlarmData(_Data):
    """The ``data`` of an alarm envelope (``type: "alarm"``)."""

    record_type: ClassVar[str] = "alarm"
    priority: ClassVar[str] = "alarm"
    kind: str = Field(description="e.g. cold_chain_high, device_offline, no_mask, fever")
    state: AlarmState
    severity: Severity
    subject: dict[str, str] = Field(description="device_id / camera_id / staff_id / meal ...")
    message: str
    raised_id: str | None = Field(None, description="on a clear: the id of the raise it ends")
    details: dict[str, Any] = Field(default_factory=dict)


RECORD_TYPES: dict[str, type[_Data]] = {
    cls.record_type: cls
    for cls in (
        RoutineDailyCheck, StaffHealthCheck, FoodSample, LeaderMeal, ThermalDisinfection,
        PremisesDisinfection, IngredientPurchase, AdditiveUsage, StaffTraining,
        SuperiorInspection, MealService, SampleDiscard, VisionViolation, DailyLedger, Rectification, WasteDisposal,
        AgentUpdate,
        AlarmData,
    )
}


def priority_of(record_type: str) -> str:
    """The outbox class of a record type (``_Data.priority``); unknown types queue as records."""
    data_model = RECORD_TYPES.get(record_type)
    return data_model.priority if data_model is not None else "record"


PROVINCIAL_TYPES = (
    "routine_daily_check", "staff_health_check", "food_sample", "leader_meal",
    "tableware_disinfection", "premises_disinfection", "ingredient_purchase",
    "additive_usage", "staff_training", "superior_inspection",
)


# --- the envelope ----------------------------------------------------------------------


class ClockState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    synced: bool
    source: str = Field(description="ntp, rtc, declared or none")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str
    kind: str


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str | None = None
    badge: str | None = None


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    content_type: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: str | None = Field(None, description="snapshot, clip, photo ...")


PhotoState = Literal["attached", "pending", "unavailable"]
PhotoReason = Literal["camera_down", "stale_frame", "grab_failed", "not_stored"]


class PhotoNote(BaseModel):
    """What became of the photo of a station that names a camera (extension of v1).

    ``attached``: the photo is in ``media`` (role ``photo``). ``pending``: the camera was
    still being read when the record was committed; the photo follows as a media object
    with role ``photo`` and this record's id (not listed in ``media``), unless that grab
    fails. ``unavailable``: saved without a photo, ``reason`` says why.
    """

    model_config = ConfigDict(extra="forbid")
    camera_id: str
    state: PhotoState
    reason: PhotoReason | None = Field(None, description="unavailable: why there is no photo.")
    taken_at: AwareDatetime | None = Field(None, description="attached: when the camera saw the picture.")


DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """One record or alarm as published on the wire (docs/PLATFORM.md, v1)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    v: Literal[1] = 1
    type: str
    agent_id: str
    school_id: str
    canteen_id: str
    seq: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    clock: ClockState
    source: Source | None = None
    operator: Operator | None = None
    verdict: Verdict | None = None
    findings: list[str] = Field(default_factory=list)
    data: DataT
    media: list[MediaRef] = Field(default_factory=list)
    photo: PhotoNote | None = Field(None, description="Station records whose station names a camera (extension).")


class TelemetrySample(BaseModel):
    model_config = ConfigDict(extra="allow")  # sample fields are the device profile's points
    t: datetime


class TelemetryBatch(BaseModel):
    """Sensor samples published on ``<root>/tele/<device_id>``."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, description="Batch id the platform acks (extension of v1).")
    device_id: str
    kind: str
    samples: list[TelemetrySample]


def parse_envelope(payload: dict[str, Any]) -> Envelope[Any]:
    """Validate a wire envelope, including its type's ``data`` (raises ValidationError)."""
    data_model = RECORD_TYPES.get(payload.get("type", ""))
    if data_model is None:
        raise ValueError(f"unknown record type {payload.get('type')!r}")
    return Envelope[data_model].model_validate(payload)  # type: ignore[valid-type]
