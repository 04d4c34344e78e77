"""带量食谱 Menus: a meal planned ahead, dish by dish with its ingredients and grams per
portion, and what a portion gives against the school-meal target (``nutrition``).

One dish a line: ``番茄炒蛋：西红柿 80，鸡蛋 50，食用油 5`` (the dish, a colon, then each
ingredient and its grams per portion). An ingredient the composition table does not have
is refused with its name, and a line that cannot be read with its number; nothing is
written then. A saved plan is a ``menu_plan`` record (the platform receives it); a second
plan of the same day and meal replaces the first and says so.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.config.nutrition import TableError
from agent.console.pages_meals import CONSOLE_SOURCE
from agent.console.web import (
    action_log,
    checked_form,
    console,
    manager_session,
    page,
    redirect,
    user_session,
)
from agent.records.envelope import Operator
from agent.records.menu_plan import (
    MenuDishPlan,
    MenuIngredient,
    MenuPlan,
    UnknownIngredients,
    per_portion,
)

PART = re.compile(r"^(?P<item>.+?)\s*(?P<grams>\d+(?:\.\d+)?)\s*(?:g|克)?$")
TEXT_MAX, LINES_MAX = 4000, 20


def parse_menu(text: str) -> list[MenuDishPlan]:
    """The dishes of a menu text; ValueError("line N: ...") for a line that cannot be read."""
    dishes = []
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    for n, line in enumerate(lines, 1):
        if not line:
            continue
        name, colon, rest = line.replace("：", ":").partition(":")
        if not colon or not name.strip() or not rest.strip():
            raise ValueError(f"{n}: {line[:60]}")
        parts = []
        for chunk in re.split(r"[,，、;；]", rest):
            chunk = chunk.strip()
            if not chunk:
                continue
            found = PART.match(chunk)
            if found is None:
                raise ValueError(f"{n}: {chunk[:60]}")
            parts.append(MenuIngredient(item=found["item"].strip(), grams=float(found["grams"])))
        if not parts:
            raise ValueError(f"{n}: {line[:60]}")
        dishes.append(MenuDishPlan(name=name.strip(), ingredients=parts))
    if len(dishes) > LINES_MAX:
        raise ValueError(f"{len(dishes)} > {LINES_MAX}")
    return dishes


def _plans(request: Request, day: date) -> dict[str, dict[str, Any]]:
    """meal -> the latest menu_plan of ``day`` (planned on any day before)."""
    return console(request).store.menu_plans(day)


def _page(request: Request, day: date, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    extra.setdefault("form", {})
    targets = {m: ctx.config.nutrition.energy_target(m) for m in ctx.config.schedules.meals}
    return page(request, "menu.html", status=status, day=day, meals=list(ctx.config.schedules.meals),
                plans=_plans(request, day), targets=targets, age_group=ctx.config.nutrition.age_group, **extra)


def _day(text: str, today: date) -> date | None:
    try:
        return date.fromisoformat(text) if text else today
    except ValueError:
        return None


async def menu(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    today = ctx.today()
    day = _day(request.query_params.get("day") or "", today)
    if day is None:
        return _page(request, today, 400, error="The day must be a date: 2026-12-01")
    return _page(request, day, done=request.query_params.get("done"))


async def plan_menu(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    today = ctx.today()
    fields = {k: str(form.get(k) or "").strip() for k in ("day", "meal", "dishes")}
    again = {"form": fields}
    day = _day(fields["day"], today)
    if day is None:
        return _page(request, today, 400, error="The day must be a date: 2026-12-01", **again)
    if fields["meal"] not in ctx.config.schedules.meals:
        return _page(request, day, 400, error="Choose a meal", **again)
    if len(fields["dishes"]) > TEXT_MAX:
        return _page(request, day, 400, error="The menu is too long (20 dishes at most)", **again)
    try:
        dishes = parse_menu(fields["dishes"])
    except (ValueError, ValidationError) as exc:
        detail = str(exc) if not isinstance(exc, ValidationError) else None
        return _page(request, day, 400, error="A menu line could not be read", detail=detail, **again)
    if not dishes:
        return _page(request, day, 400, error="Write at least one dish", **again)
    try:
        table = ctx.config.nutrition.composition()
        nutrients = per_portion(dishes, table)
    except UnknownIngredients as unknown:
        return _page(request, day, 400, error="Not in the food composition table: nothing was saved",
                     detail="、".join(unknown.names), **again)
    except TableError as exc:
        return _page(request, day, 500, error="The food composition table cannot be read", detail=str(exc), **again)
    earlier = _plans(request, day).get(fields["meal"])
    assert current.user is not None
    saved = ctx.recorder.record(
        MenuPlan(day=day, meal=fields["meal"], dishes=dishes, per_portion=nutrients,
                 age_group=ctx.config.nutrition.age_group,
                 energy_target_kcal=ctx.config.nutrition.energy_target(fields["meal"]),
                 replaces=earlier["id"] if earlier else None),
        occurred_at=ctx.now(), source=CONSOLE_SOURCE, operator=Operator(staff_id=current.user.name))
    action_log(request, "menu_plan", record=saved.id, meal=fields["meal"])
    return redirect(request, f"/manager/menu?day={day.isoformat()}&done=1")


ROUTES = [Route("/manager/menu", menu, methods=["GET"]), Route("/manager/menu", plan_menu, methods=["POST"])]
