"""Expiry warnings: health certificates, licences, ingredients, and assets' maintenance and calibration.

Each dated thing gets at most one open warning, for the most urgent threshold it has
reached (``rules.expiry.warn_days``, default 30, 7 and 1 days; ``expired`` past the
date). Moving to a closer threshold clears the earlier warning as superseded and
raises the new one, so each threshold is raised once per thing; a renewal (a later
date in the roster, the config or a later receipt) clears it.

Sources:
- health certificates: the roster in the store (config seeds it, the data administrator and
  the platform change it; someone who left is not warned about);
- the canteen's food business licence (经营许可证): its basic data (``rules.expiry.warn_days``);
- supplier licences: ``site.suppliers``, the suppliers' basic data and the latest
  ``supplier_licence_expires_on`` seen at receiving, whichever is latest;
- fixed assets: the next maintenance due (``rules.expiry.maintenance_warn_days``) and a
  measuring instrument's next calibration (计量器具检定, ``rules.expiry.warn_days``);
- ingredients: ``expiry_date`` of purchase records. A threshold is only warned about
  if the goods had more days left than that when received (milk received with 5 days
  left gets the 1-day warning, not the 7-day one: receiving already judged it). What
  is warned about is what is still on hand (``agent.core.stock``: the receipt less its
  issues and discards): an expired batch stays flagged until the last of it is issued
  under an override or discarded (报废), and clears then. A receipt with no amount on
  record is not stock: it stays flagged ``rules.expiry.ingredient_expired_watch_days``
  past its date and then drops off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.stock import batches
from agent.records.alarm import Severity
from agent.schedule.reminders import AlarmWant

log = logging.getLogger("agent.schedule.expiry")

What = Literal["health_certificate", "canteen_licence", "supplier_licence", "ingredient", "maintenance",
               "calibration"]
EXPIRED = "expired"
_WHAT_TEXT = {"health_certificate": ("健康证", "Health certificate"),
              "canteen_licence": ("食品经营许可证", "Food business licence"),
              "supplier_licence": ("供应商许可证", "Supplier licence"),
              "ingredient": ("食材", "Ingredient"),
              "maintenance": ("设备维保", "Maintenance"),
              "calibration": ("计量器具检定", "Calibration")}
_DUE = frozenset({"maintenance", "calibration"})  # work falling due, not a document expiring


@dataclass(frozen=True)
class ExpiryItem:
    what: What
    id: str
    label: str  # "张三 (S003)", "绿源蔬菜", "大米 batch B7 from 粮油公司"
    expires_on: date
    days_left: int
    threshold: str  # "30", "7", "1" or "expired"

    @property
    def subject(self) -> dict[str, str]:
        return {"what": self.what, "id": self.id, "threshold": self.threshold}


def threshold_for(days_left: int, warn_days: list[int], known_from: int | None = None) -> str | None:
    """The most urgent threshold reached: 10 days left with [30, 7, 1] -> "30".

    ``known_from``: days left when the thing was first seen; thresholds it already
    passed then are not news and are skipped.
    """
    if days_left < 0:
        return EXPIRED
    reached = [d for d in warn_days if days_left <= d and (known_from is None or d < known_from)]
    return str(min(reached)) if reached else None


def expiry_items(store: Reads, config: Settings, today: date) -> list[ExpiryItem]:
    """Everything that has reached a warning threshold on ``today``."""
    dated: list[tuple[What, str, str, date, int | None]] = []
    for person in store.roster():
        expires = _date(person.get("health_cert_expires_on"), f"staff {person['staff_id']}")
        if expires is not None:
            label = f"{person.get('name') or '?'} ({person['staff_id']})"
            dated.append(("health_certificate", person["staff_id"], label, expires, None))
    for supplier, expires in supplier_licences(store, config).items():
        dated.append(("supplier_licence", supplier, supplier, expires, None))
    dated += ingredients(store, config, today)
    dated += basic_data_dates(store)
    items = []
    warn_days = config.rules.expiry.warn_days
    for what, ident, label, expires, known_from in dated:
        days_left = (expires - today).days
        lead = config.rules.expiry.maintenance_warn_days if what == "maintenance" else warn_days
        threshold = threshold_for(days_left, lead, known_from)
        if threshold is not None:
            items.append(ExpiryItem(what, ident, label, expires, days_left, threshold))
    return sorted(items, key=lambda i: (i.expires_on, i.what, i.id))


def basic_data_dates(store: Reads) -> list[tuple[What, str, str, date, int | None]]:
    """The canteen's licence, and each active asset's maintenance and calibration due."""
    found: list[tuple[What, str, str, date, int | None]] = []
    for entry in store.basic_data_of("canteen"):
        value = entry["value"]
        expires = _date(value.get("licence_valid_until"), "canteen licence")
        if expires is not None:
            found.append(("canteen_licence", entry["id"], f"{value.get('canteen_name') or entry['id']} "
                                                          f"{value.get('licence_no') or ''}".strip(), expires, None))
    for entry in store.basic_data_of("asset"):
        value = entry["value"]
        if not value.get("active", True):
            continue
        label = f"{value.get('name') or entry['id']} ({entry['id']})"
        for what, key in (("maintenance", "maintenance_due"), ("calibration", "calibration_due")):
            due = _date(value.get(key), f"asset {entry['id']} {key}")
            if due is not None:
                found.append((what, entry["id"], label, due, None))  # type: ignore[arg-type]
    return found


def supplier_licences(store: Reads, config: Settings) -> dict[str, date]:
    latest: dict[str, date] = {}
    for supplier, text in config.site.suppliers.items():
        expires = _date(text, f"supplier {supplier}")
        if expires is not None:
            latest[supplier] = expires
    for entry in store.basic_data_of("supplier"):
        value = entry["value"]
        expires = _date(value.get("licence_valid_until"), f"supplier {entry['id']}")
        if expires is not None and value.get("active", True):
            name = str(value.get("name") or entry["id"])
            latest[name] = max(expires, latest.get(name, expires))
    seen_at_receiving: dict[str, date] = {}
    for supplier, text in store.supplier_licences_received():  # the latest receipt's document is the current one
        seen_at_receiving[supplier] = date.fromisoformat(text)
    for supplier, expires in seen_at_receiving.items():
        latest[supplier] = max(expires, latest.get(supplier, expires))
    return latest


def ingredients(store: Reads, config: Settings,
                today: date) -> list[tuple[What, str, str, date, int | None]]:
    rules = config.rules.expiry
    low = today - timedelta(days=rules.ingredient_expired_watch_days)
    high = today + timedelta(days=max(rules.warn_days, default=0))
    found: list[tuple[What, str, str, date, int | None]] = []
    for batch in batches(store):
        expires = batch.expiry_date
        if expires is None or expires > high:
            continue
        left = batch.on_hand
        if (left is None and expires < low) or (left is not None and left <= 0):
            continue  # no amount on record and past the watch, or nothing left on hand
        found.append(("ingredient", batch.receipt_id, batch.label, expires, (expires - batch.received_on).days))
    return found


def expiry_warning(item: ExpiryItem) -> AlarmWant:
    zh, en = _WHAT_TEXT[item.what]
    due = item.what in _DUE
    if item.days_left < 0:
        when_zh = f"已于 {item.expires_on} 逾期" if due else f"已于 {item.expires_on} 过期"
        when_en = f"overdue since {item.expires_on}" if due else f"expired on {item.expires_on}"
    elif item.days_left == 0:
        when_zh, when_en = ("今天到期", f"due today ({item.expires_on})") if due else \
            ("今天到期", f"expires today ({item.expires_on})")
    else:
        when_zh = f"将于 {item.expires_on} 到期（{item.days_left} 天）"
        when_en = (f"due on {item.expires_on} (in {item.days_left} days)" if due else
                   f"expires on {item.expires_on} (in {item.days_left} days)")
    action = ("请出库用完或报废 / issue or discard it" if item.what == "ingredient" and item.days_left < 0
              else "请清点库存 / check stock" if item.what == "ingredient"
              else "请安排维保并登记 / have it done and enter it" if due else "请及时更新 / renew it")
    message = f"{zh}{when_zh}：{item.label} / {en} of {item.label} {when_en}. {action}"
    return AlarmWant("expiry_warning", item.subject, message, _severity(item),
                     {"expires_on": item.expires_on.isoformat(), "days_left": item.days_left,
                      "label": item.label})


def _severity(item: ExpiryItem) -> Severity:
    if item.threshold == EXPIRED:
        return "major" if item.what == "ingredient" or item.what in _DUE else "critical"
    days = int(item.threshold)
    return "major" if days <= 1 else "minor" if days <= 7 else "info"


def expiry_clear_message(subject: dict[str, str], wanted_thresholds: dict[tuple[str, str], str]) -> str:
    """Superseded by a closer threshold, or renewed / no longer tracked."""
    closer = wanted_thresholds.get((subject.get("what", ""), subject.get("id", "")))
    if closer is not None:
        text = "已过期" if closer == EXPIRED else f"{closer} 天"
        return f"升级为{text}提醒 / superseded by the {closer}{'' if closer == EXPIRED else '-day'} warning"
    if subject.get("what") == "ingredient":
        return "已无库存或不再跟踪 / none left on hand, or no longer tracked"
    if subject.get("what") in _DUE:
        return "已完成并登记 / done and entered"
    return "已更新 / renewed"


def _date(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        if (what, text) not in _REPORTED:  # once per process, not once a minute
            _REPORTED.add((what, text))
            log.warning("expiry date not understood what=%s value=%r", what, text)
        return None


_REPORTED: set[tuple[str, str]] = set()
