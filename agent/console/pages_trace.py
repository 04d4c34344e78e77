"""追溯 Trace: a batch to the meals, diners and samples it reached, and a meal back to its
batches, suppliers and papers. The same answer as ``canteen-agent trace``
(``agent.schedule.trace``), read from the records."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.web import console, page, user_session
from agent.records.stock_discard import DISCARD_REASONS
from agent.schedule.trace import trace_batch, trace_meal

CODE_MAX = 100


async def trace(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    params = request.query_params
    code = (params.get("batch") or "").strip()
    meal = (params.get("meal") or "").strip()
    day_text = (params.get("day") or "").strip()
    meals = list(ctx.config.schedules.meals)
    today = ctx.today()
    form = {"batch": code[:CODE_MAX], "meal": meal, "day": day_text or today.isoformat()}
    common: dict[str, Any] = {"form": form, "meals": meals, "reasons": DISCARD_REASONS}
    if code:
        if len(code) > CODE_MAX:
            return page(request, "trace.html", status=400, error="No receipt with this id or batch code", **common)
        found = trace_batch(ctx.store, code)
        if not found:
            return page(request, "trace.html", status=404, error="No receipt with this id or batch code",
                        detail=code, **common)
        return page(request, "trace.html", batches=found, today=today, **common)
    if meal:
        if meal not in meals:
            return page(request, "trace.html", status=400, error="Choose a meal", **common)
        try:
            day = date.fromisoformat(day_text) if day_text else today
        except ValueError:
            return page(request, "trace.html", status=400, error="The day must be a date: 2026-12-01", **common)
        return page(request, "trace.html", meal_trace=trace_meal(ctx.store, day, meal), today=today, **common)
    return page(request, "trace.html", **common)


ROUTES = [Route("/manager/trace", trace)]
