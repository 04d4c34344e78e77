"""The installer's view: every device's last known state (the agent's device registry,
the same the retained status carries), without personal data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.web import console, page, user_session


async def devices(request: Request) -> Response:
    user_session(request)
    ctx = console(request)
    rows = [{"id": device_id, **entry} for device_id, entry in sorted(ctx.devices().items())]
    return page(request, "devices.html", devices=rows)


ROUTES = [Route("/installer/devices", devices)]
