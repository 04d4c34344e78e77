"""常规日检: the canteen's checklist (``console.daily_check_items``), each item passed or
failed with a remark → one ``routine_daily_check`` record (a failed item fails it), and
one rectification task (整改单) for each failed item."""

from __future__ import annotations

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
from agent.core.tasks import TaskDesk
from agent.records.envelope import Operator
from agent.records.routine_daily_check import ChecklistItem, RoutineDailyCheck

NOTE_MAX = 500


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    items = console(request).config.console.daily_check_items
    return page(request, "daily_check.html", status=status, items=items, **extra)


async def daily_check_form(request: Request) -> Response:
    user_session(request)
    tasks = request.query_params.get("tasks", "")
    return _page(request, done=request.query_params.get("done"), tasks=int(tasks) if tasks.isdigit() else 0,
                 chosen={}, notes={})


async def submit_daily_check(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    names = ctx.config.console.daily_check_items
    chosen = {n: str(form.get(f"ok-{n}") or "") for n in range(len(names))}
    notes = {n: str(form.get(f"note-{n}") or "").strip() for n in range(len(names))}
    again = {"chosen": chosen, "notes": notes}
    missing = [n for n, value in chosen.items() if value not in ("yes", "no")]
    if missing:
        return _page(request, 400, error="Mark every item as passed or failed", missing=missing, **again)
    if any(len(note) > NOTE_MAX for note in notes.values()):
        return _page(request, 400, error="A remark is too long (500 characters at most)", **again)
    if any(chosen[n] == "no" and not notes[n] for n in chosen):
        return _page(request, 400, error="Say what is wrong for each failed item",
                     missing=[n for n in chosen if chosen[n] == "no" and not notes[n]], **again)
    try:
        photo = await read_photo(form.get("photo"), ctx.config.console.upload_max_kb * 1024)
    except UploadError as exc:
        return _page(request, 400, error=str(exc), **again)
    items = [ChecklistItem(item=name, ok=chosen[n] == "yes", note=notes[n] or None) for n, name in enumerate(names)]
    assert current.user is not None
    saved = ctx.recorder.record_with_photo(RoutineDailyCheck(items=items), photo,
                                           operator=Operator(staff_id=current.user.name))
    tasks = TaskDesk(ctx.recorder).follow_up(saved, by=current.user.name)  # one 整改单 per failed item
    action_log(request, "routine_daily_check", record=saved.id, failed=sum(1 for i in items if not i.ok),
               tasks=tasks)
    return redirect(request, f"/manager/daily-check?done=1&tasks={tasks}")


ROUTES = [
    Route("/manager/daily-check", daily_check_form, methods=["GET"]),
    Route("/manager/daily-check", submit_daily_check, methods=["POST"]),
]
