"""整改单: the rectification tasks, from every source, on a phone.

The list puts what waits first (overdue, open, reopened, done waiting for a check), then
what is verified. A task's page shows its steps and what the person's role may do: the
supervisor marks it done (what was done, a photo), the supervisor or oversight verifies
it or sends it back with a new deadline, never the person who marked it done. Every step
is a ``rectification_task`` record written through the Recorder (``agent.core.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.auth import ROLES
from agent.console.roles import may, role_words
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
from agent.core.tasks import Task, TaskDesk, TaskMoved, all_tasks, find_task
from agent.records.rectification_task import SOURCES, STEPS, TASK_STATES
from agent.words.terms import Term, term

TEXT_MAX = 2000
ORDER = {"overdue": 0, "opened": 1, "reopened": 1, "done": 2, "verified": 3}
VERIFIED_SHOWN = 60


@dataclass(frozen=True)
class StepRow:
    step: Term
    by: str
    at: str
    text: str | None
    photos: tuple[str, ...]


@dataclass(frozen=True)
class TaskRow:
    id: str
    state: str
    state_term: Term
    source: Term
    source_id: str | None
    problem: str
    owner: str
    owner_role: Term | None  # the owner is a role (the supervisor as a whole), in words
    deadline: str
    opened_at: str
    done_by: str | None
    steps: tuple[StepRow, ...]


def desk(request: Request) -> TaskDesk:
    return TaskDesk(console(request).recorder)


def _local(request: Request, iso: str | datetime) -> str:
    when = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return f"{console(request).local(when):%m-%d %H:%M}"


def row_of(request: Request, task: Task, media: dict[str, list[dict[str, Any]]]) -> TaskRow:
    ctx = console(request)
    latest = task.latest
    state = task.state(ctx.now())
    steps = []
    done_by = None
    for record in task.steps:
        data = record["data"]
        if data["step"] == "done":
            done_by = data["by"]
        steps.append(StepRow(STEPS[data["step"]], data["by"], _local(request, record["occurred_at"]),
                             data.get("action_text") or data.get("note"),
                             tuple(m["id"] for m in media.get(record["id"], []) if m.get("role") == "photo")))
    return TaskRow(task.id, state, TASK_STATES[state], term(SOURCES, latest.source_type), latest.source_id,
                   latest.problem, latest.owner, role_words(latest.owner) if latest.owner in ROLES else None,
                   _local(request, latest.deadline), _local(request, task.opened_at),
                   done_by if task.step == "done" else None, tuple(steps))


async def tasks(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    found = all_tasks(ctx.store)
    rows = [row_of(request, t, {}) for t in found]
    waiting = sorted((r for r in rows if r.state != "verified"), key=lambda r: (ORDER[r.state], r.deadline))
    verified = [r for r in rows if r.state == "verified"][:VERIFIED_SHOWN]
    return page(request, "tasks.html", waiting=waiting, verified=verified, form={},
                done=request.query_params.get("done"))


def _one(request: Request) -> TaskRow:
    ctx = console(request)
    task = find_task(ctx.store, request.path_params["task_id"])
    if task is None:
        raise HTTPException(404)
    return row_of(request, task, ctx.store.media_of_records(s["id"] for s in task.steps))


def _detail(request: Request, status: int = 200, **extra: Any) -> Response:
    return page(request, "task.html", status=status, task=_one(request), done=request.query_params.get("done"),
                **extra)


async def task(request: Request) -> Response:
    user_session(request)
    return _detail(request)


def _allowed(request: Request, action: str, refusal: str) -> str:
    user = user_session(request).user
    if not may(user, action):
        raise NotAllowed(refusal)
    assert user is not None
    return user.name


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


async def open_task(request: Request) -> Response:
    by = _allowed(request, "work_tasks", "Only the canteen supervisor opens or works on rectification tasks")
    form = await checked_form(request)
    values = {k: _text(form, k) for k in ("problem", "owner", "days")}
    again = {"form": values}

    def refuse(error: str) -> Response:
        ctx = console(request)
        rows = [row_of(request, t, {}) for t in all_tasks(ctx.store)]
        return page(request, "tasks.html", status=400, error=error, waiting=[r for r in rows if r.state != "verified"],
                    verified=[r for r in rows if r.state == "verified"][:VERIFIED_SHOWN], **again)

    if not values["problem"] or len(values["problem"]) > TEXT_MAX:
        return refuse("Write what is wrong (2000 characters at most)")
    if len(values["owner"]) > 64:
        return refuse("The owner's name is too long")
    if not values["days"].isdigit() or not 1 <= int(values["days"]) <= 90:
        return refuse("Deadline: a whole number of days, 1 to 90")
    d = desk(request)
    deadline = console(request).now() + timedelta(days=int(values["days"]))
    saved = d.open(source_type="by_hand", problem=values["problem"], by=by, owner=values["owner"] or None,
                   deadline=deadline)
    assert saved is not None
    action_log(request, "open_task", task=saved.data.task_id, record=saved.id)
    return redirect(request, f"/manager/tasks/{saved.data.task_id}?done=opened")


async def mark_done(request: Request) -> Response:
    user = user_session(request).user
    task_id = request.path_params["task_id"]
    if user is None or not may(user, "work_tasks"):
        task = find_task(console(request).store, task_id)
        if user is None or task is None or task.latest.owner != user.name:
            raise NotAllowed("Only the canteen supervisor or the task's owner marks it done")
    by = user.name
    form = await checked_form(request)
    action = _text(form, "action")
    if not action:
        return _detail(request, 400, error="Write the corrective action taken")
    if len(action) > TEXT_MAX:
        return _detail(request, 400, error="The corrective action is too long (2000 characters at most)",
                       action=action)
    try:
        photo = await read_photo(form.get("photo"), console(request).config.console.upload_max_kb * 1024)
    except UploadError as exc:
        return _detail(request, 400, error=str(exc), action=action)
    try:
        saved = desk(request).done(task_id, action, by, photo)
    except TaskMoved:
        return _detail(request, 400, error="This task has moved on meanwhile: see its steps")
    action_log(request, "task_done", task=task_id, record=saved.id, photo=photo is not None)
    return redirect(request, f"/manager/tasks/{task_id}?done=done")


async def check(request: Request) -> Response:
    by = _allowed(request, "verify_rectification", "Only the supervisor or oversight verifies a rectification")
    form = await checked_form(request)
    task_id = request.path_params["task_id"]
    verdict = _text(form, "verdict")
    note = _text(form, "note")
    if len(note) > TEXT_MAX:
        return _detail(request, 400, error="The remark is too long (2000 characters at most)", note=note)
    current = _one(request)
    if current.done_by == by:
        return _detail(request, 400, error="Someone other than the person who did it verifies it", note=note)
    try:
        if verdict == "verified":
            saved = desk(request).verify(task_id, by, note or None)
        elif verdict == "reopened":
            if not note:
                return _detail(request, 400, error="Say what is still wrong", note=note)
            saved = desk(request).reopen(task_id, by, note)
        else:
            return _detail(request, 400, error="Choose verified or reopened", note=note)
    except TaskMoved:
        return _detail(request, 400, error="This task has moved on meanwhile: see its steps")
    action_log(request, "task_" + verdict, task=task_id, record=saved.id)
    return redirect(request, f"/manager/tasks/{task_id}?done={verdict}")


ROUTES = [
    Route("/manager/tasks", tasks, methods=["GET"]),
    Route("/manager/tasks", open_task, methods=["POST"]),
    Route("/manager/tasks/{task_id}", task, methods=["GET"]),
    Route("/manager/tasks/{task_id}/done", mark_done, methods=["POST"]),
    Route("/manager/tasks/{task_id}/check", check, methods=["POST"]),
]
