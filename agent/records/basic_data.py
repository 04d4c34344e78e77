"""基础数据 ``basic_data``: extension type 基础数据: one change to the school's basic data
that the management end collects (the canteen's profile with its food business licence
and quantified grade, a member of staff with their health certificate, a supplier or
contractor, a fixed asset), as it is after the change, with its version and who made it
from where (docs/PLATFORM.md §basic data). Its data, its words and the shapes it accepts.

The entities' own models (``CanteenProfile``, ``StaffFacts``, ``SupplierFacts``,
``AssetFacts``) are also what the store keeps (``basic_data`` rows) and what the
platform's ``sync_basic_data`` sends, so one validation holds everywhere.
"""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.records.base import Fact, RecordData, fact, facts
from agent.words.terms import Term, term

# 食品经营许可证编号: JY + 14 digits; 食品生产许可证: SC + 14 digits; 统一社会信用代码 (营业执照): 18 characters
FOOD_LICENCE = r"^JY\d{14}$"
SUPPLIER_LICENCE = r"^(?:JY\d{14}|SC\d{14}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})$"
HEALTH_CERT = r"^[A-Za-z0-9-]{4,32}$"
ENTITY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
PHONE = r"^\+?[0-9][0-9 -]{4,19}$"

ENTITY_WORDS: dict[str, Term] = {
    "canteen": Term("食堂基础信息", "canteen profile"),
    "staff": Term("从业人员", "staff"),
    "supplier": Term("供应商/承包商", "supplier or contractor"),
    "asset": Term("固定资产", "fixed asset"),
    "document": Term("食品安全知识及制度", "knowledge and rules"),
}
DOCUMENT_GROUPS: dict[str, Term] = {
    "rules": Term("管理制度", "rules"), "procedures": Term("操作规程", "procedures"),
    "training": Term("培训资料", "training material"), "emergency": Term("应急预案", "emergency plans"),
}
ACTIONS: dict[str, Term] = {
    "add": Term("新增", "added"), "edit": Term("修改", "changed"), "leave": Term("离职", "left"),
    "retire": Term("报废/停用", "retired"),
}
ORIGINS: dict[str, Term] = {
    "console": Term("学校端控制台", "console"), "platform": Term("管理平台", "platform"),
    "config": Term("初始配置", "config file"),
}
POSTS: dict[str, Term] = {
    "cook": Term("厨师", "cook"), "assistant": Term("帮厨", "kitchen assistant"), "server": Term("打饭员", "server"),
    "cleaner": Term("保洁员", "cleaner"), "buyer": Term("采购员", "buyer"), "storekeeper": Term("库管员", "storekeeper"),
    "supervisor": Term("食堂主管", "canteen supervisor"), "food_safety": Term("食品安全员", "food-safety officer"),
    "helper": Term("帮厨", "kitchen helper"), "manager": Term("食堂经理", "canteen manager"),
    "leader": Term("学校领导", "school leader"), "inspector": Term("检查人员", "inspector"),
    "other": Term("其他", "other"),
}
OPERATING_MODES: dict[str, Term] = {"self_run": Term("自营", "self-run"), "contracted": Term("承包经营", "contracted")}
SUPPLIER_KINDS: dict[str, Term] = {"supplier": Term("供应商", "supplier"), "contractor": Term("承包商", "contractor")}
ASSET_CATEGORIES: dict[str, Term] = {
    "fridge": Term("冰箱/冷柜", "fridge"), "freezer": Term("冷冻柜", "freezer"),
    "cabinet": Term("消毒柜", "disinfection cabinet"), "uv_lamp": Term("紫外线灯", "UV lamp"),
    "ozone": Term("臭氧发生器", "ozone generator"), "scale": Term("电子秤", "scale"),
    "thermometer": Term("温度计", "thermometer"), "core_probe": Term("中心温度计", "core-temperature probe"),
    "camera": Term("摄像头", "camera"), "badge_reader": Term("刷卡器", "badge reader"),
    "range_hood": Term("油烟机", "range hood"), "fire_extinguisher": Term("灭火器", "fire extinguisher"),
    "water_purifier": Term("净水器", "water purifier"), "insect_lamp": Term("灭蝇灯", "insect lamp"),
    "other": Term("其他设备", "other equipment"),
}
# the entities' fields, as a change lists them
FIELD_WORDS: dict[str, Term] = {
    "school_name": Term("学校名称", "school"), "canteen_name": Term("食堂名称", "canteen"),
    "address": Term("地址", "address"), "operating_mode": Term("经营方式", "operating mode"),
    "contractor": Term("承包商", "contractor"), "responsible_person": Term("负责人", "responsible person"),
    "responsible_phone": Term("负责人电话", "phone"), "licence_no": Term("许可证编号", "licence number"),
    "licence_scope": Term("经营项目", "licence scope"), "licence_valid_until": Term("许可证有效期", "licence valid until"),
    "licence_photo": Term("许可证扫描件", "licence scan"), "grade": Term("量化等级", "grade"),
    "grade_on": Term("评定日期", "graded on"), "seats": Term("座位数", "seats"),
    "diners_per_meal": Term("就餐人数", "diners"), "staff_id": Term("人员编号", "staff number"),
    "name": Term("名称", "name"), "post": Term("岗位", "post"), "badges": Term("工卡", "badges"),
    "health_cert_no": Term("健康证编号", "health certificate number"),
    "health_cert_valid_until": Term("健康证有效期", "health certificate valid until"),
    "health_cert_photo": Term("健康证照片", "health certificate photo"), "active": Term("在岗/在用", "active"),
    "on_duty": Term("排班", "on duty"), "joined_on": Term("入职日期", "joined on"),
    "left_on": Term("离职日期", "left on"), "training_hours": Term("培训学时", "training hours"),
    "supplier_id": Term("供应商编号", "supplier number"), "kind": Term("类别", "kind"),
    "supplies": Term("供应品类", "supplies"), "documents": Term("证照资料", "documents"),
    "asset_id": Term("资产编号", "asset number"), "category": Term("设备类别", "kind"),
    "device_id": Term("接入设备", "device"), "location": Term("位置", "location"),
    "calibrated_on": Term("检定日期", "calibrated on"), "calibration_due": Term("检定有效期", "calibration due"),
    "maintenance_due": Term("下次维保", "maintenance due"),
    "document_id": Term("资料编号", "document number"), "title": Term("标题", "title"),
    "group": Term("分类", "group"), "media_id": Term("文件", "file"), "content_type": Term("文件类型", "file type"),
    "sha256": Term("校验值", "hash"), "bytes": Term("大小", "size"),
}
# 计量器具: what must be calibrated (检定) on a schedule
MEASURING: frozenset[str] = frozenset({"scale", "thermometer", "core_probe"})


class Facts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CanteenProfile(Facts):
    """学校与食堂基础信息: the school and canteen, who answers for it, its licence and grade."""

    school_name: str = Field(min_length=1, max_length=100)
    canteen_name: str = Field(min_length=1, max_length=100)
    address: str = Field("", max_length=200)
    operating_mode: Literal["self_run", "contracted"] = "self_run"
    contractor: str | None = Field(None, max_length=100, description="the contractor's supplier_id or name")
    responsible_person: str = Field(min_length=1, max_length=50, description="负责人")
    responsible_phone: str | None = Field(None, pattern=PHONE)
    licence_no: str = Field(pattern=FOOD_LICENCE, description="食品经营许可证编号: JY + 14 digits")
    licence_scope: str = Field("", max_length=200, description="经营项目")
    licence_valid_until: date
    licence_photo: str | None = Field(None, description="media id of its photo or scan")
    grade: Literal["A", "B", "C"] | None = Field(None, description="食堂量化等级")
    grade_on: date | None = None
    seats: int = Field(0, ge=0, le=20000)
    diners_per_meal: int = Field(0, ge=0, le=20000, description="就餐人数, usual per meal")

    @model_validator(mode="after")
    def _contractor(self) -> CanteenProfile:
        if self.operating_mode == "contracted" and not self.contractor:
            raise ValueError("a contracted canteen names its contractor")
        return self


class StaffFacts(Facts):
    """从业人员: a person, their post, badges and health certificate; kept after they leave."""

    staff_id: str = Field(pattern=ENTITY_ID)
    name: str = Field(min_length=1, max_length=50)
    post: str = Field("cook", min_length=1, max_length=50, description="岗位: cook, assistant ... or the site's own")
    badges: list[str] = Field(default_factory=list, max_length=8)
    health_cert_no: str | None = Field(None, pattern=HEALTH_CERT, description="健康证编号")
    health_cert_valid_until: date | None = None
    health_cert_photo: str | None = Field(None, description="media id of the certificate's photo")
    active: bool = Field(True, description="false: left (kept, never deleted)")
    on_duty: bool = True
    joined_on: date | None = None
    left_on: date | None = None
    training_hours: float | None = Field(None, ge=0, le=10000, description="training hours this year")


class SupplierFacts(Facts):
    """供应商、承包商: who supplies or runs the canteen, their licence (索证索票) and documents."""

    supplier_id: str = Field(pattern=ENTITY_ID)
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["supplier", "contractor"] = "supplier"
    licence_no: str | None = Field(None, pattern=SUPPLIER_LICENCE)
    licence_valid_until: date | None = None
    supplies: str = Field("", max_length=200, description="what they supply")
    documents: list[str] = Field(default_factory=list, description="media ids: licence, inspection reports")
    active: bool = True


class AssetFacts(Facts):
    """固定资产: a device the agent knows (``device_id``) or one the administrator adds; its
    maintenance due and, for measuring instruments, its calibration (计量器具检定)."""

    asset_id: str = Field(pattern=ENTITY_ID)
    name: str = Field(min_length=1, max_length=100)
    category: str = Field("other", min_length=1, max_length=50)
    device_id: str | None = Field(None, description="the agent's device id, when it is one of them")
    location: str = Field("", max_length=100)
    calibrated_on: date | None = None
    calibration_due: date | None = Field(None, description="next 检定 due")
    maintenance_due: date | None = Field(None, description="next maintenance due")
    active: bool = True

    @property
    def measuring(self) -> bool:
        return self.category in MEASURING


class DocumentFacts(Facts):
    """食品安全知识及制度: a document of the knowledge and rules library (PDF, image or Markdown),
    stored as a media object with its hash; readable on every console page and on a station
    screen whose config names it."""

    document_id: str = Field(pattern=ENTITY_ID)
    title: str = Field(min_length=1, max_length=100)
    group: Literal["rules", "procedures", "training", "emergency"] = "rules"
    media_id: str | None = Field(None, description="the media object holding the file")
    content_type: Literal["application/pdf", "image/jpeg", "image/png", "text/markdown"] = "application/pdf"
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(0, ge=0)
    active: bool = True


Entity = Literal["canteen", "staff", "supplier", "asset", "document"]
FACTS: dict[str, type[Facts]] = {"canteen": CanteenProfile, "staff": StaffFacts, "supplier": SupplierFacts,
                                 "asset": AssetFacts, "document": DocumentFacts}


class BasicData(RecordData):
    """Extension type 基础数据: one entity of the school's basic data after a change."""

    record_type: ClassVar[str] = "basic_data"
    title: ClassVar[Term] = Term("基础数据", "Basic data")
    entity: Entity
    entity_id: str = Field(min_length=1, max_length=32)
    action: Literal["add", "edit", "leave", "retire"]  # retire: an asset or a document taken out
    version: int = Field(ge=1, description="the entity's version after this change (each change adds one)")
    origin: Literal["console", "platform", "config"]
    entered_by: str = Field(min_length=1, max_length=64, description="the console account, or platform / config")
    changed: list[str] = Field(default_factory=list, description="the fields this change changed")
    canteen: CanteenProfile | None = None
    staff: StaffFacts | None = None
    supplier: SupplierFacts | None = None
    asset: AssetFacts | None = None
    document: DocumentFacts | None = None

    @model_validator(mode="after")
    def _one_entity(self) -> BasicData:
        given = [name for name in FACTS if getattr(self, name) is not None]
        if given != [self.entity]:
            raise ValueError(f"a {self.entity} change carries its {self.entity} and nothing else")
        return self

    def is_personal(self) -> bool:
        return self.entity == "staff"  # a health certificate

    def facts_of(self) -> Facts:
        found = getattr(self, self.entity)
        assert isinstance(found, Facts)
        return found

    def brief(self) -> list[Fact]:
        return facts(fact("对象", "what", f"{ENTITY_WORDS[self.entity]} · {label_of(self.facts_of())}"),
                     fact("变更", "change", f"{ACTIONS[self.action]} v{self.version}"),
                     fact("字段", "fields", fields_text(self.changed)),
                     fact("来源", "from", ORIGINS[self.origin]),
                     fact("录入人", "by", self.entered_by, is_name=True))


def label_of(found: Facts) -> str:
    if isinstance(found, CanteenProfile):
        return f"{found.school_name} {found.canteen_name}"
    if isinstance(found, StaffFacts):
        return f"{found.name} ({found.staff_id})"
    if isinstance(found, SupplierFacts):
        return found.name
    if isinstance(found, AssetFacts):
        return f"{found.name} ({found.asset_id})"
    if isinstance(found, DocumentFacts):
        return found.title
    return ""


def fields_text(changed: list[str]) -> str:
    """``工卡 badges、健康证有效期 health certificate valid until``."""
    return "、".join(str(term(FIELD_WORDS, name)) for name in changed)


def post_words(post: str | None) -> Term:
    return term(POSTS, post)


def is_shape(pattern: str, text: str) -> bool:
    return re.match(pattern, text) is not None
