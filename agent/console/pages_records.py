"""Records: filter by type, day and verdict, newest first, local times; CSV per type with
one column per field of that type's ``data`` (the exported schema's order)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.web import action_log, console, page, user_session
from agent.records.registry import RECORD_TYPES, label_of

SHOWN = 200  # rows on the page; the CSV has them all
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# what the page calls each type: its kind's label (agent/records/<type>.py), then its key
TYPE_LABELS = {t: f"{label_of(t)} ({t})" for t in RECORD_TYPES}
ENVELOPE_COLUMNS = ["id", "seq", "occurred_at", "verdict", "findings", "staff_id", "device_id", "delivered"]


def _filters(request: Request) -> tuple[dict[str, str | None], str | None]:
    """The query's filters, and the error text when one is absurd (then nothing is listed)."""
    q = request.query_params
    wanted = {"type": q.get("type") or None, "day": q.get("day") or None, "verdict": q.get("verdict") or None}
    if wanted["type"] is not None and wanted["type"] not in RECORD_TYPES:
        return wanted, "Unknown record type"
    if wanted["day"] is not None and not DAY.match(wanted["day"]):
        return wanted, "The day is written YYYY-MM-DD"
    if wanted["verdict"] not in (None, "pass", "fail", "warn"):
        return wanted, "Unknown verdict"
    return wanted, None


def _rows(request: Request, wanted: dict[str, str | None], limit: int | None) -> list[dict[str, Any]]:
    store = console(request).store
    rows = list(store.iter_records(type_=wanted["type"], day=wanted["day"], verdict=wanted["verdict"]))
    rows.reverse()  # newest first
    return rows[:limit] if limit else rows


def _local(request: Request, iso: str) -> str:
    return f"{console(request).local(datetime.fromisoformat(iso)):%Y-%m-%d %H:%M:%S}"


async def records(request: Request) -> Response:
    user_session(request)
    wanted, error = _filters(request)
    if error:
        return page(request, "records.html", status=400, error=error, rows=[], wanted=wanted,
                    types=sorted(RECORD_TYPES), type_labels=TYPE_LABELS)
    rows = [{"type": r["type"], "when": _local(request, r["occurred_at"]), "verdict": r.get("verdict") or "",
             "findings": ", ".join(r.get("findings", [])), "summary": _summary(r["data"]),
             "sent": bool(r.get("_delivered_at"))} for r in _rows(request, wanted, SHOWN)]
    return page(request, "records.html", rows=rows, wanted=wanted, types=sorted(RECORD_TYPES), type_labels=TYPE_LABELS)


def _summary(data: dict[str, Any]) -> str:
    return "; ".join(f"{k}={_cell(v)}" for k, v in data.items() if v not in (None, [], {}))[:160]


async def export_csv(request: Request) -> Response:
    user_session(request)
    wanted, error = _filters(request)
    if error or wanted["type"] is None:
        return page(request, "records.html", status=400, rows=[], wanted=wanted, types=sorted(RECORD_TYPES), type_labels=TYPE_LABELS,
                    error=error or "Choose a record type to export")
    record_type = str(wanted["type"])
    fields = list(RECORD_TYPES[record_type].model_fields)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ENVELOPE_COLUMNS + fields)
    rows = _rows(request, wanted, None)
    rows.reverse()  # oldest first in a file
    for r in rows:
        writer.writerow([r["id"], r["seq"], _local(request, r["occurred_at"]), r.get("verdict") or "",
                         ";".join(r.get("findings", [])),
                         (r.get("operator") or {}).get("staff_id") or r["data"].get("staff_id", ""),
                         (r.get("source") or {}).get("device_id", ""), "yes" if r.get("_delivered_at") else "no",
                         *(_cell(r["data"].get(f)) for f in fields)])
    action_log(request, "export_csv", type=record_type, rows=len(rows))
    name = f"{record_type}-{wanted['day'] or 'all'}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


ROUTES = [Route("/manager/records", records), Route("/manager/records.csv", export_csv)]
