"""固定资产 Assets: every device the agent knows (fridges, cabinets, UV lamps, scales,
thermometers, cameras) appears by itself with its live health; the data administrator
adds the others (range hood, fire extinguishers, water purifier, insect lamps ...). Each
asset has its page: its maintenance log (``asset_maintenance`` records: date, work done,
by whom, photo, next due) and, for measuring instruments, the calibration date and next
due (计量器具检定). Changes are ``basic_data`` records; due dates become warnings on the
day's page and alarms (``agent.schedule.expiry``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.basic_forms import (
    FormRefused,
    build,
    changed_words,
    optional_date,
    refusal_of,
    text,
    version_of,
)
from agent.console.uploads import UploadError, read_photo
from agent.console.web import (
    action_log,
    admin_session,
    checked_form,
    console,
    page,
    redirect,
    user_session,
)
from agent.core.recorder import BasicDataConflict
from agent.records.asset_maintenance import WORK, AssetMaintenance
from agent.records.basic_data import ASSET_CATEGORIES, MEASURING, AssetFacts
from agent.words.terms import device_name, device_state, term

# what a device the agent knows is, as an asset (its kind, or its Modbus role)
DEVICE_CATEGORY = {"fridge": "fridge", "freezer": "freezer", "room": "fridge", "store": "fridge",
                   "cabinet": "cabinet", "cabinet_contact": "cabinet", "uv_lamp": "uv_lamp", "ozone": "ozone",
                   "ir_thermometer": "thermometer", "scale": "scale", "core_probe": "core_probe",
                   "camera": "camera", "badge_reader": "badge_reader"}


def known_devices(request: Request) -> dict[str, dict[str, Any]]:
    """Every device of the config and the registry: id -> its kind or role and live state."""
    ctx = console(request)
    cfg = ctx.config
    found: dict[str, dict[str, Any]] = {}
    for device in cfg.devices:
        found[device.id] = {"kind": getattr(device, "kind", "other"), "state": None}
    for bus in cfg.modbus:
        for unit in bus.devices:
            found[unit.id] = {"kind": unit.role or "modbus", "state": None}
    for camera_id in [c.id for c in cfg.cameras] + [c.id for c in cfg.video.cameras]:
        found[camera_id] = {"kind": "camera", "state": None}
    for device_id, entry in ctx.devices().items():
        found.setdefault(device_id, {"kind": entry.get("role") or entry.get("kind")})
        found[device_id]["state"] = entry.get("state")
    return found



def asset_rows(request: Request) -> list[dict[str, Any]]:
    ctx = console(request)
    stored = {e["id"]: e for e in ctx.store.basic_data_of("asset")}
    devices = known_devices(request)
    rows = []
    for asset_id in sorted(set(stored) | set(devices)):
        rows.append(_row(request, asset_id, stored.get(asset_id), devices.get(asset_id)))
    return sorted(rows, key=lambda r: (not r["active"], r["device_id"] is None, r["asset_id"]))


def _default(asset_id: str, device: dict[str, Any]) -> dict[str, Any]:
    category = DEVICE_CATEGORY.get(str(device.get("kind")), "other")
    return AssetFacts(asset_id=asset_id, name=device_name(asset_id), category=category,
                      device_id=asset_id).model_dump(mode="json")


def _row(request: Request, asset_id: str, entry: dict[str, Any] | None,
         device: dict[str, Any] | None) -> dict[str, Any]:
    value = entry["value"] if entry else _default(asset_id, device or {})
    today = console(request).today()
    lead = console(request).config.rules.expiry

    def due(key: str, days: list[int]) -> dict[str, Any] | None:
        when = value.get(key)
        if not when:
            return None
        left = (date.fromisoformat(when) - today).days
        return {"on": when, "left": left, "warn": left <= max(days, default=0)}

    state = device.get("state") if device else None
    return {**value, **changed_words(entry), "category_words": term(ASSET_CATEGORIES, value.get("category")),
            "measuring": value.get("category") in MEASURING, "device": device is not None,
            "health": device_state(state) if state else None, "healthy": state == "ok",
            "maintenance": due("maintenance_due", lead.maintenance_warn_days),
            "calibration": due("calibration_due", lead.warn_days)}


async def assets(request: Request) -> Response:
    user_session(request)
    return page(request, "assets.html", assets=asset_rows(request), categories=ASSET_CATEGORIES, form={},
                done=request.query_params.get("done"))


def _facts(request: Request, form: Any, asset_id: str, old: dict[str, Any]) -> AssetFacts:
    values = {**old, "asset_id": asset_id, "name": text(form, "name", 100),
              "category": text(form, "category", 50) or old.get("category") or "other",
              "location": text(form, "location", 100), "maintenance_due": optional_date(form, "maintenance_due"),
              "calibrated_on": optional_date(form, "calibrated_on"),
              "calibration_due": optional_date(form, "calibration_due")}
    if values["category"] not in ASSET_CATEGORIES:
        raise FormRefused("Choose the kind of equipment", values["category"])
    facts = build(AssetFacts, values)
    assert isinstance(facts, AssetFacts)
    return facts


async def add_asset(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    asset_id = text(form, "asset_id", 32)
    try:
        if asset_id in known_devices(request):
            raise FormRefused("This number is already in use: choose another", asset_id)
        facts = _facts(request, form, asset_id, {})
        assert current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="add", by=current.user.name, expected_version=0)
    except (FormRefused, BasicDataConflict) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc, adding=True)
        return page(request, "assets.html", status=400, assets=asset_rows(request), categories=ASSET_CATEGORIES,
                    form={k: text(form, k, 200) for k in form if k != "csrf"}, error=refused.message,
                    detail=refused.detail)
    action_log(request, "asset_added", asset=asset_id, record=saved.id)
    return redirect(request, f"/admin/assets/{asset_id}?done=saved")


def _entry(request: Request, asset_id: str) -> tuple[dict[str, Any], int]:
    """The asset's stored facts and version; a known device's defaults at version 0; 404 otherwise."""
    stored = console(request).store.basic_data("asset", asset_id)
    if stored is not None:
        return stored["value"], int(stored["version"])
    device = known_devices(request).get(asset_id)
    if device is None:
        raise HTTPException(404)
    return _default(asset_id, device), 0


def _log(request: Request, asset_id: str) -> list[dict[str, Any]]:
    ctx = console(request)
    found = []
    for record in ctx.store.iter_records(type_="asset_maintenance"):
        data = record["data"]
        if data.get("asset_id") != asset_id:
            continue
        photos = [m["id"] for m in record.get("media", []) if m.get("role") == "photo"]
        found.append({"id": record["id"], "work": term(WORK, data["work"]), "done_on": data["done_on"],
                      "work_done": data["work_done"], "done_by": data["done_by"], "next_due": data.get("next_due"),
                      "entered_by": data["entered_by"], "photos": photos, "sent": bool(record.get("_delivered_at")),
                      "at": f"{ctx.local(datetime.fromisoformat(record['recorded_at'])):%Y-%m-%d %H:%M}"})
    return found[::-1]


def _asset_page(request: Request, asset_id: str, status: int = 200, **extra: Any) -> Response:
    user_session(request)
    _entry(request, asset_id)
    stored = console(request).store.basic_data("asset", asset_id)
    row = _row(request, asset_id, stored, known_devices(request).get(asset_id))
    return page(request, "asset.html", status=status, asset=row, log=_log(request, asset_id),
                categories=ASSET_CATEGORIES, work=WORK, today=console(request).today().isoformat(), **extra)


async def asset(request: Request) -> Response:
    return _asset_page(request, request.path_params["asset_id"], done=request.query_params.get("done"))


async def edit_asset(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    asset_id = request.path_params["asset_id"]
    old, _version = _entry(request, asset_id)
    retire = text(form, "action", 10) == "retire"
    try:
        facts = AssetFacts.model_validate({**old, "active": False}) if retire else _facts(request, form, asset_id, old)
        assert current.user is not None
        version = version_of(form)
        saved = console(request).recorder.change_basic_data(
            facts, action="retire" if retire else "add" if version == 0 else "edit", by=current.user.name,
            expected_version=version)
    except (FormRefused, BasicDataConflict) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc)
        return _asset_page(request, asset_id, 409 if isinstance(exc, BasicDataConflict) else 400,
                           error=refused.message, detail=refused.detail)
    action_log(request, "asset_changed", asset=asset_id, record=saved.id)
    return redirect(request, f"/admin/assets/{asset_id}?done=saved")


async def add_maintenance(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    asset_id = request.path_params["asset_id"]
    old, _version = _entry(request, asset_id)
    facts = AssetFacts.model_validate(old)
    try:
        work = text(form, "work", 20)
        if work not in WORK:
            raise FormRefused("Choose the kind of work")
        done_on = optional_date(form, "done_on") or console(request).today()
        if done_on > console(request).today():
            raise FormRefused("The work cannot be dated after today", done_on.isoformat())
        next_due = optional_date(form, "next_due")
        if next_due is not None and next_due <= done_on:
            raise FormRefused("The next due date comes after the work's date", next_due.isoformat())
        work_done, done_by = text(form, "work_done", 1000), text(form, "done_by", 100)
        if not work_done or len(work_done) > 1000:
            raise FormRefused("Say what was done (1000 characters at most)")
        if not done_by or len(done_by) > 100:
            raise FormRefused("Write who did it")
        try:
            photo = await read_photo(form.get("photo"), ctx.config.console.upload_max_kb * 1024)
        except UploadError as exc:
            raise FormRefused(str(exc)) from None
        assert current.user is not None
        entry = AssetMaintenance(asset_id=asset_id, asset_name=facts.name, category=facts.category,
                                 work=work, done_on=done_on, work_done=work_done,
                                 done_by=done_by, next_due=next_due, entered_by=current.user.name)
        saved = ctx.recorder.record_maintenance(entry, facts, photo=photo)
    except FormRefused as refused:
        return _asset_page(request, asset_id, 400, error=refused.message, detail=refused.detail)
    action_log(request, "asset_maintenance", asset=asset_id, work=work, record=saved.id)
    return redirect(request, f"/admin/assets/{asset_id}?done=maintenance")


ROUTES = [
    Route("/admin/assets", assets, methods=["GET"]),
    Route("/admin/assets", add_asset, methods=["POST"]),
    Route("/admin/assets/{asset_id}", asset, methods=["GET"]),
    Route("/admin/assets/{asset_id}", edit_asset, methods=["POST"]),
    Route("/admin/assets/{asset_id}/maintenance", add_maintenance, methods=["POST"]),
]
