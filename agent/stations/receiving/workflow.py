"""Receiving (进货查验): badge → supplier, item, batch, dates → weight → ``ingredient_purchase``.

After the badge the station asks for each field in turn; the answer comes from the
keypad or a keyboard-style barcode reader (one line each):

============== ===============================================================
supplier       ``n`` = the n-th supplier of ``site.suppliers`` (1-based), or a name
item           any text
batch          any text; ``0`` = none
production     a date: ``20261130``, ``2026-11-30``, ``2026/11/30`` or ``261130``; ``0`` = none
expiry         a date as above, ``+n`` = n days of shelf life from production (or
               from today), ``0`` = none
============== ===============================================================

A GS1 barcode (``]C1``/``]d2`` prefix or starting with AI ``01``; fields separated by
GS, ``\\x1d``) fills whatever it carries in one scan: AI 01 (GTIN → item when none
yet), 10 (batch), 11 (production date), 17 (expiry date); the station then asks for
what is still missing.

The scale's stable weight (less ``tare_g``) may come at any point; the record is
written once every field has an answer and a weight is in. The verdict comes from the
rules (expired on receipt, near expiry, production date in the future, supplier
licence expired); a supplier not in ``site.suppliers`` adds ``supplier_unknown``.
After a record the session keeps the supplier and asks for the next item; it ends
after ``session_timeout_s`` idle or with another badge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from agent.records.ingredient_purchase import IngredientPurchase
from agent.stations.base import Staff, WeighingWorkflow, parse_choice, parse_date
from agent.stations.receiving.config import ReceivingConfig
from drivers.readings import BadgeScan, StableWeight, TextInput

log = logging.getLogger("agent.workflows.receiving")

STEPS = ("supplier", "item", "batch", "production_date", "expiry_date")
PROMPTS = {
    "supplier": "请选择供应商 / supplier",
    "item": "请输入或扫描品名 / item",
    "batch": "请输入或扫描批号（0=无） / batch",
    "production_date": "请输入生产日期 20261130（0=无） / production date",
    "expiry_date": "请输入保质期至 20261130 或 +天数（0=无） / expiry",
}
FINDING_TEXT = {
    "expired_on_receipt": "已过期，应拒收 / expired",
    "near_expiry": "临近保质期 / near expiry",
    "production_date_in_future": "生产日期晚于今天 / production date in the future",
    "supplier_licence_expired": "供应商许可证已过期 / supplier licence expired",
    "supplier_unknown": "供应商未登记 / unknown supplier",
}
GS = "\x1d"
_GS1_FIXED = {"01": 14, "11": 6, "17": 6}  # AI → fixed length; 10 (batch) is variable, ends at GS


def parse_gs1(text: str) -> dict[str, str] | None:
    """AI → value for a GS1 element string; None when the text is not one."""
    for prefix in ("]C1", "]d2", "]Q3", "]e0"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if not (text.startswith("01") and len(text) >= 18 and text[2:16].isdigit()):
            return None
    out: dict[str, str] = {}
    rest = text
    while rest:
        ai = rest[:2]
        if ai in _GS1_FIXED:
            n = _GS1_FIXED[ai]
            value, rest = rest[2:2 + n], rest[2 + n:]
            if len(value) != n or not value.isdigit():
                return None
        elif ai == "10":
            value, _, rest = rest[2:].partition(GS)
        else:
            return out or None  # an AI we do not read: keep what came before it
        out[ai] = value
        rest = rest.lstrip(GS)
    return out


@dataclass
class Session:
    staff: Staff
    deadline: datetime
    values: dict[str, Any] = field(default_factory=dict)
    grams: float | None = None

    def next_step(self) -> str | None:
        return next((s for s in STEPS if s not in self.values), None)


class Receiving(WeighingWorkflow[ReceivingConfig]):
    kind = "receiving"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.suppliers = list(self.config.site.suppliers)
        self.session: Session | None = None

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        self.session = Session(staff, self.session_deadline(scan.at))
        self.say(f"{staff.name} 进货查验：{self._prompt('supplier')}",
                 log_text=f"receiving started staff={staff.staff_id}")

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        session = self.open_session(reading.at)
        if session is None:
            return
        gs1 = parse_gs1(text)
        if gs1 is not None:
            self._apply_gs1(session, gs1)
        else:
            step = session.next_step()
            if step is None:
                self.say("请称重 / place the goods on the scale", level="warn")
                return
            try:
                session.values[step] = self._value(step, text, session, reading.at)
            except ValueError as exc:
                self.say(f"无法识别：{exc} / {PROMPTS[step]}", level="warn")
                return
        self._advance(session, reading.at)

    def on_weight(self, reading: StableWeight) -> None:
        weighed = self.weighing_session(reading)
        if weighed is None:
            return
        session, grams = weighed
        session.grams = grams
        self.say(f"已称重 {grams / 1000:.3f} kg / weighed")
        self._advance(session, reading.at)

    def on_tick(self, now: datetime) -> None:
        if self.session is not None and now >= self.session.deadline:
            unfinished = bool(self.session.values.keys() - {"supplier"}) or self.session.grams is not None
            self.session = None
            self.say("进货查验未完成，已取消 / receiving cancelled" if unfinished else "进货查验结束 / done",
                     level="warn" if unfinished else "info")

    # --- steps -------------------------------------------------------------------------


    def _prompt(self, step: str) -> str:
        if step == "supplier" and self.suppliers:
            listed = " ".join(f"{i}={name}" for i, name in enumerate(self.suppliers[:9], 1))
            return f"{PROMPTS[step]} {listed}"
        return PROMPTS[step]

    def _value(self, step: str, text: str, session: Session, at: datetime) -> Any:
        if step == "supplier":
            index = parse_choice(text, len(self.suppliers))
            return self.suppliers[index] if index is not None else text
        if step == "item":
            return text
        if text == "0":
            return None
        if step == "batch":
            return text
        if step == "expiry_date" and text.startswith("+") and text[1:].isdigit():
            start = session.values.get("production_date") or at.astimezone(self.tz).date()
            return start + timedelta(days=int(text[1:]))
        return parse_date(text)

    def _apply_gs1(self, session: Session, gs1: dict[str, str]) -> None:
        if "01" in gs1:
            session.values.setdefault("item", f"GTIN {gs1['01']}")
        if "10" in gs1:
            session.values["batch"] = gs1["10"]
        for ai, step in (("11", "production_date"), ("17", "expiry_date")):
            if ai in gs1:
                try:
                    session.values[step] = parse_date(gs1[ai])
                except ValueError:
                    self.say(f"条码日期无效 / bad date in barcode ({ai})", level="warn")

    def _advance(self, session: Session, at: datetime) -> None:
        step = session.next_step()
        if step is not None:
            self.say(self._prompt(step))
        elif session.grams is None:
            self.say("请称重 / place the goods on the scale")
        else:
            self._write(session, at)

    def _write(self, session: Session, at: datetime) -> None:
        v = session.values
        weighed_g = session.grams
        assert weighed_g is not None  # _advance writes only once the goods are weighed
        supplier = v["supplier"]
        licence = self.config.site.suppliers.get(supplier)
        data = IngredientPurchase(
            supplier=supplier, item=v["item"], batch=v["batch"], production_date=v["production_date"],
            expiry_date=v["expiry_date"], grams=session.grams, supplier_licence_expires_on=_date_or_none(licence))
        extra = [] if supplier in self.config.site.suppliers else ["supplier_unknown"]
        saved = self.record(data, occurred_at=at, source=self.source("scale"),
                            operator=session.staff.operator, extra_findings=extra)
        verdict = saved.verdict
        notes = "；".join(FINDING_TEXT.get(f, f) for f in saved.findings)
        if verdict == "fail":
            self.say(f"{v['item']} 验收不合格：{notes}", level="error")
        elif verdict == "warn":
            self.say(f"{v['item']} 已登记，注意：{notes}", level="warn")
        else:
            self.say(f"{v['item']} {weighed_g / 1000:.3f} kg 验收合格 / accepted", level="ok")
        log.info("receiving recorded station=%s id=%s verdict=%s", self.station.id, saved.id, verdict)
        # the next item from the same supplier: keep the supplier, ask again for the rest
        session.values = {"supplier": supplier}
        session.grams = None
        self.say(self._prompt("item"))


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None

