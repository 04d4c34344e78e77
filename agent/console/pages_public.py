"""社会端 on the console: invite codes (the data administrator's), complaints (the supervisor
accepts, declines or replies; an acceptance opens the 整改 task), surveys (defined here,
charted here, their summary sent to the platform). Reads through the view and the social
end's notes; records only through the Recorder."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.roles import may
from agent.console.web import (
    NotAllowed,
    action_log,
    checked_form,
    console,
    page,
    redirect,
    user_session,
)
from agent.records.complaint_response import DECISIONS
from agent.records.public_complaint import CHANNELS, COMPLAINT_CATEGORIES
from agent.social import complaints
from agent.social.complaints import STATES
from agent.social.invites import KINDS
from agent.social.surveys import parse_questions

REPLY_MAX = 2000


def _allowed(request: Request, action: str) -> str:
    current = user_session(request)
    if not may(current.user, action):
        raise NotAllowed()
    assert current.user is not None
    return current.user.name


# --- invites ---------------------------------------------------------------------------------


def _invites_page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    now = ctx.now()
    rows = [(i, i.state(now), ctx.local(i.expires_at).date().isoformat()) for i in ctx.invites.all()]
    return page(request, "invites.html", status=status, rows=rows, kinds=KINDS,
                default_days=ctx.config.public.invite_valid_days, **extra)


def _reader(request: Request) -> None:
    if not may(user_session(request).user, "see_personal_data"):
        raise NotAllowed()


async def invites(request: Request) -> Response:
    _reader(request)
    return _invites_page(request)


async def issue_invite(request: Request) -> Response:
    by = _allowed(request, "manage_invites")
    form = await checked_form(request)
    ctx = console(request)
    days = str(form.get("days") or "")
    try:
        code, invite = ctx.invites.issue(str(form.get("name") or ""), str(form.get("kind") or ""),
                                         int(days) if days.isdigit() else 0, by, ctx.now())
    except ValueError:
        return _invites_page(request, 400, error="Give a name, a kind and 1 to 1098 days")
    action_log(request, "issue_invite", invite=invite.id)
    return _invites_page(request, new_code=code, new_invite=invite)


async def revoke_invite(request: Request) -> Response:
    by = _allowed(request, "manage_invites")
    await checked_form(request)
    ctx = console(request)
    invite_id = request.path_params["invite_id"]
    if not ctx.invites.revoke(invite_id, by, ctx.now()):
        return _invites_page(request, 409, error="No such invite, or it was revoked before")
    action_log(request, "revoke_invite", invite=invite_id)
    return redirect(request, "/manager/invites")


# --- complaints ------------------------------------------------------------------------------


async def complaint_list(request: Request) -> Response:
    _reader(request)
    ctx = console(request)
    return page(request, "complaints.html", rows=complaints.complaints(ctx.store), states=STATES,
                categories=COMPLAINT_CATEGORIES, channels=CHANNELS, decisions=DECISIONS,
                media=ctx.store.media_of_records(r["id"] for r in ctx.store.latest_records(
                    type_="public_complaint", limit=200)), done=request.query_params.get("done"))


async def answer_complaint(request: Request) -> Response:
    by = _allowed(request, "answer_complaints")
    form = await checked_form(request)
    ctx = console(request)
    decision, reply = str(form.get("decision") or ""), str(form.get("reply") or "").strip()
    complaint_id = request.path_params["complaint_id"]
    if decision not in DECISIONS or not reply or len(reply) > REPLY_MAX or complaints.has_markup(reply):
        return page(request, "error.html", status=400, error="Choose a decision and write the reply")
    try:
        saved = complaints.respond(ctx.recorder, complaint_id, decision, reply, by)  # type: ignore[arg-type]
    except LookupError:
        return page(request, "error.html", status=404, error="Not found")
    except ValueError:
        return page(request, "error.html", status=409, error="This complaint was decided before: reply instead")
    action_log(request, "answer_complaint", complaint=complaint_id, record=saved.id, decision=decision)
    return redirect(request, "/manager/complaints?done=1")


# --- surveys ---------------------------------------------------------------------------------


def _surveys_page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    rows = [(s, ctx.surveys.summary(s, with_text=True)) for s in ctx.surveys.all()]
    return page(request, "surveys.html", status=status, rows=rows, **extra)


async def surveys(request: Request) -> Response:
    _reader(request)
    return _surveys_page(request, done=request.query_params.get("done"))


async def define_survey(request: Request) -> Response:
    by = _allowed(request, "manage_invites")
    form = await checked_form(request)
    ctx = console(request)
    try:
        survey = ctx.surveys.define(str(form.get("title") or ""), str(form.get("term") or ""),
                                    parse_questions(str(form.get("questions") or "")), by, ctx.now())
    except ValueError:
        return _surveys_page(request, 400, error="Give a title, a term and 1 to 12 questions, one a line")
    action_log(request, "define_survey", survey=survey.id)
    return redirect(request, "/manager/surveys?done=1")


async def send_summary(request: Request) -> Response:
    _allowed(request, "manage_invites")
    form = await checked_form(request)
    ctx = console(request)
    survey = ctx.surveys.get(request.path_params["survey_id"])
    if survey is None:
        return page(request, "error.html", status=404, error="Not found")
    if form.get("close") == "yes":
        ctx.surveys.close(survey.id, ctx.now())
        survey = ctx.surveys.get(survey.id) or survey
    saved = ctx.surveys.send_summary(ctx.recorder, survey, with_text=ctx.config.public.survey_text_to_platform)
    action_log(request, "survey_summary", survey=survey.id, record=saved.id)
    return redirect(request, "/manager/surveys?done=1")


ROUTES = [
    Route("/manager/invites", invites, methods=["GET"]), Route("/manager/invites", issue_invite, methods=["POST"]),
    Route("/manager/invites/{invite_id}/revoke", revoke_invite, methods=["POST"]),
    Route("/manager/complaints", complaint_list, methods=["GET"]),
    Route("/manager/complaints/{complaint_id}", answer_complaint, methods=["POST"]),
    Route("/manager/surveys", surveys, methods=["GET"]), Route("/manager/surveys", define_survey, methods=["POST"]),
    Route("/manager/surveys/{survey_id}/summary", send_summary, methods=["POST"]),
]
