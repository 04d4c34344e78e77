"""The public listener: its own Starlette app on its own port, served in a process of its
own (``agent.public.process`` starts and restarts it).

None of the console's routes exist here (a request for one is answered 404). A guard in
front of every request bounds what one address may ask per minute (429) and how many
requests are served at once (``public.workers``; beyond it 503 at once), so a flood is
refused cheaply, in this process: the stations, the store's writer and the uplink run in
the agent's process and never wait on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from agent.public import live_pages, pages
from agent.public.context import Public

log = logging.getLogger("agent.public")
STOP_POLL_S = 0.2
HEADERS = [  # no external assets, no scripts, no framing by another site
    (b"content-security-policy", b"default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    text = "未找到 / Not found" if status == 404 else "请求被拒绝 / Request refused"
    return Response(f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{text}</p>",
                    status_code=status, media_type="text/html; charset=utf-8")


def build_app(public: Public) -> Any:
    app = Starlette(routes=[*live_pages.ROUTES, *pages.ROUTES], exception_handlers={HTTPException: _http_error})
    app.state.public = public
    return Guard(app, public)


class Guard:
    """ASGI middleware: per-address request budget, a cap on requests in flight, headers."""

    def __init__(self, app: Starlette, public: Public) -> None:
        self.app = app
        self.public = public
        self.state = app.state
        self.in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("-", 0))[0]
        if not self.public.limits.requests.take(address):
            await self._refuse(send, 429, "too_many_requests", address)
            return
        if self.in_flight >= self.public.config.public.workers:
            await self._refuse(send, 503, "busy", address)
            return
        self.in_flight += 1

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(HEADERS)
                if scope.get("scheme") == "https":
                    message["headers"].append((b"strict-transport-security", b"max-age=31536000"))
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Any, status: int, reason: str, address: str) -> None:
        self.public.refusals.count(reason)
        if self.public.log_gate.open(reason):
            log.warning("public refused reason=%s client=%s (refusals so far: %d)", reason, address,
                        self.public.refusals.snapshot().get(reason, 0))
        text = pages.SAYS.get(reason, (status, "服务繁忙，请稍后再试 / Busy: please try again shortly"))[1]
        body = pages.small_page(status, text).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"retry-after", b"60"),
                                (b"content-length", str(len(body)).encode()), *HEADERS]})
        await send({"type": "http.response.body", "body": body})


async def serve(public: Public, sock: socket.socket, parent_pid: int) -> None:
    """Serve the public pages on ``sock`` until SIGTERM, or until the agent (``parent_pid``) is gone."""
    cfg = public.config.public
    # the worker budget: at most ``public.workers`` requests in flight (the guard), and as many threads
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = cfg.workers
    tls: dict[str, Any] = {}
    if cfg.tls_cert_file is not None:
        tls = dict(ssl_certfile=str(cfg.tls_cert_file), ssl_keyfile=str(cfg.tls_key_file))
    server = uvicorn.Server(uvicorn.Config(
        build_app(public), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1,
        ws="none", proxy_headers=True, forwarded_allow_ips=cfg.forwarded_allow_ips,
        h11_max_incomplete_event_size=16 * 1024, timeout_keep_alive=5, **tls))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    await asyncio.to_thread(public.door.ready)
    log.info("public listening host=%s port=%s https=%s pid=%d", cfg.host, sock.getsockname()[1],
             cfg.tls_cert_file is not None, os.getpid())
    while not task.done():
        await asyncio.sleep(STOP_POLL_S)
        if os.getppid() != parent_pid:  # the agent ended without stopping us: so do we
            server.should_exit = True
    await asyncio.gather(task, return_exceptions=True)
