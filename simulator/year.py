"""A generated year of one canteen's records, for the trace benchmark and the scorecard.

``generate_year`` writes, through the agent's own Recorder (every record judged and
validated as the stations write them), what a canteen of ``diners`` writes on each day
of ``days``: goods received (with batch codes, weights and dates), issues of those
batches to three meals, the meals served with their diners and dishes, a sample per
dish, morning checks of the staff, leaders' meals, tableware disinfection, and now and
then a discard of spoiled goods. Random but seeded: the same arguments give the same year.
Records are queued to the store's group-commit writer without waiting for each one, so
a year is written in seconds; the call returns once all are committed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.core.recorder import Recorder
from agent.records.base import RecordData
from agent.records.envelope import Operator, Source
from agent.records.food_sample import FoodSample
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.leader_meal import LeaderMeal
from agent.records.meal_service import MealService
from agent.records.staff_health_check import StaffHealthCheck
from agent.records.stock_discard import StockDiscard
from agent.records.stock_issue import StockIssue
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.records.vision_violation import VisionViolation
from agent.store import Pending, Saved

ITEMS = (("大米", 50_000, 180), ("面粉", 25_000, 180), ("猪肉", 30_000, 3), ("鸡肉", 20_000, 3),
         ("鸡蛋", 15_000, 20), ("西红柿", 20_000, 7), ("青椒", 10_000, 7), ("白菜", 30_000, 7),
         ("土豆", 25_000, 30), ("豆腐", 15_000, 2), ("牛奶", 40_000, 10), ("食用油", 20_000, 365))
SUPPLIERS = ("粮油公司", "绿源蔬菜", "川味肉业", "天府乳业")
MEALS = {"breakfast": time(7, 30), "lunch": time(12, 0), "dinner": time(17, 30)}
DISHES = {"breakfast": ["馒头", "鸡蛋", "牛奶", "稀饭"],
          "lunch": ["米饭", "番茄炒蛋", "青椒肉丝", "麻婆豆腐", "白菜汤", "土豆丝"],
          "dinner": ["米饭", "宫保鸡丁", "炒白菜", "紫菜汤"]}
SOURCE = Source(device_id="year", kind="generated")


@dataclass
class Year:
    """What was written, for a benchmark to pick from."""

    records: int = 0
    receipts: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    meals: list[tuple[date, str]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)  # batch codes issued to at least one meal


def generate_year(recorder: Recorder, first_day: date, days: int, *, diners: int = 1500, staff: int = 60,
                  staff_ids: list[str] | None = None, seed: int = 25) -> Year:
    rng = random.Random(seed)
    tz: ZoneInfo = recorder.tz
    year = Year()
    last: Pending[Saved] | None = None
    stock: list[list[object]] = []  # [receipt id, item, batch, supplier, expiry, grams left]

    def put(data: RecordData, at: datetime, staff_id: str | None = None) -> str:
        nonlocal last
        draft = recorder.draft(data, occurred_at=at, source=SOURCE,
                               operator=Operator(staff_id=staff_id) if staff_id else None)
        last = recorder.store.submit_record(draft)
        year.records += 1
        return draft.id

    for n in range(days):
        day = first_day + timedelta(days=n)

        def at(clock: time, minutes: int = 0, day: date = day) -> datetime:
            return datetime.combine(day, clock, tzinfo=tz) + timedelta(minutes=minutes)

        for i, person in enumerate(staff_ids or [f"S{i:03d}" for i in range(staff)]):  # morning checks
            if rng.random() < 0.02:
                continue  # now and then someone is not checked
            put(StaffHealthCheck(staff_id=person, temperature_c=round(rng.uniform(36.0, 37.1), 1),
                                 normal_range_c=(35.9, 37.3)), at(time(6, 30), i // 4), person)
        i = 0
        for item, grams, shelf in ITEMS:  # deliveries: what runs low is ordered, a package or more
            left = sum(float(s[5]) for s in stock if s[1] == item and s[4] >= day)  # type: ignore[arg-type, operator]
            while left < 2 * grams and i < 40:
                batch = f"{day:%y%m%d}-{i:02d}"
                supplier = SUPPLIERS[rng.randrange(len(SUPPLIERS))]
                receipt = put(IngredientPurchase(
                    supplier=supplier, item=item, batch=batch, production_date=day - timedelta(days=1),
                    expiry_date=day + timedelta(days=shelf), grams=grams,
                    supplier_licence_expires_on=date(2030, 12, 31), certificate_checked=rng.random() > 0.02),
                    at(time(6, 0), i))
                stock.append([receipt, item, batch, supplier, day + timedelta(days=shelf), float(grams)])
                year.receipts.append(receipt)
                year.batches.append(batch)
                left += grams
                i += 1
        for meal, clock in MEALS.items():
            # first to expire, first out: of each item the batch that expires first
            usable: dict[str, list[object]] = {}
            for s in sorted(stock, key=lambda s: s[4]):  # type: ignore[arg-type, return-value]
                if float(s[5]) > 0 and s[4] >= day and s[1] not in usable:  # type: ignore[operator, arg-type]
                    usable[str(s[1])] = s
            for s in rng.sample(list(usable.values()), min(len(usable), rng.randint(10, 14))):
                grams = round(min(float(s[5]), rng.uniform(8_000, 25_000)), 0)  # type: ignore[arg-type]
                year.issued.add(str(s[2]))
                s[5] = float(s[5]) - grams  # type: ignore[arg-type]
                put(StockIssue(receipt_id=str(s[0]), item=str(s[1]), batch=str(s[2]), supplier=str(s[3]),
                               expiry_date=s[4], grams=grams, meal=meal, served_on=day,  # type: ignore[arg-type]
                               dishes=[rng.choice(DISHES[meal])]), at(clock, -90))
            served = diners - rng.randint(0, 60) if meal == "lunch" else int(diners * rng.uniform(0.3, 0.5))
            put(MealService(meal=meal, served_on=day, diners=served, dishes=DISHES[meal]), at(clock, 60))
            year.meals.append((day, meal))
            for k, dish in enumerate(DISHES[meal]):
                sampled = at(clock, -20 + k)
                put(FoodSample(meal=meal, dish=dish, grams=round(rng.uniform(126, 180), 1), min_grams=125,
                               sampled_at=sampled, kept_until=sampled + timedelta(hours=48)), sampled, "S001")
            if rng.random() < 0.9:
                put(LeaderMeal(meal=meal, staff_id="L01", name="周校长", role="principal"), at(clock, 10))
            start = at(clock, 80)
            put(ThermalDisinfection(device_id="cab-1", method="infrared_cabinet", started_at=start,
                                    ended_at=start + timedelta(minutes=30), target_c=120, required_s=600,
                                    peak_c=126.0, seconds_at_target=rng.choice((900, 900, 900, 500)), meal=meal),
                start + timedelta(minutes=30))
        for k in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):  # the kitchen cameras' violations
            seen = at(time(10, 0), rng.randint(0, 600))
            put(VisionViolation(camera_id="cam-1", kind=rng.choice(("no_mask", "no_hat")), started_at=seen,
                                seen_s=round(rng.uniform(3, 20), 1), track_id=n * 10 + k,
                                confidence=round(rng.uniform(0.6, 0.95), 2)), seen)
        for s in [s for s in stock if s[4] < day and float(s[5]) > 0]:  # type: ignore[operator, arg-type]
            put(StockDiscard(receipt_id=str(s[0]), item=str(s[1]), batch=str(s[2]), supplier=str(s[3]),
                             expiry_date=s[4], grams=float(s[5]), reason="expired",  # type: ignore[arg-type]
                             discarded_by="王五"), at(time(20, 0)))
            s[5] = 0.0
        stock = [s for s in stock if float(s[5]) > 0]  # type: ignore[arg-type]
    if last is not None:
        last.result()
    return year
