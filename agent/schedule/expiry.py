"""Expiry warnings: health certificates, supplier licences and ingredients.

Each dated thing gets at most one open warning, for the most urgent threshold it has
reached (``rules.expiry.warn_days``, default 30, 7 and 1 days; ``expired`` past the
date). Moving to a closer threshold clears the earlier warning as superseded and
raises the new one, so each threshold is raised once per thing; a renewal (a later
date in the roster, the config or a later receipt) clears it.

Sources:
- health certificates: the roster in the store (config seeds it, the platform replaces it);
- supplier licences: ``site.suppliers`` and the latest ``supplier_licence_expires_on``
  seen at receiving, whichever is later;
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

What = Literal["health_certificate", "supplier_licence", "ingredient"]
EXPIRED = "expired"
_WHAT_TEXT = {"health_certificate": ("健康证", "Health certificate"),
              "supplier_licence": ("供应商许可证", "Supplier licence"),
              "ingredient": ("食材", "Ingredient")}


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
    items = []
    warn_days = config.rules.expiry.warn_days
    for what, ident, label, expires, known_from in dated:
        days_left = (expires - today).days
        threshold = threshold_for(days_left, warn_days, known_from)
        if threshold is not None:
            items.append(ExpiryItem(what, ident, label, expires, days_left, threshold))
    return sorted(items, key=lambda i: (i.expires_on, i.what, i.id))


def supplier_licences(store: Reads, config: Settings) -> dict[str, date]:
    latest: dict[str, date] = {}
    for supplier, text in config.site.suppliers.items():
        expires = _date(text, f"supplier {supplier}")
        if expires is not None:
            latest[supplier] = expires
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
    if item.days_left < 0:
        when_zh, when_en = f"已于 {item.expires_on} 过期", f"expired on {item.expires_on}"
    elif item.days_left == 0:
        when_zh, when_en = "今天到期", f"expires today ({item.expires_on})"
    else:
        when_zh = f"将于 {item.expires_on} 到期（{item.days_left} 天）"
        when_en = f"expires on {item.expires_on} (in {item.days_left} days)"
    action = ("请出库用完或报废 / issue or discard it" if item.what == "ingredient" and item.days_left < 0
              else "请清点库存 / check stock" if item.what == "ingredient" else "请及时更新 / renew it")
    message = f"{zh}{when_zh}：{item.label} / {en} of {item.label} {when_en}. {action}"
    return AlarmWant("expiry_warning", item.subject, message, _severity(item),
                     {"expires_on": item.expires_on.isoformat(), "days_left": item.days_left,
                      "label": item.label})


def _severity(item: ExpiryItem) -> Severity:
    if item.threshold == EXPIRED:
        return "major" if item.what == "ingredient" else "critical"
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
