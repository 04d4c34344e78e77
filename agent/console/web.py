"""The pages' common steps: the session behind a request, rendering, redirects, refusals."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agent.console import csrf
from agent.console.context import Console
from agent.console.roles import may
from agent.console.sessions import COOKIE, Session

log = logging.getLogger("agent.console")


class LoginRequired(Exception):
    """The page needs a logged-in manager or installer: go to the login page."""


class NotAllowed(Exception):
    """Logged in, but this role may not do that (an installer making a manager's entry).
    Its text, when given, is the English message id the refusal page shows."""


def console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def session(request: Request) -> Session:
    """The request's session; a new one (cookie set by ``page`` / ``redirect``) if it has none."""
    found = getattr(request.state, "session", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    store = console(request).sessions
    found = store.get(request.cookies.get(COOKIE))
    if found is None:
        found = store.new()
    request.state.session = found
    return found


def user_session(request: Request) -> Session:
    """The session of a logged-in user; LoginRequired otherwise."""
    current = session(request)
    if current.user is None:
        raise LoginRequired()
    return current


def allowed_session(request: Request, action: str, refusal: str = "") -> Session:
    """The session of a logged-in user whose role may take ``action`` (``roles.MAY``);
    NotAllowed (403, ``refusal`` on the page) otherwise."""
    current = user_session(request)
    if not may(current.user, action):
        raise NotAllowed(refusal)
    return current


def manager_session(request: Request) -> Session:
    """The session of a user who makes the canteen's entries (the supervisor, food-safety staff)."""
    return allowed_session(request, "make_entries", "Only the supervisor or food-safety staff make this entry")


def installer_session(request: Request) -> Session:
    """The session of a logged-in installer: the doctor is the installer's tool."""
    return allowed_session(request, "run_doctor", "Only an installer can run the doctor")


def admin_session(request: Request) -> Session:
    """The session of the data administrator: basic data, accounts, documents."""
    return allowed_session(request, "manage_basic_data", "Only the data administrator can change basic data")


async def checked_form(request: Request) -> Any:
    """The POSTed form once its CSRF token matched the session's (CsrfError otherwise)."""
    form = await request.form(max_files=4, max_fields=200)
    known = console(request).sessions.get(request.cookies.get(COOKIE))
    csrf.check(form, known)
    return form


def with_cookie(request: Request, response: Response) -> Response:
    current = getattr(request.state, "session", None)
    if current is not None and request.cookies.get(COOKIE) != current.id:
        response.set_cookie(COOKIE, current.id, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
    return response


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    current = session(request)
    context.update(request=request, csrf_token=current.csrf, user=current.user,
                   canteen=console(request).config.identity.canteen_id)
    response = console(request).templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return with_cookie(request, response)


def redirect(request: Request, url: str) -> Response:
    return with_cookie(request, RedirectResponse(url, status_code=303))


def action_log(request: Request, action: str, **fields: Any) -> None:
    """Every manager action, greppable, without health data (ids and kinds only)."""
    current = session(request)
    user = current.user.name if current.user else "-"
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    log.info("console action=%s user=%s client=%s %s", action, user, client_of(request), extra)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"
