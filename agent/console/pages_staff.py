"""从业人员 Staff: the data administrator adds, edits and marks as left the canteen's
people (post, badges, health certificate with its photo); a badge works at the stations
the moment it is saved. Every change is a ``basic_data`` record for the platform, and the
page says who changed what, when and from where. Everyone logged in sees the list; the
health certificates only roles with ``see_personal_data`` (not the installer)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.basic_forms import (
    FormRefused,
    badges_of,
    build,
    changed_words,
    not_past,
    optional_date,
    refusal_of,
    text,
    version_of,
)
from agent.console.roles import may
from agent.console.uploads import UploadError, read_photo
from agent.console.web import (
    action_log,
    admin_session,
    checked_form,
    console,
    page,
    redirect,
    user_session,
)
from agent.core.recorder import BadgeTaken, BasicDataConflict, Photo
from agent.core.training import hours_by_person
from agent.records.basic_data import ACTIONS, ORIGINS, POSTS, StaffFacts, fields_text, post_words
from agent.records.registry import RECORD_TYPES


def person_row(request: Request, entry: dict[str, Any]) -> dict[str, Any]:
    value = entry["value"]
    until = value.get("health_cert_valid_until")
    days = (date.fromisoformat(until) - console(request).today()).days if until else None
    return {**value, **changed_words(entry), "post_words": post_words(value.get("post")),
            "days_left": days, "warn": days is not None and days <= max(
                console(request).config.rules.expiry.warn_days, default=30)}


def training_hours(request: Request) -> dict[str, float]:
    """Staff id -> hours of this year's ``staff_training`` records (培训学时; agent.core.training)."""
    return hours_by_person(console(request).store, console(request).config, console(request).today().year)


async def staff_list(request: Request) -> Response:
    current = user_session(request)
    ctx = console(request)
    people = [person_row(request, e) for e in ctx.store.basic_data_of("staff")]
    people.sort(key=lambda p: (not p.get("active", True), p["staff_id"]))
    return page(request, "staff.html", people=people, posts=POSTS, form={},
                personal=may(current.user, "see_personal_data"), done=request.query_params.get("done"))


def _values(form: Any, staff_id: str, old: dict[str, Any]) -> dict[str, Any]:
    return {**old, "staff_id": staff_id, "name": text(form, "name", 50), "post": text(form, "post", 50) or "cook",
            "badges": badges_of(text(form, "badges", 400)), "health_cert_no": text(form, "health_cert_no", 40) or None,
            "health_cert_valid_until": optional_date(form, "health_cert_valid_until"),
            "joined_on": optional_date(form, "joined_on") or old.get("joined_on")}


async def _facts(request: Request, form: Any, staff_id: str, old: dict[str, Any]) -> tuple[StaffFacts, Photo | None]:
    values = _values(form, staff_id, old)
    facts = build(StaffFacts, values)
    assert isinstance(facts, StaffFacts)
    not_past(facts.health_cert_valid_until, console(request).today(), old.get("health_cert_valid_until"))
    try:
        photo = await read_photo(form.get("health_cert_photo"), console(request).config.console.upload_max_kb * 1024)
    except UploadError as exc:
        raise FormRefused(str(exc)) from None
    return facts, photo


async def add_person(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    staff_id = text(form, "staff_id", 32)
    try:
        facts, photo = await _facts(request, form, staff_id, {})
        assert current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="add", by=current.user.name, expected_version=0,
                                               files={"health_cert_photo": photo} if photo else None)
    except (FormRefused, BasicDataConflict, BadgeTaken) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc, adding=True)
        people = [person_row(request, e) for e in ctx.store.basic_data_of("staff")]
        return page(request, "staff.html", status=400, people=people, posts=POSTS, personal=True,
                    form={k: text(form, k, 400) for k in form if k != "csrf"}, error=refused.message,
                    detail=refused.detail)
    action_log(request, "staff_added", staff=staff_id, record=saved.id)
    return redirect(request, f"/admin/staff/{staff_id}?done=added")


def _history(request: Request, entity: str, entity_id: str) -> list[dict[str, Any]]:
    """Every change of one entity, newest first: what, who, from where, when."""
    ctx = console(request)
    found = []
    for record in ctx.store.iter_records(type_="basic_data"):
        data = record["data"]
        if data.get("entity") == entity and data.get("entity_id") == entity_id:
            found.append({"id": record["id"], "version": data["version"], "action": ACTIONS[data["action"]],
                          "changed": fields_text(data.get("changed") or []), "by": data["entered_by"],
                          "origin": ORIGINS.get(data["origin"]), "sent": bool(record.get("_delivered_at")),
                          "at": f"{ctx.local(_parse(record['occurred_at'])):%Y-%m-%d %H:%M}"})
    return found[::-1]


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _person_page(request: Request, staff_id: str, status: int = 200, **extra: Any) -> Response:
    current = user_session(request)
    entry = console(request).store.basic_data("staff", staff_id)
    if entry is None:
        raise HTTPException(404)
    personal = may(current.user, "see_personal_data")
    row = person_row(request, entry)
    trained = training_hours(request).get(staff_id)
    if trained is not None:
        row["training_hours"] = trained  # this year's training records; else what the basic data says
    return page(request, "staff_person.html", status=status, person=row, posts=POSTS,
                personal=personal, history=_history(request, "staff", staff_id) if personal else [],
                title=RECORD_TYPES["basic_data"].title, **extra)


async def person(request: Request) -> Response:
    return _person_page(request, request.path_params["staff_id"], done=request.query_params.get("done"))


async def edit_person(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    staff_id = request.path_params["staff_id"]
    entry = ctx.store.basic_data("staff", staff_id)
    if entry is None:
        raise HTTPException(404)
    leaving = text(form, "action", 10) == "leave"
    try:
        if leaving:
            facts = StaffFacts.model_validate({**entry["value"], "active": False, "on_duty": False,
                                               "left_on": console(request).today()})
            photo = None
        else:
            facts, photo = await _facts(request, form, staff_id, entry["value"])
        assert current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="leave" if leaving else "edit", by=current.user.name,
                                               expected_version=version_of(form),
                                               files={"health_cert_photo": photo} if photo else None)
    except (FormRefused, BasicDataConflict, BadgeTaken) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc)
        return _person_page(request, staff_id, 409 if isinstance(exc, BasicDataConflict) else 400,
                            error=refused.message, detail=refused.detail)
    action_log(request, "staff_left" if leaving else "staff_changed", staff=staff_id, record=saved.id)
    return redirect(request, f"/admin/staff/{staff_id}?done={'left' if leaving else 'saved'}")


ROUTES = [
    Route("/admin/staff", staff_list, methods=["GET"]),
    Route("/admin/staff", add_person, methods=["POST"]),
    Route("/admin/staff/{staff_id}", person, methods=["GET"]),
    Route("/admin/staff/{staff_id}", edit_person, methods=["POST"]),
]
