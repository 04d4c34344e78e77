"""What a representative sees (阳光公示): the day's facts as rates, verdicts and dishes.

Every figure comes from the same computations the staff pages use (``today_view``,
``expiry_items``), then loses its people: the morning check is a rate and a count of
checks that failed, never a name, a temperature or a symptom; certificates are counted
as valid / expiring / expired, never listed by person or number. What this module
returns is all the representatives' page can show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from agent.config_file.model import AgentConfig
from agent.core.menu import pushed_menu
from agent.core.reads import Reads
from agent.records.superior_inspection import SuperiorInspection
from agent.schedule.due import served_meals
from agent.schedule.expiry import expiry_items
from agent.schedule.today import today_view
from agent.words.alarms import kind_term
from agent.words.terms import meal as meal_term

IMAGE_TYPES = ("image/jpeg", "image/png")
WEEK_DAYS = 7
# the day's duties as the public reads them (the staff's today page has the same items, with people)
DUTIES: dict[str, str] = {"morning_check": "晨检 Morning checks", "samples": "留样 Food samples",
                          "leader_meal": "陪餐 Leaders' meals", "disinfection": "餐具消毒 Tableware disinfection",
                          "uv_run": "紫外线/臭氧消毒 UV / ozone"}
INSPECTION_DAYS = 90


@dataclass(frozen=True)
class MenuLine:
    meal: str  # words
    dishes: list[str]
    energy_kcal: float | None = None  # per portion, when the meal was planned (带量食谱)
    target: tuple[float, float] | None = None  # the school-meal target for the age group
    protein_g: float | None = None
    fat_g: float | None = None
    carbohydrate_g: float | None = None

    @property
    def in_target(self) -> bool | None:
        if self.energy_kcal is None or self.target is None:
            return None
        return self.target[0] <= self.energy_kcal <= self.target[1]


@dataclass(frozen=True)
class Sample:
    meal: str  # words
    dish: str
    grams: float
    enough: bool
    taken: str  # HH:MM
    photos: tuple[str, ...]  # media ids


@dataclass
class Disclosure:
    day: str
    as_of: str
    menu: list[MenuLine] = field(default_factory=list)
    week: list[tuple[str, list[MenuLine]]] = field(default_factory=list)  # (day, its menu): this week
    duties: list[tuple[str, int, int]] = field(default_factory=list)  # (words, done, due today)
    checked: int = 0
    on_duty: int = 0
    unfit: int = 0
    samples: list[Sample] = field(default_factory=list)
    disinfection: dict[str, int] = field(default_factory=dict)  # verdict -> count (today)
    cold_chain_open: int = 0
    rectifications_done: int = 0
    alarms_raised: int = 0
    inspections: list[tuple[str, str, str]] = field(default_factory=list)  # (date, authority, result)
    licences: dict[str, int] = field(default_factory=dict)  # valid | expiring | expired
    certificates: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> int | None:
        return round(100 * self.checked / self.on_duty) if self.on_duty else None


def disclose(reads: Reads, config: AgentConfig, now: datetime) -> Disclosure:
    tz = config.identity.tz
    local = now.astimezone(tz)
    day = local.date()
    view = today_view(reads, config, local)
    out = Disclosure(day.isoformat(), f"{local:%H:%M}")
    out.menu = _menu(reads, config, day, [m for m, _w in served_meals(config, day)])
    monday = day - timedelta(days=day.weekday())
    for n in range(WEEK_DAYS):
        other = monday + timedelta(days=n)
        if other == day:
            continue
        lines = _menu(reads, config, other, [m for m, _w in served_meals(config, other)], planned_or_served=True)
        if lines:
            out.week.append((other.isoformat(), lines))
    for duty, words in DUTIES.items():
        items = [i for i in view.items if i.duty == duty]
        if items:
            out.duties.append((words, sum(1 for i in items if i.is_done), len(items)))
    checks = [i for i in view.items if i.duty == "morning_check"]
    out.on_duty, out.checked = len(checks), sum(1 for i in checks if i.is_done)
    out.unfit = sum(1 for u in view.unfit.values() if u.outcome == "off_duty")  # as the staff's today page
    samples = list(reads.iter_records(type_="food_sample", day=day.isoformat()))
    media = reads.media_of_records(r["id"] for r in samples)
    for r in samples:
        d = r["data"]
        photos = tuple(m["id"] for m in media.get(r["id"], []) if m["content_type"] in IMAGE_TYPES)
        taken = datetime.fromisoformat(d["sampled_at"]).astimezone(tz)
        out.samples.append(Sample(meal_term(d["meal"]).zh, d["dish"], float(d["grams"]), r.get("verdict") != "fail",
                                  f"{taken:%H:%M}", photos))
    for type_ in ("tableware_disinfection", "premises_disinfection"):
        for r in reads.iter_records(type_=type_, day=day.isoformat()):
            verdict = r.get("verdict") or "pass"
            out.disinfection[verdict] = out.disinfection.get(verdict, 0) + 1
    out.cold_chain_open = sum(1 for a in reads.open_alarms() if a["kind"] in ("cold_chain_high", "cold_chain_low"))
    since = day - timedelta(days=INSPECTION_DAYS)
    recent = [a for a in reads.recent_alarms(500) if a["raised_at"] and a["raised_at"][:10] >= since.isoformat()]
    out.alarms_raised = len(recent)
    fixes = reads.rectifications_of(a["raised_id"] for a in recent)
    out.rectifications_done = sum(1 for a in recent if fixes.get(a["raised_id"]))
    for r in reads.latest_records(type_="superior_inspection", limit=20):
        if r["occurred_at"][:10] < since.isoformat():
            continue
        data = SuperiorInspection.model_validate(r["data"])  # the organisation only: no inspector's name
        result = {"fail": "发现问题 issues found", "warn": "需注意 to watch"}.get(r.get("verdict") or "", "")
        out.inspections.append((r["occurred_at"][:10], data.organisation or "", result))
    for item in expiry_items(reads, config, day):
        if item.what == "ingredient":
            continue
        bucket = "expired" if item.threshold == "expired" else "expiring"
        target = out.certificates if item.what == "health_certificate" else out.licences
        target[bucket] = target.get(bucket, 0) + 1
    people = [p for p in reads.roster() if p.get("on_duty", True) and p.get("health_cert_expires_on")]
    out.certificates["valid"] = max(0, len(people) - sum(out.certificates.values()))
    out.licences["valid"] = max(0, len(config.site.suppliers) - sum(out.licences.values()))
    return out


def _menu(reads: Reads, config: AgentConfig, day: date, meals: list[str],
          planned_or_served: bool = False) -> list[MenuLine]:
    """Each meal's dishes: the 带量食谱 planned for it (with its nutrition per portion), else what
    was registered as served, else the platform's menu for the day, else (today) the site's
    menu; ``planned_or_served``: no site menu."""
    plans = reads.menu_plans(day)
    pushed = pushed_menu(reads, day) or {}
    served: dict[str, list[str]] = {}
    for r in reads.iter_records(type_="meal_service", day=day.isoformat()):
        served[r["data"]["meal"]] = list(r["data"].get("dishes") or [])
    lines = []
    for meal in list(dict.fromkeys([*meals, *plans, *served, *pushed])):
        words = str(meal_term(meal).zh)
        plan = plans.get(meal)
        if plan is not None:
            data = plan["data"]
            portion = data["per_portion"]
            target = data.get("energy_target_kcal")
            lines.append(MenuLine(words, [d["name"] for d in data["dishes"]], portion["energy_kcal"],
                                  (float(target[0]), float(target[1])) if target else None, portion["protein_g"],
                                  portion["fat_g"], portion["carbohydrate_g"]))
        elif served.get(meal):
            lines.append(MenuLine(words, served[meal]))
        elif pushed.get(meal):
            lines.append(MenuLine(words, pushed[meal]))
        elif not planned_or_served:
            dishes = [d.name for d in config.site.menu if not d.meals or meal in d.meals]
            if dishes:
                lines.append(MenuLine(words, dishes))
    return lines


def kind_words(kind: str) -> str:
    return str(kind_term(kind))


def sample_photo(reads: Reads, media_id: str) -> dict[str, Any] | None:
    """The media row of a food sample's photo (the only media the public side serves), else None."""
    info = reads.media_info(media_id)
    if info is None or info["role"] != "photo" or info["content_type"] not in IMAGE_TYPES or not info["record_id"]:
        return None
    record = reads.get_record(info["record_id"])
    if record is None or record.get("type") != "food_sample":
        return None
    return {"path": info["path"], "content_type": info["content_type"]}
