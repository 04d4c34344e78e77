"""Store room (出库): badge → the batch (scanned or typed) → the meal → the weight → ``stock_issue``.

The batch is its receipt's id or its batch code (a code naming several batches asks for
the receipt's id). The station refuses, saying why, a batch with no receipt, an expired
one (a manager may override it on the console, where who decided is recorded), one
counted rather than weighed at receiving, and more than is on hand; the check and the
record are one step (``agent.core.stock.issue``). The meal is chosen by number
(``1`` = the first meal of ``schedules.meals``); the issue is for today's meal. After a
record the session keeps the meal and asks for the next batch; it ends after
``session_timeout_s`` idle or with another badge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.stock import Batch, StockRefused, find, issue
from agent.stations.base import Staff, WeighingWorkflow, meal_label, parse_choice
from agent.stations.store_room.config import StoreRoomConfig
from drivers.readings import BadgeScan, StableWeight, TextInput

log = logging.getLogger("agent.workflows.store_room")
ASK_BATCH = "请扫描或输入批号 / scan or type the batch"


@dataclass
class Session:
    staff: Staff
    deadline: datetime
    batch: Batch | None = None
    meal: str | None = None


class StoreRoom(WeighingWorkflow[StoreRoomConfig]):
    kind = "store_room"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.session: Session | None = None

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        self.session = Session(staff, self.session_deadline(scan.at))
        self.say(f"{staff.name} 出库：{ASK_BATCH}", log_text=f"store room started staff={staff.staff_id}")

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None:
            return
        if session.batch is None or from_barcode:
            self._choose_batch(session, text, reading.at)
        elif session.meal is None:
            self._choose_meal(session, text)
        else:
            self.say("请称重 / place the goods on the scale", level="warn")

    def on_weight(self, reading: StableWeight) -> None:
        weighed = self.weighing_session(reading)
        if weighed is None:
            return
        session, grams = weighed
        if session.batch is None or session.meal is None:
            self.say(f"请先{'扫描批号' if session.batch is None else '选择餐次'} / "
                     f"{'scan the batch' if session.batch is None else 'choose the meal'} first", level="warn")
            return
        day = reading.at.astimezone(self.tz).date()
        batch = session.batch
        try:
            saved = issue(self.recorder, batch.receipt_id, grams, session.meal, day, now=reading.at,
                          source=self.source("scale"), operator=session.staff.operator)
        except StockRefused as refused:
            self.say(f"{batch.item} 未出库：{refused}", level="error",
                     log_text=f"store room refused station={self.station.id} reason={refused.reason}")
            return
        left = (batch.on_hand or 0) - grams
        self.say(f"{batch.item} {grams / 1000:.3f} kg 已出库到{meal_label(session.meal)}，余 {left / 1000:.3f} kg / issued",
                 level="ok")
        log.info("store room issued station=%s id=%s", self.station.id, saved.id)
        session.batch = None
        self.say(ASK_BATCH)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            unfinished = self.session.batch is not None
            self.session = None
            self.say("出库未完成，已取消 / issue cancelled" if unfinished else "出库结束 / done",
                     level="warn" if unfinished else "info")

    def _choose_batch(self, session: Session, text: str, at: datetime) -> None:
        found = find(self.reads, text)
        if not found:
            self.say("没有这个批次的入库记录 / no receipt of this batch", level="error")
            return
        if len(found) > 1:
            self.say("该批号对应多个批次，请扫描入库单号 / several batches: scan the receipt's id", level="warn")
            return
        batch = found[0]
        day = at.astimezone(self.tz).date()
        if not batch.measured_in_grams:
            self.say(f"{batch.item} 按数量入库，请在控制台出库 / counted, not weighed: issue it on the console",
                     level="warn")
            return
        if batch.expired(day):
            self.say(f"{batch.item} 已于 {batch.expiry_date} 过期，不能出库（主管可在控制台放行） / expired",
                     level="error")
            return
        if not (batch.on_hand or 0) > 0:
            self.say(f"{batch.item} 库存为零 / nothing on hand", level="error")
            return
        session.batch = batch
        if session.meal is None:
            meals = list(self.config.schedules.meals)
            listed = " ".join(f"{i}={meal_label(m)}" for i, m in enumerate(meals[:9], 1))
            self.say(f"{batch.item}（余 {(batch.on_hand or 0) / 1000:.3f} kg）：请选择餐次 / meal {listed}")
        else:
            self.say(f"{batch.item}（余 {(batch.on_hand or 0) / 1000:.3f} kg）出库到{meal_label(session.meal)}：请称重 / weigh")

    def _choose_meal(self, session: Session, text: str) -> None:
        meals = list(self.config.schedules.meals)
        index = parse_choice(text, len(meals))
        if index is None:
            self.say("无法识别餐次 / choose the meal by its number", level="warn")
            return
        session.meal = meals[index]
        self.say(f"出库到{meal_label(session.meal)}：请称重 / place the goods on the scale")
