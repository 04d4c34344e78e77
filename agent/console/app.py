"""The console's ASGI app and the supervised component that serves it.

Why Starlette on uvicorn: a small, standard ASGI toolkit (no ORM, no admin, ~1 MB) with
server-sent events via a streaming response, on the reference ASGI server; Jinja2 for
templates; python-multipart for forms and photo uploads. Light on a Pi, no build step.

``ConsoleComponent.run`` serves until the supervisor's stop event; the listening socket
is bound first, so a port in use is an ordinary error (``ComponentDown``: one log line,
retried with back-off by the supervisor) and a crash here stops no other component.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agent.console import (
    pages_alarms,
    pages_auth,
    pages_daily_check,
    pages_devices,
    pages_doctor,
    pages_entries,
    pages_meals,
    pages_records,
    pages_samples,
    pages_station,
    pages_today,
)
from agent.console.context import STATIC, Console
from agent.console.csrf import CsrfError
from agent.console.web import LoginRequired, NotAllowed, client_of, page, redirect, session
from agent.ops.runtime import ComponentDown

log = logging.getLogger("agent.console")
STOP_POLL_S = 0.2


async def home(request: Request) -> Response:
    if session(request).user is not None:
        return redirect(request, pages_auth.HOME)
    return page(request, "index.html", stations=request.app.state.console.config.stations)


async def _login_required(request: Request, exc: Exception) -> Response:
    return redirect(request, "/login")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    log.warning("console refused reason=csrf path=%s client=%s", request.url.path, client_of(request))
    return page(request, "error.html", status=403, error="This form has expired: open the page again")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    log.warning("console refused reason=role path=%s client=%s", request.url.path, client_of(request))
    message = str(exc) or "Only a manager can make this entry"
    return page(request, "error.html", status=403, error=message)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return page(request, "error.html", status=status, error="Not found" if status == 404 else "Request refused")


def build_app(console: Console) -> Starlette:
    routes: list[Any] = [Route("/", home), Mount("/static", StaticFiles(directory=str(STATIC)), name="static")]
    for module in (pages_station, pages_auth, pages_today, pages_alarms, pages_daily_check, pages_meals,
                   pages_samples, pages_entries, pages_records, pages_devices, pages_doctor):
        routes += module.ROUTES
    app = Starlette(routes=routes, exception_handlers={
        LoginRequired: _login_required, NotAllowed: _not_allowed, CsrfError: _csrf_refused, HTTPException: _http_error})
    app.state.console = console
    app.state.stopping = asyncio.Event()
    return app


class ConsoleComponent:
    """uvicorn serving the console in the supervisor's thread, on a loop of its own."""

    name = "console"

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = build_app(console)
        self.port: int | None = None  # the bound port (config port 0: any free one)
        self.started = threading.Event()

    def run(self, stop: threading.Event) -> None:
        cfg = self.console.config.console
        try:
            sock = socket.create_server((cfg.host, cfg.port), reuse_port=False)
        except OSError as exc:  # a port another program holds: one line each retry, no traceback
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ComponentDown(f"cannot listen on {cfg.host}:{cfg.port}: {reason} (another program on the "
                                "port? canteen-agent doctor names it; or set console.port)") from None
        self.port = sock.getsockname()[1]
        try:
            asyncio.run(self._serve(sock, stop))
        finally:
            sock.close()
            self.started.clear()

    async def _serve(self, sock: socket.socket, stop: threading.Event) -> None:
        self.app.state.stopping = asyncio.Event()
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, ws="none")
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        cfg = self.console.config.console
        log.info("console listening host=%s port=%s stations=%s", cfg.host, self.port,
                 ",".join(self.console.feed.station_ids) or "-")
        self.started.set()
        while not stop.is_set() and not task.done():
            await asyncio.sleep(STOP_POLL_S)
        self.app.state.stopping.set()
        server.should_exit = True
        await task
        if not stop.is_set():
            raise RuntimeError("console server ended by itself")
