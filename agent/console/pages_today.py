"""The manager's "today": done / due / overdue, from the same computation as
``canteen-agent today`` and the reminder jobs (``agent.schedule.today.today_view``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.roles import may
from agent.console.web import console, page, user_session
from agent.core.duties import DueItem
from agent.core.tasks import all_tasks
from agent.core.training import short_of_hours
from agent.schedule.due import Unfit, meal_label
from agent.schedule.today import expiry_line, today_view, unfit_text

DUTY = {"morning_check": "Morning check", "samples": "Food samples", "leader_meal": "Leader's meal",
        "disinfection": "Tableware disinfection", "uv_run": "UV / ozone", "sample_discard": "Discard samples"}
STATE = {"done": "Done", "overdue": "Overdue", "missing": "To come"}


@dataclass(frozen=True)
class Row:
    duty: str  # English message id (DUTY)
    label: str
    state: str  # done | overdue | missing
    when: str
    detail: str
    outcome: str | None = None  # a done duty that failed says so, in words
    href: str | None = None  # the page where the manager does it (sample discard)


def _row(item: DueItem, tz: object, unfit: dict[str, Unfit]) -> Row:
    label = meal_label(item.meal) if item.meal and item.duty != "sample_discard" else item.label
    if item.is_done:
        when = f"{item.done_at.astimezone(tz):%H:%M}" if item.done_at else ""  # type: ignore[arg-type]
    else:
        when = f"{item.deadline.astimezone(tz):%H:%M}"  # type: ignore[arg-type]
    outcome = None
    found = unfit.get(item.subject.get("staff_id", "")) if item.duty == "morning_check" else None
    if item.is_done and found is not None:
        outcome = unfit_text(found)
    href = "/manager/samples" if item.duty == "sample_discard" else None
    return Row(DUTY.get(item.duty, item.duty), label, item.state, when, item.detail, outcome, href)


def _as_of(request: Request) -> tuple[datetime, bool] | None:
    """(the moment to show, is it today); a past ``?day=`` shows its end; None if absurd."""
    ctx = console(request)
    now = ctx.local(ctx.now())
    wanted = request.query_params.get("day")
    if not wanted or wanted == now.date().isoformat():
        return now, True
    try:
        day = date.fromisoformat(wanted)
    except ValueError:
        return None
    if day > now.date():
        return None
    return datetime.combine(day, time(23, 59, 59), tzinfo=ctx.config.identity.tz), False


async def today(request: Request) -> Response:
    personal = may(user_session(request).user, "see_personal_data")
    ctx = console(request)
    moment = _as_of(request)
    if moment is None:
        return page(request, "today.html", status=400, error="The day is written YYYY-MM-DD, today or before",
                    rows=[], counts={s: 0 for s in STATE}, total=0, states=STATE, expiry=[], open_alarms=0,
                    day="", is_today=True, as_of="", tasks_open=0, tasks_overdue=0, training_short=0)
    as_of, is_today = moment
    view = today_view(ctx.store, ctx.config, as_of)
    tz = ctx.config.identity.tz
    # the installer sees that a check was done, never how a person's health check went
    rows = [_row(i, tz, view.unfit if personal else {}) for i in view.items]
    counts = {s: sum(1 for r in rows if r.state == s) for s in STATE}
    tasks = [t for t in all_tasks(ctx.store) if t.waiting_for_owner]
    return page(request, "today.html", day=view.facts.day.isoformat(), is_today=is_today,
                as_of=f"{as_of:%H:%M}", rows=rows, counts=counts, total=len(rows), states=STATE,
                expiry=[expiry_line(e) for e in view.expiry if personal or e.what != "health_certificate"],
                open_alarms=view.open_alarms,
                tasks_open=len(tasks), tasks_overdue=sum(1 for t in tasks if t.overdue(ctx.now())),
                training_short=len(short_of_hours(ctx.store, ctx.config, as_of.date())) if is_today else 0)


ROUTES = [Route("/manager/today", today)]
