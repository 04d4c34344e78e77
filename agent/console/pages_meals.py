"""Meals served: the manager registers a meal and its diners → ``meal_service`` (today).
A second registration of the same meal is warned about and needs a confirmation; nothing
is stored until then."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.web import (
    action_log,
    checked_form,
    console,
    manager_session,
    page,
    redirect,
    user_session,
)
from agent.records.envelope import Operator, Source
from agent.records.meal_service import MealService

DINERS_MAX = 100_000
CONSOLE_SOURCE = Source(device_id="console", kind="manager_console")


def _registered(request: Request, day: str) -> dict[str, list[int]]:
    """meal -> diners of each registration today, oldest first."""
    found: dict[str, list[int]] = {}
    for r in console(request).store.iter_records(type_="meal_service", day=day):
        found.setdefault(r["data"]["meal"], []).append(r["data"]["diners"])
    return found


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    day = ctx.today().isoformat()
    return page(request, "meals.html", status=status, day=day, meals=list(ctx.config.schedules.meals),
                registered=_registered(request, day), **extra)


async def meals_form(request: Request) -> Response:
    user_session(request)
    return _page(request, done=request.query_params.get("done"), form={})


async def register_meal(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    meal = str(form.get("meal") or "")
    diners_text = str(form.get("diners") or "").strip()
    dishes = [d.strip() for d in str(form.get("dishes") or "").replace("，", ",").split(",") if d.strip()]
    again = {"form": {"meal": meal, "diners": diners_text, "dishes": ", ".join(dishes)}}
    if meal not in ctx.config.schedules.meals:
        return _page(request, 400, error="Choose a meal", **again)
    if not diners_text.isdigit() or int(diners_text) > DINERS_MAX:
        return _page(request, 400, error="Diners: a whole number from 0 to 100000", **again)
    now = ctx.now()
    day = ctx.local(now).date()
    if meal in _registered(request, day.isoformat()) and form.get("again") != "yes":
        return _page(request, 409, error="This meal is already registered today: tick 'register again' to add it",
                     duplicate=True, **again)
    planned = ctx.store.menu_plans(day).get(meal)
    if planned is not None and dishes:  # served otherwise than planned: the manager confirms the difference
        menu = [d["name"] for d in planned["data"]["dishes"]]
        missing, added = [d for d in menu if d not in dishes], [d for d in dishes if d not in menu]
        if (missing or added) and form.get("differs") != "yes":
            detail = "; ".join(p for p in (f"- {'、'.join(missing)}" if missing else "",
                                           f"+ {'、'.join(added)}" if added else "") if p)
            return _page(request, 409, error="The dishes differ from the menu: tick to confirm the difference",
                         detail=detail, differs=True, **again)
    assert current.user is not None
    # a confirmed second registration replaces the earlier one, as `canteen-agent meal --correct` does
    earlier = [r["id"] for r in ctx.store.iter_records(type_="meal_service", day=day.isoformat())
               if r["data"]["meal"] == meal]
    corrects = earlier[-1] if earlier else None
    saved = ctx.recorder.record(MealService(meal=meal, served_on=day, diners=int(diners_text), dishes=dishes,
                                            corrects=corrects),
                                occurred_at=now, source=CONSOLE_SOURCE, operator=Operator(staff_id=current.user.name))
    action_log(request, "meal_service", record=saved.id, meal=meal)
    return redirect(request, "/manager/meals?done=1")


ROUTES = [
    Route("/manager/meals", meals_form, methods=["GET"]),
    Route("/manager/meals", register_meal, methods=["POST"]),
]
