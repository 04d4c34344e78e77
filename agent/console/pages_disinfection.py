"""Disinfection by hand: tableware soaked in chlorine or steamed by hand, premises sprayed
or wiped. Judged by the rules in docs/DOMAIN.md (250 mg/L for 5 min; steam held 10 min;
spraying or wiping for its contact time) into the same ``tableware_disinfection`` /
``premises_disinfection`` records the devices make, with ``method`` and ``by_hand``, so
today's duties count them (a named meal, a named room). A failed one opens a
rectification task (整改单)."""

from __future__ import annotations

import re
from datetime import timedelta
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
from agent.core.tasks import TaskDesk
from agent.records.base import RecordData
from agent.records.envelope import Operator
from agent.records.premises_disinfection import HAND_AGENTS, PremisesDisinfection
from agent.records.tableware_disinfection import ThermalDisinfection
from agent.words.terms import DISINFECTION_METHODS

NUMBER = re.compile(r"^\d{1,5}(?:\.\d{1,2})?$")
HAND_DEVICE = "manual"  # device_id of a record made by hand
AGENTS = {key: str(words) for key, words in HAND_AGENTS.items()}
TEXT_MAX = 200


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    cfg = console(request).config
    extra.setdefault("form", {})
    return page(request, "disinfection.html", status=status, methods=DISINFECTION_METHODS,
                meals=list(cfg.schedules.meals), rooms=cfg.schedules.uv_rooms, agents=AGENTS,
                rules=cfg.rules, done=request.query_params.get("done"),
                verdict=request.query_params.get("verdict"), **extra)


async def disinfection_form(request: Request) -> Response:
    user_session(request)
    return _page(request)


def _number(values: dict[str, str], name: str, low: float, high: float) -> float | None:
    text = values.get(name, "")
    if not NUMBER.match(text) or not low < float(text) <= high:
        return None
    return float(text)


def _tableware(request: Request, values: dict[str, str], by: str) -> RecordData | str:
    cfg = console(request).config
    minutes = _number(values, "minutes", 0, 600)
    if values.get("method") not in ("chlorine", "steam"):
        return "Choose how it was disinfected"
    if minutes is None:
        return "Minutes: more than 0 and at most 600"
    if values.get("meal") and values["meal"] not in cfg.schedules.meals:
        return "Choose the meal"
    end = console(request).local(console(request).now())
    common: dict[str, Any] = dict(device_id=HAND_DEVICE, started_at=end - timedelta(minutes=minutes), ended_at=end,
                                  meal=values.get("meal") or None, by_hand=True, recorded_by=by)
    if values["method"] == "chlorine":
        mg = _number(values, "mg_per_l", 0, 10000)
        if mg is None:
            return "Effective chlorine: mg/L, more than 0 and at most 10000"
        return ThermalDisinfection(method="chlorine", chlorine_mg_per_l=mg, immersion_min=minutes, **common)
    steam = cfg.rules.disinfection.methods.get("steam")
    return ThermalDisinfection(method="steam", required_s=steam.hold_s if steam else 600,
                               seconds_at_target=minutes * 60, **common)


def _premises(request: Request, values: dict[str, str], by: str) -> RecordData | str:
    rules = console(request).config.rules.premises
    minutes = _number(values, "minutes", 0, 600)
    if values.get("method") not in ("spray", "wipe"):
        return "Choose how it was disinfected"
    if values.get("agent") not in AGENTS:
        return "Choose the disinfectant"
    if minutes is None:
        return "Minutes: more than 0 and at most 600"
    if not values.get("area") or len(values["area"]) > TEXT_MAX:
        return "Say what was disinfected (200 characters at most)"
    mg = _number(values, "mg_per_l", 0, 100000) if values.get("mg_per_l") else None
    chlorine = values["agent"] == "chlorine"
    if chlorine and mg is None:
        return "Effective chlorine: mg/L, more than 0 and at most 10000"
    end = console(request).local(console(request).now())
    return PremisesDisinfection(device_id=HAND_DEVICE, room=values.get("room") or None,
                                method=values["method"],
                                started_at=end - timedelta(minutes=minutes), ended_at=end, minutes=minutes,
                                target_minutes=rules.hand_min_minutes, agent=AGENTS[values["agent"]],
                                concentration_mg_per_l=mg,
                                min_concentration_mg_per_l=rules.hand_chlorine_mg_per_l if chlorine else None,
                                area=values["area"], recorded_by=by)


async def record_disinfection(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    values = {k: str(form.get(k) or "").strip()[: TEXT_MAX + 1]
              for k in ("target", "method", "mg_per_l", "minutes", "meal", "room", "agent", "area")}
    assert current.user is not None
    by = current.user.name
    if values["target"] == "tableware":
        made = _tableware(request, values, by)
    elif values["target"] == "premises":
        made = _premises(request, values, by)
    else:
        made = "Choose tableware or premises"
    if isinstance(made, str):
        return _page(request, 400, error=made, form=values)
    recorder = console(request).recorder
    saved = recorder.record(made, source=CONSOLE_SOURCE, operator=Operator(staff_id=by))
    tasks = TaskDesk(recorder).follow_up(saved, by=by)
    action_log(request, "disinfection_by_hand", record=saved.id, type=saved.type, verdict=saved.verdict,
               tasks=tasks)
    return redirect(request, f"/manager/disinfection?done={saved.type}&verdict={saved.verdict}")


ROUTES = [
    Route("/manager/disinfection", disinfection_form, methods=["GET"]),
    Route("/manager/disinfection", record_disinfection, methods=["POST"]),
]
