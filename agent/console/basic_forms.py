"""The basic-data forms' common steps: a posted form read into an entity's model
(``agent.records.basic_data``), each refusal a message of the catalog (both languages)
naming what is wrong, and the store's refusals (a conflicting edit, a badge held by
someone else) said as such. Nothing is stored when a form is refused."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from agent.core.recorder import BadgeTaken, BasicDataConflict
from agent.records.basic_data import ORIGINS, Facts

# field -> the message when its value is refused
FIELD_MESSAGES: dict[str, str] = {
    "staff_id": "The staff number is letters, digits and _ . - (up to 32)",
    "supplier_id": "The supplier number is letters, digits and _ . - (up to 32)",
    "asset_id": "The asset number is letters, digits and _ . - (up to 32)",
    "name": "Write the name (100 characters at most)",
    "post": "Write the post",
    "badges": "At most 8 badges, separated by commas",
    "health_cert_no": "A health certificate number is letters, digits and - (4 to 32)",
    "health_cert_valid_until": "A date is written YYYY-MM-DD",
    "licence_no": "The licence number has the wrong shape (JY and 14 digits; suppliers also SC and 14 digits or "
                  "the 18-character credit code)",
    "licence_valid_until": "A date is written YYYY-MM-DD",
    "school_name": "Write the school's name",
    "canteen_name": "Write the canteen's name",
    "responsible_person": "Write the responsible person",
    "responsible_phone": "The phone number has the wrong shape",
    "operating_mode": "Choose self-run or contracted",
    "grade": "The quantified grade is A, B or C",
    "seats": "Seats and diners are whole numbers, 0 to 20000",
    "diners_per_meal": "Seats and diners are whole numbers, 0 to 20000",
    "category": "Choose the kind of equipment",
    "work_done": "Say what was done (1000 characters at most)",
    "done_by": "Write who did it",
}
CONTRACTOR_NEEDED = "A contracted canteen names its contractor"
PAST_DATE = "A certificate or licence already expired cannot be entered: the date must be today or later"
BAD_DATE = "A date is written YYYY-MM-DD"
CONFLICT = "Someone changed this since you opened it: nothing was saved. Open it again"
ALREADY = "This number is already in use: choose another"
BADGE_TAKEN = "A badge is already held by someone else"
NOT_FOUND = "Not found"
MESSAGES = (*FIELD_MESSAGES.values(), CONTRACTOR_NEEDED, PAST_DATE, BAD_DATE, CONFLICT, ALREADY, BADGE_TAKEN,
            "The document is too large", "The document must be a PDF, JPEG or PNG file")


class FormRefused(ValueError):
    """A form refused: ``message`` (a catalog id) says why, ``detail`` the value or who holds it."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message, self.detail = message, detail


def text(form: Any, name: str, limit: int = 200) -> str:
    return str(form.get(name) or "").strip()[: limit + 1]


def optional_date(form: Any, name: str) -> date | None:
    raw = text(form, name, 20)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormRefused(BAD_DATE, raw) from None


def not_past(value: date | None, today: date, before: Any = None) -> None:
    """A newly entered expiry date in the past is refused (one already stored may stay)."""
    if value is not None and value < today and (before is None or str(before) != value.isoformat()):
        raise FormRefused(PAST_DATE, value.isoformat())


def version_of(form: Any) -> int:
    try:
        return max(0, int(text(form, "version", 10) or "0"))
    except ValueError:
        return 0


def changed_words(entry: dict[str, Any] | None) -> dict[str, Any]:
    """An entity's version and who last changed it, when and from where (the console or the
    platform), as its page shows them."""
    entry = entry or {}
    return {"version": entry.get("version", 0), "changed_at": str(entry.get("changed_at") or "")[:16].replace("T", " "),
            "changed_by": entry.get("changed_by"), "changed_from": ORIGINS.get(entry.get("changed_from") or "")}


def build(model: type[Facts], values: dict[str, Any]) -> Facts:
    """The entity's model of ``values``; FormRefused naming the first field refused."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else ""
        if not where and "contractor" in str(first.get("msg")):
            raise FormRefused(CONTRACTOR_NEEDED) from None
        raise FormRefused(FIELD_MESSAGES.get(where, BAD_DATE if "date" in str(first["type"]) else
                                             "Check the form"), str(first.get("input", ""))[:60]) from None


def refusal_of(exc: Exception, adding: bool = False) -> FormRefused:
    """The store's refusal in words: who changed it, from where and when; who holds the badge."""
    if isinstance(exc, BasicDataConflict):
        found = exc.found
        if adding:
            return FormRefused(ALREADY, exc.entity_id)
        return FormRefused(CONFLICT, f"v{found.get('version')} · {found.get('changed_by')} · "
                                     f"{found.get('changed_from')} · {str(found.get('changed_at') or '')[:16]}")
    if isinstance(exc, BadgeTaken):
        return FormRefused(BADGE_TAKEN, f"{exc.badge} → {exc.holder}")
    raise exc


def badges_of(raw: str) -> list[str]:
    found = [b.strip() for b in raw.replace("，", ",").replace(" ", ",").split(",")]
    return list(dict.fromkeys(b for b in found if b))
