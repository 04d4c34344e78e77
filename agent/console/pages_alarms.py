"""Alarms: open, acknowledged, resolved; acknowledge one; resolve one with the corrective
action taken (and a photo) → a ``rectification`` record linked to the alarm, which clears
it. Resolving a fever can restore the person's fitness for duty that day (the action text
is the reason)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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

ACTION_MAX = 2000
KIND = {"fever": "Fever at the morning check", "cold_chain_high": "Fridge too warm",
        "cold_chain_low": "Fridge too cold", "device_offline": "Device offline",
        "disinfection_failed": "Disinfection failed", "no_mask": "No mask", "no_hat": "No chef hat"}
STATE = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}


@dataclass(frozen=True)
class AlarmRow:
    id: str
    kind: str
    kind_text: str | None  # catalog message id, when the kind has one
    severity: str
    subject: str
    state: str  # open | acknowledged | resolved
    raised_at: str
    message: str
    acknowledged_by: str | None
    cleared_at: str | None

    @property
    def is_fever(self) -> bool:
        return self.kind == "fever"


def alarm_rows(request: Request) -> list[AlarmRow]:
    ctx = console(request)
    acks = ctx.store.alarm_acknowledgements()
    rows = []
    for row in ctx.store.recent_alarms():
        ack = acks.get(row["raised_id"])
        state = "resolved" if row["state"] == "cleared" else "acknowledged" if ack else "open"
        rows.append(AlarmRow(row["raised_id"], row["kind"], KIND.get(row["kind"]), row["severity"],
                             _subject_text(request, json.loads(row["subject"])), state,
                             _local(request, row["raised_at"]), row["message"],
                             ack["by"] if ack else None,
                             _local(request, row["cleared_at"]) if row["cleared_at"] else None))
    order = {"open": 0, "acknowledged": 1, "resolved": 2}
    return sorted(rows, key=lambda r: order[r.state])


def _subject_text(request: Request, subject: dict[str, str]) -> str:
    parts = []
    for key, value in subject.items():
        if key == "staff_id":
            person = console(request).store.staff(value)
            parts.append(f"{person['name']} ({value})" if person and person.get("name") else value)
        else:
            parts.append(value)
    return " · ".join(parts)


def _local(request: Request, iso: str) -> str:
    from datetime import datetime

    return f"{console(request).local(datetime.fromisoformat(iso)):%m-%d %H:%M}"


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    return page(request, "alarms.html", status=status, alarms=alarm_rows(request), states=STATE, **extra)


async def alarms(request: Request) -> Response:
    user_session(request)
    return _page(request, done=request.query_params.get("done"))


async def acknowledge(request: Request) -> Response:
    current = manager_session(request)
    await checked_form(request)
    ctx = console(request)
    alarm_id = request.path_params["alarm_id"]
    row = ctx.store.alarm_by_raise(alarm_id)
    if row is None or row["state"] != "raised":
        return _page(request, 400, error="This alarm is not open any more")
    assert current.user is not None
    ctx.recorder.acknowledge_alarm(alarm_id, current.user.name)
    action_log(request, "acknowledge_alarm", alarm=alarm_id, kind=row["kind"])
    return redirect(request, "/manager/alarms?done=acknowledged")


async def resolve(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    alarm_id = request.path_params["alarm_id"]
    action = str(form.get("action") or "").strip()
    if not action:
        return _page(request, 400, error="Write the corrective action taken", failed=alarm_id)
    if len(action) > ACTION_MAX:
        return _page(request, 400, error="The corrective action is too long (2000 characters at most)",
                     failed=alarm_id)
    try:
        photo = await read_photo(form.get("photo"), ctx.config.console.upload_max_kb * 1024)
    except UploadError as exc:
        return _page(request, 400, error=str(exc), failed=alarm_id)
    assert current.user is not None
    try:
        saved = ctx.recorder.resolve_alarm(alarm_id, action, current.user.name,
                                           restore_fitness=form.get("restore_fitness") == "yes", photo=photo)
    except LookupError:
        return _page(request, 400, error="This alarm is not open any more")
    action_log(request, "resolve_alarm", alarm=alarm_id, rectification=saved.id,
               restore_fitness=form.get("restore_fitness") == "yes", photo=photo is not None)
    return redirect(request, "/manager/alarms?done=resolved")


ROUTES = [
    Route("/manager/alarms", alarms, methods=["GET"]),
    Route("/manager/alarms/{alarm_id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/manager/alarms/{alarm_id}/resolve", resolve, methods=["POST"]),
]
