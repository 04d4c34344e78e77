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
    pages_accounts,
    pages_alarms,
    pages_assets,
    pages_auth,
    pages_canteen,
    pages_daily_check,
    pages_devices,
    pages_disinfection,
    pages_doctor,
    pages_entries,
    pages_incidents,
    pages_library,
    pages_meals,
    pages_menu,
    pages_public,
    pages_records,
    pages_samples,
    pages_scorecard,
    pages_staff,
    pages_station,
    pages_stock,
    pages_tasks,
    pages_today,
    pages_trace,
    pages_training,
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
    message = str(exc) or "Your role cannot make this change"
    return page(request, "error.html", status=403, error=message)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return page(request, "error.html", status=status, error="Not found" if status == 404 else "Request refused")


def build_app(console: Console) -> Starlette:
    routes: list[Any] = [Route("/", home), Mount("/static", StaticFiles(directory=str(STATIC)), name="static")]
    for module in (pages_station, pages_auth, pages_today, pages_alarms, pages_tasks, pages_incidents,
                   pages_daily_check, pages_meals, pages_menu, pages_samples, pages_stock, pages_trace, pages_scorecard,
                   pages_entries, pages_disinfection, pages_training, pages_records, pages_devices, pages_doctor,
                   pages_accounts, pages_staff, pages_assets, pages_canteen, pages_library, pages_public):
        routes += module.ROUTES
    app = Starlette(routes=routes, exception_handlers={
        LoginRequired: _login_required, NotAllowed: _not_allowed, CsrfError: _csrf_refused, HTTPException: _http_error})
    app.state.console = console
    app.state.stopping = asyncio.Event()
    app.add_middleware(StrictTransport)
    return app


class StrictTransport:
    """HSTS on every HTTPS answer: once a phone has seen the console over TLS it never
    sends a password to it in clear (ASGI middleware; plain HTTP answers unchanged)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append(
                    (b"strict-transport-security", b"max-age=31536000"))
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def redirect_app(https_port: int) -> Any:
    """Plain HTTP that only sends the browser to the same path over HTTPS."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").rsplit(":", 1)[0] or "localhost"
        target = f"https://{host}:{https_port}{scope['path']}"
        await send({"type": "http.response.start", "status": 308,
                    "headers": [(b"location", target.encode("latin-1")), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


class ConsoleComponent:
    """uvicorn serving the console in the supervisor's thread, on a loop of its own."""

    name = "console"

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = build_app(console)
        self.port: int | None = None  # the bound port (config port 0: any free one)
        self.host: str | None = None  # the bound address (loopback when held there without TLS)
        self.kiosk_port: int | None = None  # with TLS: plain HTTP on loopback for the box's own screens
        self.redirect_port: int | None = None
        self.started = threading.Event()

    def run(self, stop: threading.Event) -> None:
        cfg = self.console.config.console
        sockets: list[socket.socket] = []
        try:
            if cfg.held_to_loopback:
                log.warning("console held to loopback host=%s reason=no_certificate: set console.tls_cert_file "
                            "and console.tls_key_file to serve phones and tablets over HTTPS", cfg.host)
            sockets.append(self._listen(cfg.listen_host, cfg.port, "console.port"))
            self.host, self.port = sockets[0].getsockname()[:2]
            if cfg.tls_cert_file is not None and cfg.kiosk_http_port is not None:
                sockets.append(self._listen("127.0.0.1", cfg.kiosk_http_port, "console.kiosk_http_port"))
                self.kiosk_port = sockets[-1].getsockname()[1]
            if cfg.tls_cert_file is not None and cfg.redirect_port is not None:
                sockets.append(self._listen(cfg.host, cfg.redirect_port, "console.redirect_port"))
                self.redirect_port = sockets[-1].getsockname()[1]
            asyncio.run(self._serve(sockets, stop))
        finally:
            for sock in sockets:
                sock.close()
            self.started.clear()

    @staticmethod
    def _listen(host: str, port: int, key: str) -> socket.socket:
        try:
            return socket.create_server((host, port), reuse_port=False)
        except OSError as exc:  # a port another program holds: one line each retry, no traceback
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ComponentDown(f"cannot listen on {host}:{port}: {reason} (another program on the "
                                f"port? canteen-agent doctor names it; or set {key})") from None

    def _servers(self, sockets: list[socket.socket]) -> list[tuple[uvicorn.Server, socket.socket]]:
        cfg = self.console.config.console
        common: dict[str, Any] = dict(log_level="warning", access_log=False, lifespan="off",
                                      timeout_graceful_shutdown=1, ws="none")
        tls: dict[str, Any] = {}
        if cfg.tls_cert_file is not None:
            tls = dict(ssl_certfile=str(cfg.tls_cert_file), ssl_keyfile=str(cfg.tls_key_file))
        servers = [(uvicorn.Server(uvicorn.Config(self.app, **common, **tls)), sockets[0])]
        for sock in sockets[1:]:
            port = sock.getsockname()[1]
            app = self.app if port == self.kiosk_port else redirect_app(self.port or 0)
            servers.append((uvicorn.Server(uvicorn.Config(app, **common)), sock))
        return servers

    async def _serve(self, sockets: list[socket.socket], stop: threading.Event) -> None:
        self.app.state.stopping = asyncio.Event()
        servers = self._servers(sockets)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        cfg = self.console.config.console
        log.info("console listening host=%s port=%s https=%s kiosk_http_port=%s redirect_port=%s stations=%s",
                 cfg.listen_host, self.port, cfg.tls_cert_file is not None, self.kiosk_port, self.redirect_port,
                 ",".join(self.console.feed.station_ids) or "-")
        self.started.set()
        while not stop.is_set() and not any(task.done() for task in tasks):
            await asyncio.sleep(STOP_POLL_S)
        self.app.state.stopping.set()
        for server, _sock in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        if not stop.is_set():
            raise RuntimeError("console server ended by itself")
