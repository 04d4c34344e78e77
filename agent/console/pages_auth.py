"""Log in and out. Refusals say why in both languages and change nothing."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.auth import authenticate
from agent.console.web import checked_form, client_of, console, page, redirect, session

log = logging.getLogger("agent.console.auth")
HOME = "/manager/today"


async def login_form(request: Request) -> Response:
    if session(request).user is not None:
        return redirect(request, HOME)
    return page(request, "login.html")


async def login(request: Request) -> Response:
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()[:64]
    password = str(form.get("password") or "")
    ctx = console(request)
    keys = (f"client:{client_of(request)}", f"user:{name}")
    if ctx.limiter.blocked(*keys):
        log.warning("console login refused reason=rate_limited user=%s client=%s", name or "-", client_of(request))
        return page(request, "login.html", status=429, error="Too many failed attempts: wait a few minutes",
                    name=name)
    user = authenticate(ctx.accounts, name, password)
    if user is None:
        ctx.limiter.failed(*keys)
        log.warning("console login failed user=%s client=%s", name or "-", client_of(request))
        return page(request, "login.html", status=401, error="Wrong user name or password", name=name)
    ctx.limiter.succeeded(*keys)
    request.state.session = ctx.sessions.login(session(request), user)
    log.info("console login user=%s role=%s client=%s", user.name, user.role, client_of(request))
    return redirect(request, HOME)


async def logout(request: Request) -> Response:
    await checked_form(request)
    current = session(request)
    if current.user is not None:
        log.info("console logout user=%s", current.user.name)
    console(request).sessions.end(current)
    request.state.session = console(request).sessions.new()
    return redirect(request, "/login")


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
