"""Entries only a person can make, one form each: waste disposal (餐厨废弃物处置 →
``waste_disposal``), a visiting inspector's check-in with findings (上级巡检 →
``superior_inspection``; an inspector need not be on the roster) and an additive taken by
hand (添加剂领用 → ``additive_usage``, when no weighing station is at the cabinet): the
dish it went into is picked from the day's menu (or ``#n``, as at the station's keypad),
or a batch of food is typed. A form with a missing or absurd value is shown again with
the reason, and nothing is stored."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
from agent.core.menu import day_dishes
from agent.core.tasks import TaskDesk
from agent.records.additive_usage import AdditiveUsage
from agent.records.envelope import Operator
from agent.records.superior_inspection import SuperiorInspection
from agent.records.waste_disposal import WasteDisposal

WASTE_KINDS = {"kitchen_waste": "Kitchen waste", "waste_oil": "Used cooking oil", "other": "Other waste"}
KG_MAX = 5000.0
ADDITIVE_G_MAX = 5000.0
NUMBER = re.compile(r"^\d{1,4}(?:\.\d{1,3})?$")
TEXT_MAX = 200
FINDINGS_MAX = 2000


def _text(form: Any, name: str, limit: int = TEXT_MAX) -> str:
    return str(form.get(name) or "").strip()[: limit + 1]


def _waste_page(request: Request, status: int = 200, **extra: Any) -> Response:
    return page(request, "waste.html", status=status, kinds=WASTE_KINDS, **extra)


async def waste_form(request: Request) -> Response:
    user_session(request)
    return _waste_page(request, done=request.query_params.get("done"), form={})


async def record_waste(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: _text(form, k) for k in ("kind", "kg", "collector", "receipt_no")}
    again = {"form": values}
    if values["kind"] not in WASTE_KINDS:
        return _waste_page(request, 400, error="Choose the kind of waste", **again)
    if not NUMBER.match(values["kg"]) or not 0 < float(values["kg"]) <= KG_MAX:
        return _waste_page(request, 400, error="Weight: kilograms, more than 0 and at most 5000", **again)
    if not values["collector"] or len(values["collector"]) > TEXT_MAX or len(values["receipt_no"]) > 100:
        return _waste_page(request, 400, error="Write the collector (200 characters at most)", **again)
    assert current.user is not None
    data = WasteDisposal(kind=values["kind"], kg=float(values["kg"]), collector=values["collector"],
                         receipt_no=values["receipt_no"] or None, recorded_by=current.user.name)
    ctx = console(request)
    saved = ctx.recorder.record(data, source=CONSOLE_SOURCE, operator=Operator(staff_id=current.user.name))
    action_log(request, "waste_disposal", record=saved.id, kind=data.kind)
    return redirect(request, "/manager/waste?done=1")


def _inspection_page(request: Request, status: int = 200, **extra: Any) -> Response:
    return page(request, "inspection.html", status=status, **extra)


async def inspection_form(request: Request) -> Response:
    user_session(request)
    tasks = request.query_params.get("tasks", "")
    return _inspection_page(request, done=request.query_params.get("done"), tasks=int(tasks) if tasks.isdigit() else 0,
                            form={})


async def record_inspection(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: _text(form, k) for k in ("name", "organisation", "inspector_id")}
    values["findings"] = _text(form, "findings", FINDINGS_MAX)
    again = {"form": values}
    if not values["name"] or not values["organisation"]:
        return _inspection_page(request, 400, error="Write the inspector's name and organisation", **again)
    if any(len(values[k]) > TEXT_MAX for k in ("name", "organisation", "inspector_id")) \
            or len(values["findings"]) > FINDINGS_MAX:
        return _inspection_page(request, 400, error="A field is too long", **again)
    assert current.user is not None
    data = SuperiorInspection(inspector_id=values["inspector_id"] or f"visitor:{values['name']}",
                              name=values["name"], organisation=values["organisation"],
                              findings_text=values["findings"] or None)
    recorder = console(request).recorder
    saved = recorder.record(data, source=CONSOLE_SOURCE, operator=Operator(staff_id=current.user.name))
    tasks = TaskDesk(recorder).follow_up(saved, by=current.user.name)  # one 整改单 per line of findings
    action_log(request, "superior_inspection", record=saved.id, tasks=tasks)
    return redirect(request, f"/manager/inspection?done=1&tasks={tasks}")


def todays_dishes(request: Request) -> list[str]:
    """Today's dishes, every meal, numbered as the additive station's keypad numbers them
    (``agent.core.menu``: the platform's menu, else the school's plans, else the config's)."""
    ctx = console(request)
    return day_dishes(ctx.store, ctx.config, ctx.today())


def _additive_page(request: Request, status: int = 200, **extra: Any) -> Response:
    store = console(request).store
    known = sorted(console(request).config.rules.additive_limits_g)
    return page(request, "additive.html", status=status, dishes=todays_dishes(request), additives=known,
                recent=store.latest_records(type_="additive_usage", limit=20), **extra)


async def additive_form(request: Request) -> Response:
    user_session(request)
    return _additive_page(request, done=request.query_params.get("done"), form={})


def _food(request: Request, dish: str, typed: str) -> tuple[str | None, str | None]:
    """(food, error): a dish of today's menu (picked, named or ``#n``) or a batch of food typed."""
    dishes = todays_dishes(request)
    if dish:
        return (dish, None) if dish in dishes else (None, "Choose a dish from today's menu")
    if typed.startswith("#") or typed.startswith("＃"):
        number = typed[1:].strip()
        if number.isdigit() and 1 <= int(number) <= len(dishes):
            return dishes[int(number) - 1], None
        return None, "No such dish number on today's menu"
    if not typed:
        return None, "Choose the dish from today's menu, or type the batch"
    return typed, None


async def record_additive(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: _text(form, k) for k in ("additive", "grams", "dish", "food", "batch")}
    again = {"form": values}
    if not values["additive"] or any(len(values[k]) > TEXT_MAX for k in values):
        return _additive_page(request, 400, error="Name the additive (200 characters at most)", **again)
    if not NUMBER.match(values["grams"]) or not 0 < float(values["grams"]) <= ADDITIVE_G_MAX:
        return _additive_page(request, 400, error="Amount: grams, more than 0 and at most 5000", **again)
    food, error = _food(request, values["dish"], values["food"])
    if error:
        return _additive_page(request, 400, error=error, **again)
    assert current.user is not None
    data = AdditiveUsage(additive=values["additive"], grams=float(values["grams"]), batch=values["batch"] or None,
                         food=food)
    saved = console(request).recorder.record(data, source=CONSOLE_SOURCE,
                                             operator=Operator(staff_id=current.user.name))
    action_log(request, "additive_usage", record=saved.id, additive=data.additive, food=bool(food))
    return redirect(request, "/manager/additive?done=1")


ROUTES = [
    Route("/manager/additive", additive_form, methods=["GET"]),
    Route("/manager/additive", record_additive, methods=["POST"]),
    Route("/manager/waste", waste_form, methods=["GET"]),
    Route("/manager/waste", record_waste, methods=["POST"]),
    Route("/manager/inspection", inspection_form, methods=["GET"]),
    Route("/manager/inspection", record_inspection, methods=["POST"]),
]
