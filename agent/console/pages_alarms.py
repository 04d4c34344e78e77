"""Alarms: a compact list for a phone, one page per alarm with what a role may do to it.

An alarm's life (docs/PLATFORM.md "Alarm life cycle"): raised → acknowledged (someone
has seen it, with a note) → cleared by its condition (已恢复) or rectified by a person's
整改 (已整改). A 整改 on a condition alarm (a device offline, a fridge too warm) is
recorded and linked, and the alarm stays open until its condition clears; only a fever
is closed by the 整改 itself. Only a 整改 that closed the alarm is labelled 已整改.
Writes go through the Recorder (``acknowledge_alarm``, ``rectify_alarm``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
from agent.core.tasks import find_task
from agent.words.alarms import closes_by_rectification, kind_term
from agent.words.terms import (
    ALARM_STATES,
    RECORD_KEYS,
    SEVERITIES,
    Term,
    device_name,
    meal,
    room,
    term,
)

ACTION_MAX = 2000
NOTE_MAX = 500
CLOSED_SHOWN = 60  # closed alarms listed below the open ones, newest first
ORDER = {"open": 0, "acknowledged": 1, "cleared": 2, "rectified": 2}


@dataclass(frozen=True)
class Fix:
    """One 整改 written on an alarm."""

    id: str
    by: str
    at: str
    action: str
    restores_fitness: bool | None
    photo_ids: tuple[str, ...]


@dataclass(frozen=True)
class AlarmRow:
    id: str
    kind: str
    title: Term
    severity: Term
    subject: str
    state: str  # open | acknowledged | cleared | rectified
    raised_at: str
    message: str
    condition: bool  # a condition alarm: only its condition ends it
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    note: str | None = None
    closed_at: str | None = None
    fixes: tuple[Fix, ...] = field(default=())
    raised_sort: str = ""

    @property
    def state_term(self) -> Term:
        return ALARM_STATES[self.state]

    @property
    def is_open(self) -> bool:
        return self.state in ("open", "acknowledged")

    @property
    def is_fever(self) -> bool:
        return self.kind == "fever"

    @property
    def may_rectify(self) -> bool:
        """A 整改 may be written while it is open, and after its condition cleared it."""
        return self.state != "rectified"


def alarm_rows(request: Request, raised_ids: list[str] | None = None) -> list[AlarmRow]:
    ctx = console(request)
    rows = ctx.store.recent_alarms() if raised_ids is None else \
        [r for r in (ctx.store.alarm_by_raise(i) for i in raised_ids) if r is not None]
    if not may(user_session(request).user, "see_personal_data"):  # the installer: no one's health data
        rows = [r for r in rows if not personal_subject(json.loads(r["subject"]))]
    acks = ctx.store.alarm_acknowledgements()
    fixes = ctx.store.rectifications_of(r["raised_id"] for r in rows)
    found = []
    for row in rows:
        ack = acks.get(row["raised_id"])
        closed_by = ctx.recorder.closed_by(row)
        state = ("rectified" if closed_by == "rectification" else "cleared") if closed_by else \
            "acknowledged" if ack else "open"
        found.append(AlarmRow(
            row["raised_id"], row["kind"], kind_term(row["kind"]), term(SEVERITIES, row["severity"]),
            subject_text(request, json.loads(row["subject"])), state, _local(request, row["raised_at"]),
            row["message"], not closes_by_rectification(row["kind"]),
            ack["by"] if ack else None, _local(request, ack["at"]) if ack else None, (ack or {}).get("note"),
            _local(request, row["cleared_at"]) if row["cleared_at"] else None,
            tuple(_fix(request, r) for r in fixes.get(row["raised_id"], [])), row["raised_at"]))
    return found


def personal_subject(subject: dict[str, str]) -> bool:
    """An alarm about a person (a fever, a missed check) or their health certificate."""
    return "staff_id" in subject or subject.get("what") == "health_certificate"


def _fix(request: Request, record: dict[str, Any]) -> Fix:
    data = record["data"]
    photos = tuple(m["id"] for m in record.get("media", []) if m.get("role") == "photo")
    return Fix(record["id"], data["resolved_by"], _local(request, record["occurred_at"]), data["action_text"],
               data.get("restores_fitness"), photos)


def subject_text(request: Request, subject: dict[str, str]) -> str:
    """Who or what the alarm is about, in words: a name, a device, a meal and its day."""
    parts = []
    for key, value in subject.items():
        if key == "task_id":  # a 整改单: what is wrong, not its id
            task = find_task(console(request).store, value)
            parts.append(f"整改单 task: {task.latest.problem[:60]}" if task else "整改单 task")
            continue
        if key in RECORD_KEYS:
            continue
        if key == "staff_id":
            person = console(request).store.staff(value)
            parts.append(f"{person['name']} ({value})" if person and person.get("name") else value)
        elif key == "meal":
            parts.append(str(meal(value)))
        elif key == "room":
            parts.append(str(room(value)))
        elif key == "track_id":
            parts.append(f"第 {value} 人 person {value}")
        elif key == "device_id":
            parts.append(device_name(value))

        else:
            parts.append(value)
    return " · ".join(parts)


def _local(request: Request, iso: str) -> str:
    return f"{console(request).local(datetime.fromisoformat(iso)):%m-%d %H:%M}"


async def alarms(request: Request) -> Response:
    user_session(request)
    rows = alarm_rows(request)
    open_rows = sorted((r for r in rows if r.is_open), key=lambda r: (ORDER[r.state], r.raised_sort), reverse=False)
    closed = sorted((r for r in rows if not r.is_open), key=lambda r: r.raised_sort, reverse=True)[:CLOSED_SHOWN]
    return page(request, "alarms.html", open_alarms=open_rows, closed_alarms=closed)


def _one(request: Request) -> AlarmRow:
    found = alarm_rows(request, [request.path_params["alarm_id"]])
    if not found:
        raise HTTPException(404)
    return found[0]


def _detail(request: Request, status: int = 200, **extra: Any) -> Response:
    return page(request, "alarm.html", status=status, alarm=_one(request), done=request.query_params.get("done"),
                **extra)


async def alarm(request: Request) -> Response:
    user_session(request)
    return _detail(request)


def _allowed(request: Request, action: str) -> str:
    """The user name of a logged-in user who may take ``action`` (NotAllowed otherwise)."""
    user = user_session(request).user
    if not may(user, action):
        raise NotAllowed("Only a manager can act on alarms")
    assert user is not None
    return user.name


async def acknowledge(request: Request) -> Response:
    by = _allowed(request, "acknowledge_alarm")
    form = await checked_form(request)
    alarm_id = request.path_params["alarm_id"]
    note = str(form.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        return _detail(request, 400, error="The note is too long (500 characters at most)", note=note)
    ctx = console(request)
    try:
        ctx.recorder.acknowledge_alarm(alarm_id, by, note or None)
    except LookupError:
        return _detail(request, 400, error="This alarm is not open any more")
    action_log(request, "acknowledge_alarm", alarm=alarm_id, note=bool(note))
    return redirect(request, f"/manager/alarms/{alarm_id}?done=acknowledged")


async def rectify(request: Request) -> Response:
    by = _allowed(request, "rectify_alarm")
    form = await checked_form(request)
    ctx = console(request)
    alarm_id = request.path_params["alarm_id"]
    action = str(form.get("action") or "").strip()
    if not action:
        return _detail(request, 400, error="Write the corrective action taken")
    if len(action) > ACTION_MAX:
        return _detail(request, 400, error="The corrective action is too long (2000 characters at most)",
                       action=action)
    try:
        photo = await read_photo(form.get("photo"), ctx.config.console.upload_max_kb * 1024)
    except UploadError as exc:
        return _detail(request, 400, error=str(exc), action=action)
    restore = form.get("restore_fitness") == "yes"
    try:
        saved = ctx.recorder.rectify_alarm(alarm_id, action, by, restore_fitness=restore, photo=photo)
    except LookupError:
        return _detail(request, 400, error="This alarm is rectified already")
    action_log(request, "rectify_alarm", alarm=alarm_id, rectification=saved.id, closes=saved.data.clears_alarm,
               restore_fitness=restore, photo=photo is not None)
    done = "rectified" if saved.data.clears_alarm else "recorded"
    return redirect(request, f"/manager/alarms/{alarm_id}?done={done}")


ROUTES = [
    Route("/manager/alarms", alarms, methods=["GET"]),
    Route("/manager/alarms/{alarm_id}", alarm, methods=["GET"]),
    Route("/manager/alarms/{alarm_id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/manager/alarms/{alarm_id}/rectify", rectify, methods=["POST"]),
]
