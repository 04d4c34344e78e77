"""演练 and 培训 at the console, and each person's training hours this year.

A drill: its scenario, when, how long, who took part (picked from the staff list, or
badged: a badge number scanned into the form by a USB reader, found in the roster),
its findings (one per line: each opens a rectification task), up to three photos → one
``drill`` record with its photos, committed together (as an incident's).
A training session: topic, documents used, trainer, hours, attendees the same way, and
each person's optional result → one ``training_session`` record and, per attendee, the
province's ``staff_training`` record with the hours (what the yearly hours count).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.pages_meals import CONSOLE_SOURCE
from agent.console.uploads import UploadError, read_photo
from agent.console.web import (
    action_log,
    checked_form,
    console,
    manager_session,
    page,
    redirect,
    user_session,
)
from agent.core.recorder import MediaDraft, Photo
from agent.core.tasks import TaskDesk
from agent.core.timeutil import rfc3339, uuid7
from agent.core.training import attendance, hours_by_person, warn_now, yearly_hours
from agent.records.drill import Drill, Participant
from agent.records.envelope import Operator
from agent.records.training_session import Attendee, TrainingSession
from agent.stations.checkin.workflow import drill_key

NUMBER = re.compile(r"^\d{1,4}(?:\.\d{1,2})?$")
TEXT_MAX = 200
FINDINGS_MAX = 2000
PHOTOS_MAX = 3


def _now_text(request: Request) -> str:
    return f"{console(request).local(console(request).now()):%Y-%m-%dT%H:%M}"


def _people(request: Request, form: Any) -> tuple[list[tuple[dict[str, Any], str]], str | None]:
    """(person, via) for the picked staff ids and the scanned badges; an error for an unknown badge."""
    store = console(request).store
    chosen: dict[str, tuple[dict[str, Any], str]] = {}
    for staff_id in form.getlist("staff"):
        person = store.staff(str(staff_id))
        if person is None:
            return [], "Someone picked is not on the staff list"
        chosen.setdefault(person["staff_id"], (person, "picked"))
    for staff_id in form.getlist("badged"):  # badged at a check-in station in drill mode
        person = store.staff(str(staff_id))
        if person is None:
            return [], "Someone picked is not on the staff list"
        chosen[person["staff_id"]] = (person, "badge")
    for line in str(form.get("badges") or "").split():
        person = store.staff_by_badge(line.strip())
        if person is None:
            return [], "A badge scanned is not on the staff list"
        chosen[person["staff_id"]] = (person, "badge")
    return list(chosen.values()), None


def _when(request: Request, text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=console(request).config.identity.tz)
    now = console(request).now()
    return when if when <= now and (now - when).days <= 366 else None


# --- drills ----------------------------------------------------------------------------


def library(request: Request, *groups: str) -> list[dict[str, Any]]:
    """The library's active documents of these groups (emergency plans, training material ...)."""
    found = [e["value"] for e in console(request).store.basic_data_of("document")]
    return sorted((d for d in found if d.get("active", True) and d.get("group") in groups), key=lambda d: d["title"])


def _drill_page(request: Request, status: int = 200, **extra: Any) -> Response:
    store = console(request).store
    drills = store.latest_records(type_="drill", limit=50)
    media = store.media_of_records(r["id"] for r in drills)
    photos = {rid: sum(1 for m in found if m.get("role") == "photo") for rid, found in media.items()}
    extra.setdefault("form", {"held_at": _now_text(request)})
    day = console(request).local(console(request).now()).date().isoformat()
    badged = [p for p in (store.staff(sid) for sid in store.kv_get(drill_key(day), []) or []) if p]
    return page(request, "drills.html", status=status, drills=drills, photos=photos, roster=store.roster(),
                badged=badged,
                plans=library(request, "emergency"),
                done=request.query_params.get("done"), tasks=request.query_params.get("tasks"), **extra)


async def drills(request: Request) -> Response:
    user_session(request)
    return _drill_page(request)


async def _photos(request: Request, form: Any) -> list[Photo]:
    """The drill's checked photos (JPEG or PNG by content, size-capped), at most three."""
    limit = console(request).config.console.upload_max_kb * 1024
    photos = []
    for upload in form.getlist("photo")[: PHOTOS_MAX + 1]:
        photo = await read_photo(upload, limit)
        if photo is not None:
            photos.append(photo)
    if len(photos) > PHOTOS_MAX:
        raise UploadError("At most three photos")
    return photos


async def record_drill(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: str(form.get(k) or "").strip()[:FINDINGS_MAX + 1]
              for k in ("scenario", "document_id", "held_at", "minutes", "findings", "badges")}
    again = {"form": values}
    try:
        photos = await _photos(request, form)
    except UploadError as exc:
        return _drill_page(request, 400, error=str(exc), **again)
    plans = {d["document_id"]: d for d in library(request, "emergency")}
    if values["document_id"] and values["document_id"] not in plans:
        return _drill_page(request, 400, error="Choose a plan from the library", **again)
    if not values["scenario"] and values["document_id"]:
        values["scenario"] = plans[values["document_id"]]["title"]
    if not values["scenario"] or len(values["scenario"]) > TEXT_MAX:
        return _drill_page(request, 400, error="Name the scenario drilled (200 characters at most)", **again)
    when = _when(request, values["held_at"])
    if when is None:
        return _drill_page(request, 400, error="When: a date and time within the past year", **again)
    if not NUMBER.match(values["minutes"]) or not 0 < float(values["minutes"]) <= 1440:
        return _drill_page(request, 400, error="Minutes: more than 0 and at most 1440", **again)
    people, error = _people(request, form)
    if error or not people:
        return _drill_page(request, 400, error=error or "Pick or badge the participants", **again)
    if len(values["findings"]) > FINDINGS_MAX:
        return _drill_page(request, 400, error="A field is too long", **again)
    assert current.user is not None
    by = current.user.name
    data = Drill(scenario=values["scenario"], document_id=values["document_id"][:TEXT_MAX] or None, held_at=when,
                 minutes=float(values["minutes"]), recorded_by=by,
                 participants=[Participant(staff_id=p["staff_id"], name=p.get("name"), via=via)
                               for p, via in people],
                 findings=[f.strip(" -•·\t") for f in values["findings"].splitlines() if f.strip(" -•·\t")])
    recorder = console(request).recorder
    created = rfc3339(console(request).local(console(request).now()))
    media = [MediaDraft(uuid7(), p.content, p.content_type, role="photo", created_at=created, suffix=p.suffix)
             for p in photos]
    saved = recorder.record_with_media(data, media, occurred_at=when, source=CONSOLE_SOURCE,
                                       operator=Operator(staff_id=by))
    tasks = TaskDesk(recorder).follow_up(saved, by=by)
    action_log(request, "drill", record=saved.id, participants=len(people), photos=len(photos), tasks=tasks)
    return redirect(request, f"/manager/drills?done=1&tasks={tasks}")


# --- training ----------------------------------------------------------------------------


def _training_page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    store = ctx.store
    now = ctx.local(ctx.now())
    extra.setdefault("form", {"held_at": _now_text(request)})
    hours = hours_by_person(store, ctx.config, now.year)
    minimum = ctx.config.rules.training.yearly_min_hours
    return page(request, "training.html", status=status, sessions=store.latest_records(type_="training_session",
                                                                                          limit=50),
                roster=store.roster(), hours=hours, minimum=minimum, warn=warn_now(ctx.config, now.date()),
                documents=library(request, "training", "rules", "procedures"),
                year=now.year, done=request.query_params.get("done"), **extra)


async def training(request: Request) -> Response:
    user_session(request)
    return _training_page(request)


async def record_training(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: str(form.get(k) or "").strip()[:TEXT_MAX + 1]
              for k in ("topic", "trainer", "held_at", "hours", "badges")}
    again = {"form": values}
    known = {d["document_id"] for d in library(request, "training", "rules", "procedures")}
    documents = [str(d) for d in form.getlist("document")]
    if any(d not in known for d in documents):
        return _training_page(request, 400, error="Choose a plan from the library", **again)
    if not values["topic"] or not values["trainer"] or any(len(values[k]) > TEXT_MAX for k in values):
        return _training_page(request, 400, error="Write the topic and the trainer (200 characters at most)", **again)
    when = _when(request, values["held_at"])
    if when is None:
        return _training_page(request, 400, error="When: a date and time within the past year", **again)
    if not NUMBER.match(values["hours"]) or not 0 < float(values["hours"]) <= 24:
        return _training_page(request, 400, error="Hours: more than 0 and at most 24", **again)
    people, error = _people(request, form)
    if error or not people:
        return _training_page(request, 400, error=error or "Pick or badge the attendees", **again)
    attendees = []
    for person, via in people:
        sid = person["staff_id"]
        result = str(form.get(f"result-{sid}") or "")
        score = str(form.get(f"score-{sid}") or "").strip()
        if result not in ("", "pass", "fail") or (score and (not NUMBER.match(score) or float(score) > 100)):
            return _training_page(request, 400, error="A result: pass or fail, a score 0 to 100", **again)
        attendees.append(Attendee(staff_id=sid, name=person.get("name"), via=via,
                                  result=result or None, score=float(score) if score else None))
    assert current.user is not None
    by = current.user.name
    hours = float(values["hours"])
    data = TrainingSession(topic=values["topic"], trainer=values["trainer"], held_at=when, hours=hours,
                           document_ids=documents, attendees=attendees, recorded_by=by)
    recorder = console(request).recorder
    saved = recorder.record(data, occurred_at=when, source=CONSOLE_SOURCE, operator=Operator(staff_id=by))
    attendance(recorder, json.loads(saved.payload), CONSOLE_SOURCE)  # each attendee's staff_training
    action_log(request, "training_session", record=saved.id, attendees=len(attendees))
    return redirect(request, "/manager/training?done=1")


async def person(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    staff_id = request.path_params["staff_id"]
    found = ctx.store.staff(staff_id)
    if found is None:
        raise HTTPException(404)
    now = ctx.local(ctx.now())
    hours = yearly_hours(ctx.store, ctx.config, staff_id, now.year)
    return page(request, "person.html", person=found, hours=hours, warn=warn_now(ctx.config, now.date()),
                sessions=[(f"{ctx.local(datetime.fromisoformat(r['occurred_at'])):%m-%d}", r["data"])
                          for r in hours.sessions])


ROUTES = [
    Route("/manager/drills", drills, methods=["GET"]),
    Route("/manager/drills", record_drill, methods=["POST"]),
    Route("/manager/training", training, methods=["GET"]),
    Route("/manager/training", record_training, methods=["POST"]),
    Route("/manager/training/staff/{staff_id}", person, methods=["GET"]),
]
