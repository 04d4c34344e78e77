"""The public pages: the representatives' view behind an invite code; the complaint form, its
receipt and the surveys for anyone with the dining hall's QR code. Every refusal says why,
in words, and is counted (``Refusals``) for the installer's page."""

from __future__ import annotations

import html
import io
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from agent.core.recorder import Photo
from agent.public.context import Public
from agent.public.disclosure import disclose, sample_photo
from agent.public.sessions import (
    DEVICE_COOKIE,
    DEVICE_MAX_AGE_S,
    SESSION_COOKIE,
    PublicSession,
    new_device,
)
from agent.records.complaint_response import DECISIONS
from agent.records.public_complaint import COMPLAINT_CATEGORIES
from agent.social import complaints
from agent.social.complaints import STATES
from agent.social.counters import REASONS
from agent.social.invites import KINDS, InviteRefused

log = logging.getLogger("agent.public")

PREFIX = "/public"
IMAGE_MAGIC = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png")}
FORM_SLACK = 64 * 1024  # the form's text fields beside the photo
# what each refusal tells the person, Chinese first (the reason's key is what is counted)
SAYS: dict[str, tuple[int, str]] = {
    "too_many_requests": (429, "请求过于频繁，请稍后再试 / Too many requests: please try again later"),
    "complaints_per_address": (429, "提交过于频繁，请稍后再试 / Too many submissions from here: please try later"),
    "complaints_total": (429, "当前提交人数过多，请稍后再试 / Too many submissions right now: please try later"),
    "photo_too_large": (413, "照片太大 / The photo is too large"),
    "photo_not_image": (400, "照片须为JPEG或PNG图片 / The photo must be a JPEG or PNG image"),
    "markup_in_text": (400, "请不要输入网页代码（如 <script>） / Please write plain text, without HTML or script"),
    "bad_form": (400, "请完整填写表单 / Please fill in the form"),
    "code_unknown": (403, "邀请码不正确 / This invite code is not valid"),
    "code_revoked": (403, "邀请码已被学校撤销 / This invite code was revoked by the school"),
    "code_expired": (403, "邀请码已过期 / This invite code has expired"),
    "code_attempts": (429, "尝试次数过多，请稍后再试 / Too many attempts: please try later"),
    "survey_repeat": (409, "本设备已提交过此问卷，感谢参与 / This device has answered this survey already"),
    "survey_per_address": (429, "此网络提交的答卷过多 / Too many answers from this network"),
    "survey_closed": (410, "问卷已结束 / This survey is closed"),
    "receipt_unknown": (404, "未找到该回执码 / No complaint has this receipt code"),
    "csrf": (403, "表单已过期，请重新打开页面 / This form has expired: please open the page again"),
    "live_full": (503, "实时画面观看人数已满，请稍后再试，或先看定时画面 / The live view is full: please try again "
                       "later, or see the stills meanwhile"),
}
assert set(SAYS) <= set(REASONS), "every refusal the pages say is one the installer's page counts"


def ctx(request: Request) -> Public:
    return request.app.state.public  # type: ignore[no-any-return]


def client(request: Request) -> str:
    return request.client.host if request.client else "-"


def device(request: Request) -> str:
    """The device's random id (a new one, set on the answer, if it has none)."""
    found = getattr(request.state, "device", None) or request.cookies.get(DEVICE_COOKIE)
    if not found or len(found) > 64:
        found = new_device()
    request.state.device = found
    return str(found)


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    p = ctx(request)
    dev = device(request)
    context.update(request=request, canteen=canteen_title(p), school=p.config.identity.school_id,
                   csrf=p.sessions.form_token(dev), prefix=PREFIX)
    response = p.templates.TemplateResponse(request, template, context, status_code=status)
    return _cookies(request, response)


def canteen_title(p: Public) -> str:
    """The school's and canteen's names as the data administrator entered them (basic data);
    empty until then: a parent reads names, never the agent's identifiers."""
    profile = p.reads.basic_data("canteen", p.config.identity.canteen_id)
    value = profile["value"] if profile else {}
    return " ".join(str(value[k]) for k in ("school_name", "canteen_name") if value.get(k))


def _cookies(request: Request, response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    dev = getattr(request.state, "device", None)
    if dev and request.cookies.get(DEVICE_COOKIE) != dev:
        response.set_cookie(DEVICE_COOKIE, dev, max_age=DEVICE_MAX_AGE_S, httponly=True, samesite="lax",
                            path=PREFIX, secure=request.url.scheme == "https")
    return response


def refuse(request: Request, reason: str, template: str = "message.html", **context: Any) -> Response:
    status, text = SAYS[reason]
    ctx(request).refusals.count(reason)
    if ctx(request).log_gate.open(reason):
        log.warning("public refused reason=%s path=%s client=%s (refusals so far: %d)", reason, request.url.path,
                    client(request), ctx(request).refusals.snapshot().get(reason, 0))
    return render(request, template, status=status, error=text, **context)


def refuse_cheaply(request: Request, reason: str) -> Response:
    """A refusal under load: counted, logged at most every few seconds, a few bytes of HTML."""
    status, text = SAYS[reason]
    p = ctx(request)
    p.refusals.count(reason)
    if p.log_gate.open(reason):
        log.warning("public refused reason=%s path=%s client=%s (refusals so far: %d)", reason, request.url.path,
                    client(request), p.refusals.snapshot().get(reason, 0))
    return Response(small_page(status, text), status_code=status, media_type="text/html; charset=utf-8",
                    headers={"Retry-After": "60", "Cache-Control": "no-store"})


def small_page(status: int, text: str) -> str:
    return (f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><title>{status}</title><p style="font:18px sans-serif;padding:16px">{html.escape(text)}</p>'
            f'<p style="font:16px sans-serif;padding:0 16px"><a href="{PREFIX}/">首页 Home</a></p>')


def to(request: Request, url: str) -> Response:
    return _cookies(request, RedirectResponse(url, status_code=303))


async def form_of(request: Request, max_files: int = 0) -> Any:
    form = await request.form(max_files=max_files, max_fields=40)
    if not ctx(request).sessions.form_ok(request.cookies.get(DEVICE_COOKIE), form.get("csrf")):
        return None
    return form


# --- anyone ----------------------------------------------------------------------------


async def home(request: Request) -> Response:
    p = ctx(request)
    surveys = [s for s in p.surveys.all() if s.open]
    return render(request, "home.html", surveys=surveys, signed_in=_session(request) is not None)


async def qr(request: Request) -> Response:
    """The dining hall's QR code for this canteen (SVG), to print and post."""
    import segno  # late: only the poster needs it

    target = request.path_params["target"]
    paths = {"home": "/", "complain": "/complain", "survey": "/"}
    if target not in paths:
        return refuse(request, "bad_form")
    base = ctx(request).config.public.base_url or str(request.base_url).rstrip("/") + PREFIX
    url = base.rstrip("/") + paths[target] + f"?c={ctx(request).config.identity.canteen_id}"
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=3600"})


async def poster(request: Request) -> Response:
    return render(request, "poster.html")


async def complain_form(request: Request) -> Response:
    return render(request, "complain.html", categories=COMPLAINT_CATEGORIES, form={})


async def complain(request: Request) -> Response:
    p = ctx(request)
    cfg = p.config.public
    address = client(request)
    again: dict[str, Any] = {"categories": COMPLAINT_CATEGORIES, "form": {}}
    # a flood is refused before its body is read, with a small page (no template): cheap to answer
    if p.limits.complaints_burst.full("all") or not p.limits.complaints_total.take("all"):
        return refuse_cheaply(request, "complaints_total")
    p.limits.complaints_burst.take("all")
    if not p.limits.complaints_address.take(address):
        return refuse_cheaply(request, "complaints_per_address")
    length = request.headers.get("content-length", "")
    if not length.isdigit():  # a body of unknown length (chunked) could be any size: browsers always say
        return refuse(request, "bad_form", "complain.html", **again)
    if int(length) > cfg.upload_max_kb * 1024 + FORM_SLACK:
        return refuse(request, "photo_too_large", "complain.html", **again)
    form = await form_of(request, max_files=1)
    if form is None:
        return refuse(request, "csrf", "complain.html", **again)
    category, text = str(form.get("category") or ""), str(form.get("text") or "").strip()
    again["form"] = {"category": category, "text": text}
    if category not in COMPLAINT_CATEGORIES or not text or len(text) > cfg.text_max:
        return refuse(request, "bad_form", "complain.html", **again)
    if complaints.has_markup(text):
        return refuse(request, "markup_in_text", "complain.html", **again)
    photo, reason = await _photo(form.get("photo"), cfg.upload_max_kb * 1024)
    if reason:
        return refuse(request, reason, "complain.html", **again)
    session = _session(request)
    invite = p.invites.get(session.invite_id) if session else None
    valid = invite is not None and invite.state(p.now()) == "valid"
    # the agent stores it (through its Recorder) and checks it again: this process never writes
    handed = await run_in_threadpool(lambda: p.door.complaint(
        category=category, text=text, channel="representative" if valid else "qr",
        invite_id=invite.id if valid and invite else None, photo=photo))
    if isinstance(handed, str):
        return refuse(request, handed, "complain.html", **again)
    record_id, receipt_code = handed
    log.info("public complaint client=%s record=%s", address, record_id)
    return render(request, "receipt.html", receipt=receipt_code, found=complaints.by_id(p.reads, record_id),
                  states=STATES, fresh=True)


async def _photo(upload: object, max_bytes: int) -> tuple[Photo | None, str | None]:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, None
    content = await upload.read(max_bytes + 1)
    if not content:
        return None, None
    if len(content) > max_bytes:
        return None, "photo_too_large"
    kind = next((k for magic, k in IMAGE_MAGIC.items() if content.startswith(magic)), None)
    if kind is None or not await run_in_threadpool(_decodes, content):
        return None, "photo_not_image"
    return Photo(content, *kind), None


def _decodes(content: bytes) -> bool:
    import cv2  # late: only a photo needs it
    import numpy as np

    image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    return image is not None and image.size > 0


async def receipt(request: Request) -> Response:
    code = request.query_params.get("code", "").strip()
    if not code:
        return render(request, "receipt.html", receipt="", found=None, states=STATES, fresh=False)
    p = ctx(request)
    if p.limits.codes.full(client(request)):
        return refuse(request, "code_attempts", "receipt.html", receipt="", found=None, states=STATES, fresh=False)
    found = complaints.by_receipt(p.reads, code)
    if found is None:
        p.limits.codes.take(client(request))  # only wrong codes count towards the limit
        return refuse(request, "receipt_unknown", "receipt.html", receipt="", found=None, states=STATES,
                      fresh=False)
    return render(request, "receipt.html", receipt=code, found=found, states=STATES, fresh=False,
                  decisions=DECISIONS)


async def survey_form(request: Request) -> Response:
    p = ctx(request)
    survey = p.surveys.get(request.path_params["survey_id"])
    if survey is None:
        return render(request, "message.html", status=404, error="未找到该问卷 / No such survey")
    if not survey.open:
        return refuse(request, "survey_closed")
    if p.surveys.answered(survey, device(request)):
        return render(request, "message.html", message=SAYS["survey_repeat"][1])
    return render(request, "survey.html", survey=survey)


async def survey_answer(request: Request) -> Response:
    p = ctx(request)
    survey = p.surveys.get(request.path_params["survey_id"])
    if survey is None:
        return render(request, "message.html", status=404, error="未找到该问卷 / No such survey")
    form = await form_of(request)
    if form is None:
        return refuse(request, "csrf", "survey.html", survey=survey)
    dev = device(request)
    if p.surveys.answered(survey, dev):
        return refuse(request, "survey_repeat")
    if p.limits.survey_address.full(f"{survey.id}:{client(request)}"):
        return refuse(request, "survey_per_address")
    answers = {q.id: str(form.get(q.id) or "") for q in survey.questions}
    reason = await run_in_threadpool(p.door.survey_answer, survey.id, dev, answers)  # kept by the agent
    if reason is not None:
        if reason in ("bad_form", "markup_in_text"):
            return refuse(request, reason, "survey.html", survey=survey)
        return refuse(request, reason)
    p.limits.survey_address.take(f"{survey.id}:{client(request)}")
    log.info("public survey answered survey=%s client=%s", survey.id, client(request))
    return render(request, "message.html", message="感谢您的评价！/ Thank you for your answer!")


# --- representatives --------------------------------------------------------------------


def _session(request: Request) -> PublicSession | None:
    return ctx(request).sessions.get(request.cookies.get(SESSION_COOKIE))


async def enter_form(request: Request) -> Response:
    return render(request, "enter.html")


async def enter(request: Request) -> Response:
    p = ctx(request)
    address = client(request)
    if p.limits.codes.full(address):
        return refuse(request, "code_attempts", "enter.html")
    form = await form_of(request)
    if form is None:
        return refuse(request, "csrf", "enter.html")
    try:
        invite = p.invites.check(str(form.get("code") or ""), p.now())
    except InviteRefused as exc:
        p.limits.codes.take(address)
        return refuse(request, exc.reason, "enter.html")
    session = p.sessions.start(invite.id)
    log.info("public enter invite=%s client=%s", invite.id, address)
    response = to(request, PREFIX + "/view")
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="lax", path=PREFIX,
                        secure=request.url.scheme == "https")
    return response


async def leave(request: Request) -> Response:
    ctx(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = to(request, PREFIX + "/")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def representative(request: Request) -> tuple[PublicSession | None, str | None]:
    """The session of a representative whose invite is still valid; or the refusal's reason."""
    p = ctx(request)
    session = _session(request)
    if session is None:
        return None, None
    invite = p.invites.get(session.invite_id)
    state = invite.state(p.now()) if invite else "revoked"
    if state != "valid":
        p.sessions.end(session.id)
        return None, "code_revoked" if state == "revoked" else "code_expired"
    return session, None


async def view(request: Request) -> Response:
    session, reason = representative(request)
    if session is None:
        return refuse(request, reason, "enter.html") if reason else to(request, PREFIX + "/enter")
    p = ctx(request)
    facts = await run_in_threadpool(disclose, p.reads, p.config, p.now())
    log.info("public view invite=%s client=%s", session.invite_id, client(request))
    invite = p.invites.get(session.invite_id)
    return render(request, "view.html", d=facts, kind=KINDS[invite.kind] if invite else None,
                  cameras=bool(p.config.public.public_cameras))


async def photo(request: Request) -> Response:
    session, _reason = representative(request)
    if session is None:
        return Response("", status_code=404)
    found = sample_photo(ctx(request).reads, request.path_params["media_id"])
    if found is None:
        return Response("", status_code=404)
    return FileResponse(found["path"], media_type=found["content_type"],
                        headers={"Cache-Control": "private, max-age=3600"})


async def cameras(request: Request) -> Response:
    """明厨亮灶: the stills of the cameras the school shows, whole frames, refreshed by the page."""
    session, reason = representative(request)
    if session is None:
        return refuse(request, reason, "enter.html") if reason else to(request, PREFIX + "/enter")
    cfg = ctx(request).config.public
    log.info("public cameras invite=%s client=%s", session.invite_id, client(request))
    return render(request, "cameras.html", cameras=cfg.public_cameras, every_s=cfg.still_every_s,
                  live=[c for c in cfg.public_cameras if c in cfg.live_cameras and ctx(request).live is not None])


async def still(request: Request) -> Response:
    session, _reason = representative(request)
    camera = request.path_params["camera_id"]
    p = ctx(request)
    if session is None or camera not in p.config.public.public_cameras:
        return Response("", status_code=404)
    jpeg = await run_in_threadpool(p.door.still, camera)  # the agent's camera, encoded there
    if jpeg is None:
        return Response("摄像头暂无画面 / No picture from this camera now", status_code=503,
                        media_type="text/plain; charset=utf-8", headers={"Retry-After": "5"})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


ROUTES = [
    Route(PREFIX + "/", home), Route(PREFIX, home),
    Route(PREFIX + "/qr/{target}.svg", qr), Route(PREFIX + "/poster", poster),
    Route(PREFIX + "/complain", complain_form, methods=["GET"]), Route(PREFIX + "/complain", complain, methods=["POST"]),
    Route(PREFIX + "/receipt", receipt),
    Route(PREFIX + "/survey/{survey_id}", survey_form, methods=["GET"]),
    Route(PREFIX + "/survey/{survey_id}", survey_answer, methods=["POST"]),
    Route(PREFIX + "/enter", enter_form, methods=["GET"]), Route(PREFIX + "/enter", enter, methods=["POST"]),
    Route(PREFIX + "/leave", leave, methods=["POST"]),
    Route(PREFIX + "/view", view), Route(PREFIX + "/photo/{media_id}", photo),
    Route(PREFIX + "/cameras", cameras), Route(PREFIX + "/camera/{camera_id}.jpg", still),
]
