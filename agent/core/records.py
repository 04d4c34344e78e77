"""Records as the platform sees them: the v1 envelope and each type's ``data``.

docs/PLATFORM.md defines the envelope; docs/DOMAIN.md the ten provincial record types. We add
``meal_service``, ``vision_violation``, the documented extensions ``daily_ledger``,
``rectification``, ``waste_disposal`` and ``sample_discard``, and the alarm envelope.
Every ``data`` model is strict (unknown fields are errors) so the exported JSON Schemas are a contract the platform can validate against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent.core.alarm_texts import kind_term
from agent.core.words import (
    ALARM_STATES,
    DISINFECTION_METHODS,
    WASTE_KINDS,
    YES_NO,
    Term,
    meal,
    room,
    term,
)

Verdict = Literal["pass", "fail", "warn"]
Meal = str  # breakfast / lunch / dinner or a site-defined meal name
ENVELOPE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of what a record says, for people: a label and its value in words."""

    label: Term
    text: str
    is_name: bool = False  # a person's or an account's own name (not words to translate)


def fact(zh: str, en: str, text: object, *, is_name: bool = False) -> Fact:
    return Fact(Term(zh, en), "" if text is None else str(text), is_name)


class _Data(BaseModel):
    """Base of every record's ``data``: strict, knows its record type and its name for
    people (``title``), and says what matters in it (``brief``: the records page)."""

    model_config = ConfigDict(extra="forbid")
    record_type: ClassVar[str]
    title: ClassVar[Term]
    # Outbox priority class (see agent.store.Priority); health checks jump the queue.
    priority: ClassVar[str] = "record"

    def brief(self) -> list[Fact]:
        """The few facts a person looks for in this record (who, what, the figure)."""
        return []


def _c(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} °C"


def _g(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.3f} kg" if value >= 10_000 else f"{value:.0f} g"


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%m-%d %H:%M}"


def _who(name: str | None, staff_id: str) -> str:
    return f"{name} ({staff_id})" if name and name != staff_id else staff_id


def _facts(*facts: Fact | None) -> list[Fact]:
    """The facts that have something to say."""
    return [f for f in facts if f is not None and f.text.strip()]


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


# --- the ten provincial types ---------------------------------------------------------


class StaffHealthCheck(_Data):
    """从业人员日检 (晨检): one morning check of one person."""

    record_type: ClassVar[str] = "staff_health_check"
    title: ClassVar[Term] = Term("晨检", "Morning check")
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

    def brief(self) -> list[Fact]:
        return _facts(
            fact("人员", "person", _who(self.name, self.staff_id)),
            fact("体温", "temperature", _c(self.temperature_c)),
            fact("症状", "symptoms", "、".join(str(term(SYMPTOMS, s)) for s in self.symptoms)),
            fact("手部", "hands", "、".join(str(term(HAND_FINDINGS, h)) for h in self.hand_findings)),
            fact("今日上岗", "fit for duty", YES_NO[self.fit_for_duty]),
            fact("复测", "re-check", f"第 {self.attempt} 次 / check {self.attempt}") if self.attempt > 1 else None)


class FoodSample(_Data):
    """食品留样: one dish of one meal, weighed into the sample fridge."""

    record_type: ClassVar[str] = "food_sample"
    title: ClassVar[Term] = Term("留样", "Food sample")
    meal: Meal
    dish: str
    grams: float
    min_grams: float
    sampled_at: AwareDatetime
    kept_until: AwareDatetime
    fridge_id: str | None = None
    container: str | None = None

    def brief(self) -> list[Fact]:
        return _facts(fact("餐次", "meal", meal(self.meal)), fact("菜品", "dish", self.dish),
                      fact("重量", "weight", f"{_g(self.grams)}（≥ {_g(self.min_grams)}）"),
                      fact("留样至", "kept until", _when(self.kept_until)))


class ThermalDisinfection(_Data):
    """餐饮具消毒: one disinfection cycle of a cabinet, steamer or dishwasher."""

    record_type: ClassVar[str] = "tableware_disinfection"
    title: ClassVar[Term] = Term("餐饮具消毒", "Tableware disinfection")
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

    def brief(self) -> list[Fact]:
        held = (f"{(self.seconds_at_target or 0) / 60:.1f} / {self.required_s / 60:.0f} 分钟 min"
                if self.required_s else "")
        return _facts(fact("设备", "device", self.device_id),
                      fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                      fact("最高温度", "peak", _c(self.peak_c)), fact("达标时长", "held", held),
                      fact("餐次", "meal", meal(self.meal)) if self.meal else None,
                      fact("中断", "cut short", YES_NO[True]) if self.cut_short else None)


class PremisesDisinfection(_Data):
    """场所设备消毒: one UV lamp or ozone run."""

    record_type: ClassVar[str] = "premises_disinfection"
    title: ClassVar[Term] = Term("场所消毒", "Premises disinfection")
    device_id: str
    room: str | None = None
    method: Literal["uv_lamp", "ozone"]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    minutes: float
    target_minutes: float

    def brief(self) -> list[Fact]:
        return _facts(fact("房间", "room", room(self.room or self.device_id)),
                      fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                      fact("时长", "duration", f"{self.minutes:.0f} / {self.target_minutes:.0f} 分钟 min"))


class IngredientPurchase(_Data):
    """食材采购 (进货查验): goods received and inspected."""

    record_type: ClassVar[str] = "ingredient_purchase"
    title: ClassVar[Term] = Term("进货查验", "Goods received")
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

    def brief(self) -> list[Fact]:
        amount = _g(self.grams) if self.grams is not None else (
            f"{self.quantity:g} {self.unit or ''}".strip() if self.quantity is not None else "")
        return _facts(fact("食材", "item", self.item), fact("供应商", "supplier", self.supplier),
                      fact("数量", "amount", amount), fact("批次", "batch", self.batch),
                      fact("保质期至", "expires", self.expiry_date))


class AdditiveUsage(_Data):
    """添加剂领用: additive taken from the dedicated cabinet."""

    record_type: ClassVar[str] = "additive_usage"
    title: ClassVar[Term] = Term("添加剂领用", "Additive used")
    additive: str
    grams: float = Field(description="weight taken (before minus after)")
    before_g: float | None = None
    after_g: float | None = None
    batch: str | None = None
    food: str | None = None
    limit_g: float | None = None

    def brief(self) -> list[Fact]:
        limit = f"（限量 limit {_g(self.limit_g)}）" if self.limit_g is not None else ""
        return _facts(fact("添加剂", "additive", self.additive), fact("用量", "amount", _g(self.grams) + limit),
                      fact("用于", "food", self.food), fact("批次", "batch", self.batch))


class LeaderMeal(_Data):
    """领导陪餐: a school leader accompanied a meal."""

    record_type: ClassVar[str] = "leader_meal"
    title: ClassVar[Term] = Term("领导陪餐", "Leader meal")
    meal: Meal
    staff_id: str
    name: str | None = None
    role: str | None = None
    remarks: str | None = None

    def brief(self) -> list[Fact]:
        return _facts(fact("陪餐人", "leader", _who(self.name, self.staff_id)), fact("餐次", "meal", meal(self.meal)),
                      fact("备注", "remarks", self.remarks))


class StaffTraining(_Data):
    """从业人员培训: attendance at a training session."""

    record_type: ClassVar[str] = "staff_training"
    title: ClassVar[Term] = Term("培训", "Training")
    session: str
    staff_id: str
    name: str | None = None
    hours: float | None = None

    def brief(self) -> list[Fact]:
        return _facts(fact("人员", "person", _who(self.name, self.staff_id)), fact("培训", "session", self.session),
                      fact("学时", "hours", f"{self.hours:g} h" if self.hours is not None else ""))


class SuperiorInspection(_Data):
    """上级巡检: an inspector from a supervising authority checked in."""

    record_type: ClassVar[str] = "superior_inspection"
    title: ClassVar[Term] = Term("上级巡检", "Inspection")
    inspector_id: str
    name: str | None = None
    organisation: str | None = None
    findings_text: str | None = None

    def brief(self) -> list[Fact]:
        return _facts(fact("检查人", "inspector", _who(self.name, self.inspector_id)),
                      fact("单位", "organisation", self.organisation), fact("检查发现", "findings", self.findings_text))


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str
    ok: bool
    note: str | None = None


class RoutineDailyCheck(_Data):
    """常规日检: the manager's daily checklist."""

    record_type: ClassVar[str] = "routine_daily_check"
    title: ClassVar[Term] = Term("常规日检", "Routine daily check")
    items: list[ChecklistItem] = Field(min_length=1)

    def brief(self) -> list[Fact]:
        failed = [i for i in self.items if not i.ok]
        return _facts(fact("检查项", "items", f"{len(self.items)} 项 items，{len(failed)} 项不合格 failed"),
                      *(fact("不合格", "failed", f"{i.item}{'：' + i.note if i.note else ''}") for i in failed))


# --- project types ---------------------------------------------------------------------


class MealService(_Data):
    """供应餐次/就餐人数: a meal served and how many ate."""

    record_type: ClassVar[str] = "meal_service"
    title: ClassVar[Term] = Term("供餐登记", "Meal served")
    meal: Meal
    served_on: date
    diners: int = Field(ge=0)
    dishes: list[str] = Field(default_factory=list)
    corrects: str | None = Field(None, description="id of the meal_service record of the same meal and "
                                                   "day that this one replaces (a corrected registration)")

    def brief(self) -> list[Fact]:
        return _facts(fact("餐次", "meal", meal(self.meal)), fact("日期", "day", self.served_on),
                      fact("就餐人数", "diners", self.diners), fact("菜品", "dishes", "、".join(self.dishes)),
                      fact("更正", "correction", YES_NO[True]) if self.corrects else None)


class SampleDiscard(_Data):
    """留样处理: one meal's food samples discarded once their keep time was over."""

    record_type: ClassVar[str] = "sample_discard"
    title: ClassVar[Term] = Term("留样处理", "Samples discarded")
    meal: Meal
    sampled_on: date
    samples: int = Field(ge=1, description="food_sample records of that meal and day")
    last_sampled_at: datetime = Field(description="the latest of them: the keep time counts from it")
    kept_hours: float = Field(ge=0, description="hours from last_sampled_at to the discard")
    sample_ids: list[str] = Field(default_factory=list, description="ids of the food_sample records discarded")
    discarded_by: str | None = Field(None, max_length=100, description="who discarded them, as the manager wrote it")
    remark: str | None = Field(None, max_length=500)

    def brief(self) -> list[Fact]:
        return _facts(fact("餐次", "meal", meal(self.meal)), fact("留样日期", "sampled on", self.sampled_on),
                      fact("份数", "samples", self.samples), fact("保存", "kept", f"{self.kept_hours:.0f} 小时 h"),
                      fact("处理人", "by", self.discarded_by, is_name=True))


class VisionViolation(_Data):
    """A compliance violation seen by a kitchen camera (no mask, no chef hat)."""

    record_type: ClassVar[str] = "vision_violation"
    title: ClassVar[Term] = Term("视频识别违规", "Camera violation")
    priority: ClassVar[str] = "record"
    camera_id: str
    kind: Literal["no_mask", "no_hat"]
    started_at: AwareDatetime
    seen_s: float = Field(ge=0, description="How long it persisted before being raised")
    track_id: int
    confidence: float = Field(ge=0, le=1)
    box: tuple[float, float, float, float] | None = Field(None, description="x1,y1,x2,y2 normalised")

    def brief(self) -> list[Fact]:
        what = {"no_mask": Term("未戴口罩", "no mask"), "no_hat": Term("未戴厨师帽", "no chef hat")}[self.kind]
        return _facts(fact("违规", "violation", what), fact("摄像头", "camera", self.camera_id),
                      fact("开始", "started", _when(self.started_at)))


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
    title: ClassVar[Term] = Term("每日台账", "Daily ledger")
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

    def brief(self) -> list[Fact]:
        done = f"{self.duties_done} / {self.duties_due}" if self.duties_due is not None else ""
        return _facts(fact("日期", "day", self.day), fact("完成事项", "duties done", done),
                      fact("告警", "alarms raised", self.alarms_raised), fact("就餐人数", "diners", self.diners),
                      fact("未完成", "still due", len(self.still_due)) if self.still_due else None)


class Rectification(_Data):
    """Extension type 整改: a person's corrective action on an alarm (docs/PLATFORM.md)."""

    record_type: ClassVar[str] = "rectification"
    title: ClassVar[Term] = Term("整改", "Rectification")
    alarm_id: str = Field(description="id of the alarm envelope (its raise) this resolves")
    alarm_kind: str = Field(description="kind of that alarm, e.g. fever, cold_chain_high")
    subject: dict[str, str] = Field(description="the alarm's subject (staff_id / device_id / meal ...)")
    action_text: str = Field(min_length=1, max_length=2000, description="what was done about it")
    resolved_by: str = Field(min_length=1, description="console user name of the manager")
    restores_fitness: bool | None = Field(
        None, description="fever: the manager restores the person's fitness for duty today (reason in action_text)")
    clears_alarm: bool | None = Field(
        None, description="true: this 整改 closed the alarm (an event alarm such as fever); false: recorded on a "
                          "condition alarm, which clears only when its condition does (extension; absent before)")

    def brief(self) -> list[Fact]:
        return _facts(fact("告警", "alarm", kind_term(self.alarm_kind)), fact("整改措施", "action", self.action_text),
                      fact("整改人", "by", self.resolved_by, is_name=True),
                      fact("恢复上岗", "fit again", YES_NO[self.restores_fitness])
                      if self.restores_fitness is not None else None)


class WasteDisposal(_Data):
    """Extension type 餐厨废弃物处置: kitchen waste or used oil handed to a licensed collector."""

    record_type: ClassVar[str] = "waste_disposal"
    title: ClassVar[Term] = Term("餐厨废弃物处置", "Waste disposal")
    kind: Literal["kitchen_waste", "waste_oil", "other"] = Field(description="餐厨垃圾, 废弃油脂, other")
    kg: float = Field(gt=0, le=5000, description="weight handed over")
    weight_source: Literal["typed", "scale"] = "typed"
    collector: str = Field(min_length=1, max_length=200, description="the licensed collecting company")
    receipt_no: str | None = Field(None, max_length=100, description="the collector's receipt (联单) number")
    recorded_by: str | None = Field(None, description="console user name")

    def brief(self) -> list[Fact]:
        return _facts(fact("类别", "kind", term(WASTE_KINDS, self.kind)), fact("重量", "weight", f"{self.kg:g} kg"),
                      fact("收运单位", "collector", self.collector), fact("联单号", "receipt", self.receipt_no))


class AgentUpdate(_Data):
    """Extension type: what became of a remote update (docs/PLATFORM.md §12)."""

    record_type: ClassVar[str] = "agent_update"
    title: ClassVar[Term] = Term("远程升级", "Remote update")
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

    def brief(self) -> list[Fact]:
        return _facts(fact("结果", "outcome", UPDATE_OUTCOMES[self.outcome]),
                      fact("版本", "version", f"{self.from_version} → {self.version}"),
                      fact("原因", "reason", self.reason))


UPDATE_OUTCOMES: dict[str, Term] = {
    "started": Term("试运行中", "on trial"), "committed": Term("已生效", "committed"),
    "rolled_back": Term("已回退", "rolled back"), "refused": Term("已拒绝", "refused"),
}


AlarmState = Literal["raised", "cleared"]
Severity = Literal["critical", "major", "minor", "info"]


class AlarmData(_Data):
    """The ``data`` of an alarm envelope (``type: "alarm"``)."""

    record_type: ClassVar[str] = "alarm"
    title: ClassVar[Term] = Term("告警", "Alarm")
    priority: ClassVar[str] = "alarm"
    kind: str = Field(description="e.g. cold_chain_high, device_offline, no_mask, fever")
    state: AlarmState
    severity: Severity
    subject: dict[str, str] = Field(description="device_id / camera_id / staff_id / meal ...")
    message: str
    raised_id: str | None = Field(None, description="on a clear: the id of the raise it ends")
    details: dict[str, Any] = Field(default_factory=dict)
    closed_by: Literal["condition", "rectification"] | None = Field(
        None, description="on a clear (extension): its condition cleared, or a person's rectification (整改) "
                          "closed it; absent on clears written before the field existed")
    rectification_id: str | None = Field(
        None, description="on a clear closed by a rectification: that rectification record's id (extension)")

    def brief(self) -> list[Fact]:
        if self.state == "raised":
            return _facts(fact("告警", "alarm", kind_term(self.kind)), fact("状态", "state", Term("触发", "raised")),
                          fact("内容", "message", self.message))
        # a clear's message may name the rectification's id (v1): how it ended, in words
        rectified = self.closed_by == "rectification" or (self.closed_by is None and "rectification" in self.message)
        ended = ALARM_STATES["rectified" if rectified else "cleared"]
        return _facts(fact("告警", "alarm", kind_term(self.kind)), fact("状态", "state", Term("结束", "ended")),
                      fact("结束方式", "how it ended", ended))


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
