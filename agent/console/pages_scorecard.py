"""汇总分析 Scorecard: a day's, week's, month's or term's figures from the records, drawn as
charts (SVG the agent draws, ``agent.console.charts``), exported as CSV, and a print-ready
page that a phone saves as PDF. The same figures as the monthly ``scorecard`` record the
platform recomputes (``agent.schedule.summary``)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.charts import bars
from agent.console.web import action_log, console, page, user_session
from agent.records.public_complaint import COMPLAINT_CATEGORIES
from agent.records.scorecard import PERIODS, Period
from agent.schedule.summary import CSV_COLUMNS, Summary, csv_row, scorecard


def _wanted(request: Request) -> tuple[Period, date, str | None]:
    ctx = console(request)
    today = ctx.today()
    period = request.query_params.get("period") or "month"
    text = request.query_params.get("day") or ""
    if period not in PERIODS:
        return "month", today, "Choose a period"
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        return period, today, "The day must be a date: 2026-12-01"  # type: ignore[return-value]
    return period, day, None  # type: ignore[return-value]


def _charts(summary: Summary) -> dict[str, Any]:
    days = [d.start for d in summary.days]
    return {
        "morning": bars(days, [d.morning_check_rate for d in summary.days], rate=True, label="晨检率 morning checks"),
        "samples": bars(days, [d.sample_compliance for d in summary.days], rate=True, label="留样合格率 samples"),
        "trace": bars(days, [d.traceability_rate for d in summary.days], rate=True, label="食材溯源率 traceability"),
        "alarms": bars(days, [float(sum(d.alarms.values())) for d in summary.days], rate=False,
                       label="告警 alarms", css="bar count"),
        "tasks": bars(days, [d.rectification_on_time_rate for d in summary.days], rate=True,
                      label="整改按期率 rectification on time"),
        "complaints": bars(days, [float(d.complaints or 0) for d in summary.days], rate=False,
                           label="投诉建议 complaints", css="bar count"),
        "vision": bars(days, [float(d.vision_violations) for d in summary.days], rate=False,
                       label="视频识别违规 camera violations", css="bar count"),
    }


async def scorecard_page(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    period, day, error = _wanted(request)
    summary = scorecard(ctx.store, ctx.config, period, day, with_days=period != "day", now=ctx.now())
    printing = request.query_params.get("print") == "1"
    return page(request, "scorecard.html", status=400 if error else 200, error=error, card=summary.card,
                charts=_charts(summary) if summary.days else {}, periods=PERIODS, period=period, day=day,
                printing=printing, categories=COMPLAINT_CATEGORIES)


async def scorecard_csv(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    period, day, error = _wanted(request)
    if error:
        return page(request, "scorecard.html", status=400, error=error, card=None, charts={}, periods=PERIODS,
                    period=period, day=day, printing=False, categories=COMPLAINT_CATEGORIES)
    summary = scorecard(ctx.store, ctx.config, period, day, with_days=True, now=ctx.now())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period", *CSV_COLUMNS])
    writer.writerow([period, *csv_row(summary.card)])
    for one in summary.days:
        writer.writerow(["day", *csv_row(one)])
    action_log(request, "export_scorecard", period=period, start=summary.card.start.isoformat())
    name = f"scorecard-{period}-{summary.card.start}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [Route("/manager/scorecard", scorecard_page), Route("/manager/scorecard.csv", scorecard_csv)]
