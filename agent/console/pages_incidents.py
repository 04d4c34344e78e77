"""突发事件信息报送: anyone logged in files an incident from a phone in under a minute.

What happened (a kind and a sentence), where, when, how many people are affected, what
was done, up to three photos: one ``incident_report`` record with its photos, committed
together, queued ahead of everything else the agent holds (outbox class ``urgent``). The
page says 待上报 until the platform acknowledged it, then 已上报 with the time. A
follow-up is another ``incident_report`` naming the first (``follows``). Each incident
opens a rectification task (整改单).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.pages_meals import CONSOLE_SOURCE
from agent.console.roles import may
from agent.console.uploads import UploadError, read_photo
from agent.console.web import (
    NotAllowed,
    action_log,
    checked_form,
    console,
    page,
    redirect,
    user_session,
)
from agent.core.recorder import MediaDraft, Photo
from agent.core.tasks import TaskDesk
from agent.core.timeutil import rfc3339, uuid7
from agent.records.envelope import Operator
from agent.records.incident_report import INCIDENT_KINDS, IncidentReport
from agent.words.terms import Term, term

TEXT_MAX = 2000
PLACE_MAX = 200
PHOTOS_MAX = 3
SHOWN = 100


@dataclass(frozen=True)
class ReportRow:
    id: str
    kind: Term
    what: str
    where: str
    happened_at: str
    people_affected: int
    actions_taken: str | None
    reported_by: str
    delivered_at: str | None  # 已上报 at (the platform's ack), None while queued
    photos: tuple[str, ...]


def _local(request: Request, iso: str) -> str:
    return f"{console(request).local(datetime.fromisoformat(iso)):%m-%d %H:%M}"


def _row(request: Request, record: dict[str, Any], photos: list[dict[str, Any]]) -> ReportRow:
    data = record["data"]
    delivered = record.get("_delivered_at") or console(request).store.delivered_at(record["id"])
    return ReportRow(record["id"], term(INCIDENT_KINDS, data["kind"]), data["what"], data["where"],
                     _local(request, data["happened_at"]), data.get("people_affected") or 0,
                     data.get("actions_taken"), data["reported_by"],
                     _local(request, delivered) if delivered else None,
                     tuple(m["id"] for m in photos if m.get("role") == "photo"))


def _filer(request: Request) -> str:
    user = user_session(request).user
    if not may(user, "file_incident"):
        raise NotAllowed("Only a logged-in account can file an incident")
    assert user is not None
    return user.name


def _list_page(request: Request, status: int = 200, **extra: Any) -> Response:
    store = console(request).store
    found = [r for r in store.latest_records(type_="incident_report", limit=SHOWN) if not r["data"].get("follows")]
    media = store.media_of_records(r["id"] for r in found)
    rows = [_row(request, r, media.get(r["id"], [])) for r in found]
    now = console(request).local(console(request).now())
    extra.setdefault("form", {"happened_at": f"{now:%Y-%m-%dT%H:%M}"})
    return page(request, "incidents.html", status=status, kinds=INCIDENT_KINDS, reports=rows, **extra)


async def incidents(request: Request) -> Response:
    user_session(request)
    return _list_page(request)


async def _read(request: Request, form: Any) -> tuple[dict[str, str], list[Photo]]:
    values = {k: str(form.get(k) or "").strip()[: TEXT_MAX + 1]
              for k in ("kind", "what", "where", "happened_at", "people_affected", "actions_taken")}
    limit = console(request).config.console.upload_max_kb * 1024
    photos = []
    for upload in form.getlist("photo")[: PHOTOS_MAX + 1]:
        photo = await read_photo(upload, limit)
        if photo is not None:
            photos.append(photo)
    if len(photos) > PHOTOS_MAX:
        raise UploadError("At most three photos")
    return values, photos


def _check(request: Request, values: dict[str, str], first: dict[str, Any] | None) -> str | None:
    """Why the form is refused (a catalog id), None when it is whole."""
    if first is None and values["kind"] not in INCIDENT_KINDS:
        return "Choose what happened"
    if not values["what"] or len(values["what"]) > TEXT_MAX:
        return "Say what happened (2000 characters at most)"
    if first is None and (not values["where"] or len(values["where"]) > PLACE_MAX):
        return "Say where it happened (200 characters at most)"
    if values["people_affected"] and (not values["people_affected"].isdigit()
                                      or int(values["people_affected"]) > 100000):
        return "People affected: a whole number (0 when none)"
    if len(values["actions_taken"]) > TEXT_MAX:
        return "A field is too long"
    if first is None:
        try:
            when = datetime.fromisoformat(values["happened_at"])
        except ValueError:
            return "When did it happen: a date and a time"
        when = when if when.tzinfo else when.replace(tzinfo=console(request).config.identity.tz)
        if when > console(request).now() or (console(request).now() - when).days > 30:
            return "When did it happen: not in the future, nor more than 30 days ago"
    return None


def _media(request: Request, photos: list[Photo]) -> list[MediaDraft]:
    created = rfc3339(console(request).local(console(request).now()))
    return [MediaDraft(uuid7(), p.content, p.content_type, role="photo", created_at=created, suffix=p.suffix)
            for p in photos]


async def file_incident(request: Request) -> Response:
    by = _filer(request)
    form = await checked_form(request)
    try:
        values, photos = await _read(request, form)
    except UploadError as exc:
        return _list_page(request, 400, error=str(exc), form={k: str(form.get(k) or "") for k in form})
    error = _check(request, values, None)
    if error:
        return _list_page(request, 400, error=error, form=values)
    when = datetime.fromisoformat(values["happened_at"])
    tz = console(request).config.identity.tz
    data = IncidentReport(kind=values["kind"], what=values["what"], where=values["where"],
                          happened_at=when if when.tzinfo else when.replace(tzinfo=tz),
                          people_affected=int(values["people_affected"] or 0),
                          actions_taken=values["actions_taken"] or None, reported_by=by)
    recorder = console(request).recorder
    saved = recorder.record_with_media(data, _media(request, photos), source=CONSOLE_SOURCE,
                                       operator=Operator(staff_id=by))
    tasks = TaskDesk(recorder).follow_up(saved, by=by)
    action_log(request, "incident_report", record=saved.id, kind=data.kind, photos=len(photos), tasks=tasks)
    return redirect(request, f"/manager/incidents/{saved.id}?done=filed")


def _first(request: Request) -> dict[str, Any]:
    found = console(request).store.get_record(request.path_params["report_id"])
    if found is None or found["type"] != "incident_report" or found["data"].get("follows"):
        raise HTTPException(404)
    return found


def _detail(request: Request, status: int = 200, **extra: Any) -> Response:
    store = console(request).store
    first = _first(request)
    follow_ups = [r for r in store.iter_records(type_="incident_report") if r["data"].get("follows") == first["id"]]
    media = store.media_of_records([first["id"], *(r["id"] for r in follow_ups)])
    return page(request, "incident.html", status=status, report=_row(request, first, media.get(first["id"], [])),
                follow_ups=[_row(request, r, media.get(r["id"], [])) for r in follow_ups],
                done=request.query_params.get("done"), form=extra.pop("form", {}), **extra)


async def incident(request: Request) -> Response:
    user_session(request)
    return _detail(request)


async def follow_up(request: Request) -> Response:
    by = _filer(request)
    form = await checked_form(request)
    first = _first(request)
    try:
        values, photos = await _read(request, form)
    except UploadError as exc:
        return _detail(request, 400, error=str(exc))
    error = _check(request, values, first)
    if error:
        return _detail(request, 400, error=error, form=values)
    data = IncidentReport.model_validate({
        **first["data"], "what": values["what"], "people_affected": int(values["people_affected"] or 0)
        if values["people_affected"] else first["data"].get("people_affected", 0),
        "actions_taken": values["actions_taken"] or None, "reported_by": by, "follows": first["id"]})
    saved = console(request).recorder.record_with_media(data, _media(request, photos), source=CONSOLE_SOURCE,
                                                        operator=Operator(staff_id=by))
    action_log(request, "incident_follow_up", record=saved.id, follows=first["id"], photos=len(photos))
    return redirect(request, f"/manager/incidents/{first['id']}?done=followed")


ROUTES = [
    Route("/manager/incidents", incidents, methods=["GET"]),
    Route("/manager/incidents", file_incident, methods=["POST"]),
    Route("/manager/incidents/{report_id}", incident, methods=["GET"]),
    Route("/manager/incidents/{report_id}/follow-up", follow_up, methods=["POST"]),
]
