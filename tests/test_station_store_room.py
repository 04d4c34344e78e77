"""The store-room station (出库, issue 25): badge, the batch scanned or typed, the meal, the
weight → ``stock_issue``; refusals said at the station and nothing written."""

from __future__ import annotations

from datetime import date

import pytest

from agent.core.stock import batch_of
from agent.records.ingredient_purchase import IngredientPurchase
from agent.stations.base import BADGE_FIRST
from agent.stations.registry import BY_NAME
from tests.fixtures_serial_stations import UNKNOWN, ZHANG, Rig, station_config

STORE_ROOM = {"kind": "store_room", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1",
              "barcode": "barcode-1"}


@pytest.fixture
def store_room(tmp_path, morning):
    rig = Rig(station_config(tmp_path, STORE_ROOM), morning)
    yield rig
    rig.close()


def receive(rig: Rig, item: str, batch: str, grams: float | None, expiry: date, quantity: float | None = None) -> str:
    return rig.recorder.record(IngredientPurchase(supplier="粮油公司", item=item, batch=batch, grams=grams,
                                                  quantity=quantity, unit="箱" if quantity else None,
                                                  expiry_date=expiry)).id


def test_a_batch_issued_to_a_meal_by_weight(store_room):
    rig = store_room
    rice = receive(rig, "大米", "B1", 25_000, date(2027, 6, 1))
    rig.badge(ZHANG)
    assert "请扫描或输入批号" in rig.last_said()
    rig.text("B1", device="barcode-1")
    assert "1=早餐" in rig.last_said() and "2=午餐" in rig.last_said()
    rig.text("2")
    rig.weight(8000)
    [issued] = rig.records("stock_issue")
    data = issued["data"]
    assert (data["receipt_id"], data["grams"], data["meal"], data["served_on"]) == (rice, 8000, "lunch", "2026-11-30")
    assert issued["operator"]["staff_id"] == "S001" and issued["source"]["device_id"] == "scale-1"
    assert "已出库到午餐" in rig.said()[-2] and "余 17.000 kg" in rig.said()[-2]
    # the next batch goes to the same meal; the receipt's id names it too
    rig.text(rice, device="barcode-1")
    rig.weight(20_000)  # more than the 17 kg left
    assert "超过库存数量" in rig.last_said() and len(rig.records("stock_issue")) == 1
    rig.weight(17_000)
    assert batch_of(rig.store, rice).on_hand == 0


def test_refusals_at_the_station(store_room):
    rig = store_room
    receive(rig, "牛奶", "M1", 5000, date(2026, 11, 29))  # expired yesterday
    receive(rig, "鸡蛋", "E1", None, date(2026, 12, 20), quantity=10)
    receive(rig, "面粉", "F1", 10_000, date(2027, 1, 1))
    receive(rig, "面粉", "F1", 10_000, date(2027, 1, 2))  # the same code from another delivery
    rig.weight(1000)
    assert rig.last_said() == BADGE_FIRST
    rig.badge(UNKNOWN)
    assert "未登记的工卡" in rig.last_said()
    rig.badge(ZHANG)
    for code, said in (("NOPE", "没有这个批次的入库记录"), ("M1", "过期，不能出库"), ("E1", "按数量入库"),
                       ("F1", "多个批次")):
        rig.text(code, device="barcode-1")
        assert said in rig.last_said(), code
    rig.weight(1000)
    assert "请先扫描批号" in rig.last_said()
    assert rig.records("stock_issue") == []


def test_the_kind_is_registered_and_needs_something_to_type_with(tmp_path) -> None:
    assert BY_NAME["store_room"].label.zh == "库房出库"
    with pytest.raises(Exception, match="needs a keypad or barcode"):
        station_config(tmp_path, {"kind": "store_room", "badge": "badge-1", "scale": "scale-1"})
