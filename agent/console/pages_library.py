"""食品安全知识及制度 The knowledge and rules library: documents (PDF, images, Markdown)
the data administrator uploads, grouped (rules, procedures, training material,
emergency plans), stored as media beside the others with their hash (each one a
``basic_data`` record of entity ``document``, so the platform has it too). Every
logged-in role reads them; a station whose config names one (``stations[].document``)
offers it on its screen, without a login, and only that one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from agent.console.basic_forms import FormRefused, build, refusal_of, text
from agent.console.uploads import UploadError, read_library_file
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
from agent.records.basic_data import DOCUMENT_GROUPS, DocumentFacts

SHOWN_INLINE = ("application/pdf", "image/jpeg", "image/png")


def _documents(request: Request) -> list[dict[str, Any]]:
    found = [{**e["value"], "version": e["version"]} for e in console(request).store.basic_data_of("document")
             if e["value"].get("active", True)]
    return sorted(found, key=lambda d: (list(DOCUMENT_GROUPS).index(d["group"]), d["title"]))


def _library_page(request: Request, status: int = 200, **extra: Any) -> Response:
    user_session(request)
    extra.setdefault("form", {})
    return page(request, "library.html", status=status, documents=_documents(request), groups=DOCUMENT_GROUPS,
                **extra)


async def library(request: Request) -> Response:
    return _library_page(request, done=request.query_params.get("done"))


async def upload(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    document_id = text(form, "document_id", 32)
    try:
        content = await read_library_file(form.get("file"), ctx.config.console.document_max_kb * 1024)
        if content is None:
            raise FormRefused("Choose the file")
        values = {"document_id": document_id, "title": text(form, "title", 100), "group": text(form, "group", 20),
                  "content_type": content.content_type, "sha256": hashlib.sha256(content.content).hexdigest(),
                  "bytes": len(content.content)}
        if values["group"] not in DOCUMENT_GROUPS:
            raise FormRefused("Choose the group")
        facts = build(DocumentFacts, values)
        assert isinstance(facts, DocumentFacts) and current.user is not None
        saved = ctx.recorder.change_basic_data(facts, action="add", by=current.user.name, expected_version=0,
                                               files={"media_id": content})
    except UploadError as exc:
        return _library_page(request, 400, error=str(exc), form=_shown(form))
    except (FormRefused, BasicDataConflict) as exc:
        refused = exc if isinstance(exc, FormRefused) else refusal_of(exc, adding=True)
        return _library_page(request, 400, error=refused.message, detail=refused.detail, form=_shown(form))
    action_log(request, "document_added", document=document_id, record=saved.id)
    return redirect(request, f"/library/{document_id}")


def _shown(form: Any) -> dict[str, str]:
    return {k: text(form, k, 100) for k in ("document_id", "title", "group")}


async def retire(request: Request) -> Response:
    current = admin_session(request)
    form = await checked_form(request)
    ctx = console(request)
    entry = ctx.store.basic_data("document", request.path_params["document_id"])
    if entry is None:
        raise HTTPException(404)
    facts = DocumentFacts.model_validate({**entry["value"], "active": False})
    assert current.user is not None
    try:
        ctx.recorder.change_basic_data(facts, action="retire", by=current.user.name,
                                       expected_version=int(text(form, "version", 10) or 0))
    except BasicDataConflict as exc:
        refused = refusal_of(exc)
        return _library_page(request, 409, error=refused.message, detail=refused.detail)
    action_log(request, "document_retired", document=facts.document_id)
    return redirect(request, "/library?done=retired")


def _found(request: Request, document_id: str) -> dict[str, Any]:
    entry = console(request).store.basic_data("document", document_id)
    if entry is None or not entry["value"].get("active", True):
        raise HTTPException(404)
    return {**entry["value"], "version": entry["version"]}


def _markdown(request: Request, document: dict[str, Any]) -> str | None:
    if document["content_type"] != "text/markdown":
        return None
    return _file(request, document).read_text(encoding="utf-8")


def _file(request: Request, document: dict[str, Any]) -> Path:
    info = console(request).store.media_info(document["media_id"] or "")
    if info is None or info["evicted"] or not Path(info["path"]).is_file():
        raise HTTPException(404)
    return Path(info["path"])


async def document(request: Request) -> Response:
    user_session(request)
    found = _found(request, request.path_params["document_id"])
    return page(request, "document.html", document=found, group=DOCUMENT_GROUPS[found["group"]],
                markdown=_markdown(request, found), file_url=f"/library/{found['document_id']}/file",
                back="/library")


async def document_file(request: Request) -> Response:
    user_session(request)
    found = _found(request, request.path_params["document_id"])
    return FileResponse(_file(request, found), media_type=found["content_type"], headers={"Cache-Control": "private"})


def _station_document(request: Request) -> dict[str, Any]:
    """The one document a station's config names (a station needs no login; nothing else is reachable)."""
    station_id = request.path_params["station_id"]
    station = next((s for s in console(request).config.stations if s.id == station_id), None)
    if station is None or not station.document:
        raise HTTPException(404)
    return _found(request, station.document)


async def station_document(request: Request) -> Response:
    found = _station_document(request)
    station_id = request.path_params["station_id"]
    return page(request, "document.html", document=found, group=DOCUMENT_GROUPS[found["group"]],
                markdown=_markdown(request, found), file_url=f"/station/{station_id}/document/file",
                back=f"/station/{station_id}")


async def station_document_file(request: Request) -> Response:
    found = _station_document(request)
    return FileResponse(_file(request, found), media_type=found["content_type"], headers={"Cache-Control": "private"})


ROUTES = [
    Route("/library", library, methods=["GET"]),
    Route("/library", upload, methods=["POST"]),
    Route("/library/{document_id}", document, methods=["GET"]),
    Route("/library/{document_id}/retire", retire, methods=["POST"]),
    Route("/library/{document_id}/file", document_file, methods=["GET"]),
    Route("/station/{station_id}/document", station_document, methods=["GET"]),
    Route("/station/{station_id}/document/file", station_document_file, methods=["GET"]),
]
