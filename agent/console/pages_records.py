"""Records, for people: what each record says in words, newest first by when it happened.

The list shows each record's type in words, its verdict, the few facts that matter for
its type (``RecordData.brief``: who, what, the figure), its findings in words and its photo;
a record's own page shows everything else, the raw envelope as sent to the platform
last and folded away. The exports stay complete: CSV per type (one column per field of
that type's ``data``, the exported schema's order) and the envelopes as JSON lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from agent.console.roles import may
from agent.console.web import NotAllowed, action_log, allowed_session, console, page, user_session
from agent.records.base import Fact, RecordData
from agent.records.findings import finding_term
from agent.records.registry import RECORD_TYPES
from agent.words.terms import VERDICTS, Term, device_name

SHOWN = 200  # rows on the page; the exports have them all
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENVELOPE_COLUMNS = ["id", "seq", "occurred_at", "verdict", "findings", "staff_id", "device_id", "delivered"]
IMAGE_TYPES = ("image/jpeg", "image/png")
MEDIA_TYPES = (*IMAGE_TYPES, "video/mp4", "video/x-msvideo")


@dataclass(frozen=True)
class RecordRow:
    id: str
    type: str
    title: Term
    when: str
    verdict: str  # pass | fail | warn | ""
    verdict_term: Term | None
    facts: list[Fact]
    findings: list[Term]
    photos: list[str]  # media ids of the record's images still on disk
    sent: bool


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


def data_of(record: dict[str, Any]) -> RecordData | None:
    """The record's ``data`` as its type's model (None for a type this agent no longer knows)."""
    model = RECORD_TYPES.get(record["type"])
    if model is None:
        return None
    try:
        return model.model_validate(record["data"])
    except ValidationError:
        return None


def hidden_from(request: Request, record: dict[str, Any]) -> bool:
    """A record holding a person's health data, for a role that may not see it (the installer)."""
    if may(user_session(request).user, "see_personal_data"):
        return False
    data = data_of(record)
    return data is None or data.is_personal()


def row_of(request: Request, record: dict[str, Any], media: list[dict[str, Any]]) -> RecordRow:
    model = RECORD_TYPES.get(record["type"])
    data = data_of(record)
    verdict = record.get("verdict") or ""
    return RecordRow(
        record["id"], record["type"], model.title if model else Term(record["type"], ""),
        _local(request, record["occurred_at"]), verdict, VERDICTS.get(verdict),
        data.brief() if data is not None else [], [finding_term(f) for f in record.get("findings", [])],
        [m["id"] for m in media if m["content_type"] in IMAGE_TYPES], bool(record.get("_delivered_at")))


def _local(request: Request, iso: str, seconds: bool = False) -> str:
    when = console(request).local(datetime.fromisoformat(iso))
    return f"{when:%Y-%m-%d %H:%M:%S}" if seconds else f"{when:%m-%d %H:%M}"


def _types() -> list[tuple[str, Term]]:
    return sorted(((t, m.title) for t, m in RECORD_TYPES.items()), key=lambda item: item[1].en)


async def records(request: Request) -> Response:
    user_session(request)
    wanted, error = _filters(request)
    context: dict[str, Any] = {"wanted": wanted, "types": _types(), "verdicts": VERDICTS}
    if error:
        return page(request, "records.html", status=400, error=error, rows=[], **context)
    store = console(request).store
    found = store.latest_records(type_=wanted["type"], day=wanted["day"], verdict=wanted["verdict"], limit=SHOWN)
    found = [r for r in found if not hidden_from(request, r)]
    media = store.media_of_records(r["id"] for r in found)
    rows = [row_of(request, r, media.get(r["id"], [])) for r in found]
    return page(request, "records.html", rows=rows, shown=SHOWN, **context)


async def record(request: Request) -> Response:
    user_session(request)
    store = console(request).store
    found = store.get_record(request.path_params["record_id"])
    if found is None:
        raise HTTPException(404)
    if hidden_from(request, found):
        raise NotAllowed("Your role does not see personal data")
    found["_delivered_at"] = store.delivered_at(found["id"])
    media = store.media_of_records([found["id"]]).get(found["id"], [])
    row = row_of(request, found, media)
    envelope = {k: v for k, v in found.items() if not k.startswith("_")}
    source = found.get("source") or {}
    operator = found.get("operator") or {}
    return page(request, "record.html", row=row, media=media, occurred=_local(request, found["occurred_at"], True),
                recorded=_local(request, found["recorded_at"], True), clock_synced=found["clock"]["synced"],
                device=device_name(source["device_id"]) if source.get("device_id") else None, operator=_person(request, operator.get("staff_id")),
                photo_note=found.get("photo"), raw=json.dumps(envelope, ensure_ascii=False, indent=2))


async def media_file(request: Request) -> Response:
    """A record's photo, snapshot or clip, for logged-in users only (faces are personal data)."""
    user_session(request)
    info = console(request).store.media_info(request.path_params["media_id"])
    if info is None or info["evicted"] or info["content_type"] not in MEDIA_TYPES or not Path(info["path"]).is_file():
        raise HTTPException(404)
    owner = console(request).store.get_record(info["record_id"]) if info["record_id"] else None
    if owner is not None and hidden_from(request, owner):
        raise NotAllowed("Your role does not see personal data")
    return FileResponse(info["path"], media_type=info["content_type"], headers={"Cache-Control": "private, max-age=3600"})


def _person(request: Request, staff_id: str | None) -> str | None:
    """``赵六 (S004)`` for a roster id; a console user name as it is."""
    if not staff_id:
        return None
    person = console(request).store.staff(staff_id)
    return f"{person['name']} ({staff_id})" if person and person.get("name") else staff_id


def _all_rows(request: Request, wanted: dict[str, str | None]) -> list[dict[str, Any]]:
    """Every record of the filter, oldest first (the exports)."""
    store = console(request).store
    return list(store.iter_records(type_=wanted["type"], day=wanted["day"], verdict=wanted["verdict"]))


async def export_csv(request: Request) -> Response:
    allowed_session(request, "export_records", "Your role cannot export records")
    wanted, error = _filters(request)
    if error or wanted["type"] is None:
        return page(request, "records.html", status=400, rows=[], shown=SHOWN, wanted=wanted, types=_types(), verdicts=VERDICTS,
                    error=error or "Choose a record type to export")
    record_type = str(wanted["type"])
    fields = list(RECORD_TYPES[record_type].model_fields)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ENVELOPE_COLUMNS + fields)
    rows = _all_rows(request, wanted)
    for r in rows:
        writer.writerow([r["id"], r["seq"], _local(request, r["occurred_at"], True), r.get("verdict") or "",
                         ";".join(r.get("findings", [])),
                         (r.get("operator") or {}).get("staff_id") or r["data"].get("staff_id", ""),
                         (r.get("source") or {}).get("device_id", ""), "yes" if r.get("_delivered_at") else "no",
                         *(_cell(r["data"].get(f)) for f in fields)])
    action_log(request, "export_csv", type=record_type, rows=len(rows))
    name = f"{record_type}-{wanted['day'] or 'all'}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def export_jsonl(request: Request) -> Response:
    """The envelopes exactly as stored and sent, one JSON object a line, oldest first."""
    allowed_session(request, "export_records", "Your role cannot export records")
    wanted, error = _filters(request)
    if error:
        return page(request, "records.html", status=400, rows=[], shown=SHOWN, wanted=wanted, types=_types(), verdicts=VERDICTS,
                    error=error)
    rows = _all_rows(request, wanted)
    lines = [json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False) for r in rows]
    action_log(request, "export_jsonl", type=wanted["type"] or "all", rows=len(rows))
    name = f"{wanted['type'] or 'records'}-{wanted['day'] or 'all'}.jsonl"
    return Response("".join(line + "\n" for line in lines), media_type="application/x-ndjson; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


ROUTES = [Route("/manager/records", records), Route("/manager/records.csv", export_csv),
          Route("/manager/records.jsonl", export_jsonl), Route("/manager/records/{record_id}", record),
          Route("/manager/media/{media_id}", media_file)]
