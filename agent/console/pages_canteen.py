"""食堂基础信息 and 供应商、承包商: the canteen's profile (school and canteen names,
address, self-run or contracted and by whom, the responsible person, the food business
licence with its scan, the quantified grade, seats and usual diners) and the suppliers
and contractors with their licences and documents (索证索票: licences, inspection
reports, as photos or PDFs). The data administrator edits them; every change is a
``basic_data`` record for the platform; a conflicting edit is refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from agent.console.basic_forms import (
    FormRefused,
    build,
    changed_words,
    not_past,
    optional_date,
    refusal_of,
    text,
    version_of,
)
from agent.console.uploads import UploadError, read_document
from agent.console.web import (
    action_log,
    admin_session,
    checked_form,
    console,
    page,
    redirect,
    user_session,
)
from agent.core.recorder import BasicDataConflict, Photo
from agent.records.basic_data import (
    OPERATING_MODES,
    SUPPLIER_KINDS,
    CanteenProfile,
    SupplierFacts,
)
from agent.words.terms import term


def _canteen_page(request: Request, status: int = 200, form: dict[str, Any] | None = None, **extra: Any) -> Response:
    user_session(request)
    ctx = console(request)
    entry = ctx.store.basic_data("canteen", ctx.config.identity.canteen_id)
    value = (entry or {}).get("value") or {}
    return page(request, "canteen.html", status=status, profile=value, form=form if form is not None else value,
                changed=changed_words(entry), modes=OPERATING_MODES, mode=term(OPERATING_MODES, value.get("operating_mode")),
                suppliers=[e["value"] for e in ctx.store.basic_data_of("supplier") if e["value"].get("kind") == "contractor"],
                **extra)


async def canteen(request: Request) -> Response:
    return _canteen_page(request, done=request.query_params.get("done"))


async def save_canteen(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    entry = ctx.store.basic_data("canteen", ctx.config.identity.canteen_id)
    old = (entry or {}).get("value") or {}
    values: dict[str, Any] = {**old}
    for key, limit in (("school_name", 100), ("canteen_name", 100), ("address", 200), ("operating_mode", 20),
                       ("contractor", 100), ("responsible_person", 50), ("responsible_phone", 20),
                       ("licence_no", 40), ("licence_scope", 200), ("grade", 2)):
        values[key] = text(form, key, limit) or None
    for key in ("address", "licence_scope"):
        values[key] = values[key] or ""
    try:
        values["licence_valid_until"] = optional_date(form, "licence_valid_until")
        values["grade_on"] = optional_date(form, "grade_on")
        for key in ("seats", "diners_per_meal"):
            raw = text(form, key, 10) or "0"
            if not raw.isdigit():
                raise FormRefused("Seats and diners are whole numbers, 0 to 20000", raw)
            values[key] = int(raw)
        facts = build(CanteenProfile, values)
        assert isinstance(facts, CanteenProfile)
        not_past(facts.licence_valid_until, console(request).today(), old.get("licence_valid_until"))
        try:
            scan = await read_document(form.get("licence_photo"), ctx.config.console.document_max_kb * 1024)
        except UploadError as exc:
            raise FormRefused(str(exc)) from None
        assert current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="edit" if entry else "add", by=current.user.name,
                                               expected_version=version_of(form),
                                               files={"licence_photo": scan} if scan else None)
    except (FormRefused, BasicDataConflict) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc)
        shown = {k: text(form, k, 200) for k in form if k not in ("csrf", "licence_photo")}
        return _canteen_page(request, 409 if isinstance(exc, BasicDataConflict) else 400, form=shown,
                             error=refused.message, detail=refused.detail)
    action_log(request, "canteen_profile", record=saved.id)
    return redirect(request, "/admin/canteen?done=saved")


# --- suppliers and contractors ---------------------------------------------------------------


def _supplier_rows(request: Request) -> list[dict[str, Any]]:
    today = console(request).today()
    rows = []
    for entry in console(request).store.basic_data_of("supplier"):
        value = entry["value"]
        until = value.get("licence_valid_until")
        left = (date.fromisoformat(until) - today).days if until else None
        rows.append({**value, **changed_words(entry), "kind_words": term(SUPPLIER_KINDS, value.get("kind")),
                     "days_left": left, "warn": left is not None and left <= max(
                         console(request).config.rules.expiry.warn_days, default=30)})
    return rows


async def suppliers(request: Request) -> Response:
    user_session(request)
    return page(request, "suppliers.html", suppliers=_supplier_rows(request), kinds=SUPPLIER_KINDS, form={},
                done=request.query_params.get("done"))


async def _supplier_facts(request: Request, form: Any, supplier_id: str, old: dict[str, Any]) -> \
        tuple[SupplierFacts, Photo | None]:
    values = {**old, "supplier_id": supplier_id, "name": text(form, "name", 100),
              "kind": text(form, "kind", 20) or "supplier", "licence_no": text(form, "licence_no", 40) or None,
              "licence_valid_until": optional_date(form, "licence_valid_until"),
              "supplies": text(form, "supplies", 200)}
    facts = build(SupplierFacts, values)
    assert isinstance(facts, SupplierFacts)
    not_past(facts.licence_valid_until, console(request).today(), old.get("licence_valid_until"))
    try:
        document = await read_document(form.get("document"), console(request).config.console.document_max_kb * 1024)
    except UploadError as exc:
        raise FormRefused(str(exc)) from None
    return facts, document


async def save_supplier(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    supplier_id = request.path_params.get("supplier_id") or text(form, "supplier_id", 32)
    entry = ctx.store.basic_data("supplier", supplier_id) if "supplier_id" in request.path_params else None
    if "supplier_id" in request.path_params and entry is None:
        raise HTTPException(404)
    try:
        facts, document = await _supplier_facts(request, form, supplier_id, (entry or {}).get("value") or {})
        assert current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="edit" if entry else "add", by=current.user.name,
                                               expected_version=version_of(form) if entry else 0,
                                               files={"documents": document} if document else None)
    except (FormRefused, BasicDataConflict) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc, adding=entry is None)
        return page(request, "suppliers.html", status=409 if isinstance(exc, BasicDataConflict) and entry else 400,
                    suppliers=_supplier_rows(request), kinds=SUPPLIER_KINDS,
                    form={k: text(form, k, 200) for k in form if k not in ("csrf", "document")},
                    error=refused.message, detail=refused.detail)
    action_log(request, "supplier", supplier=supplier_id, record=saved.id)
    return redirect(request, "/admin/suppliers?done=saved")


async def document_file(request: Request) -> Response:
    """A supplier's or the canteen's document (PDF or scan) for logged-in users."""
    user_session(request)
    info = console(request).store.media_info(request.path_params["media_id"])
    if info is None or info["evicted"] or info["role"] != "document" or \
            info["content_type"] not in ("application/pdf", "image/jpeg", "image/png") or \
            not Path(info["path"]).is_file():
        raise HTTPException(404)
    return FileResponse(info["path"], media_type=info["content_type"], headers={"Cache-Control": "private"})


ROUTES = [
    Route("/admin/canteen", canteen, methods=["GET"]),
    Route("/admin/canteen", save_canteen, methods=["POST"]),
    Route("/admin/suppliers", suppliers, methods=["GET"]),
    Route("/admin/suppliers", save_supplier, methods=["POST"]),
    Route("/admin/suppliers/{supplier_id}", save_supplier, methods=["POST"]),
    Route("/admin/documents/{media_id}", document_file, methods=["GET"]),
]
