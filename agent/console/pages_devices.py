"""Every device's last known state (the agent's device registry, the same the retained
status carries), without personal data. States and reasons are in words for everyone;
the drivers' own text (an OS error, a port path) only for installers, who fix it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.roles import may
from agent.console.web import console, page, user_session
from agent.social.counters import PROCESS_WORDS, REASONS
from agent.words.terms import DEVICE_KINDS, Term, device_state, term


def _row(device_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    kind = entry.get("role") or entry.get("kind")
    return {"id": device_id, "kind": term(DEVICE_KINDS, kind) if kind else None,
            "ok": entry.get("state") == "ok", "state": device_state(entry.get("state") or "starting"),
            "detail": entry.get("detail") or "", "since": (entry.get("since") or "")[:19].replace("T", " "),
            "last": (entry.get("last_reading_at") or "")[:19].replace("T", " "),
            "implausible": entry.get("implausible_readings") or 0}


async def devices(request: Request) -> Response:
    current = user_session(request)
    ctx = console(request)
    rows = [_row(device_id, entry) for device_id, entry in sorted(ctx.devices().items())]
    counts = ctx.refusals.snapshot()
    refused = [(REASONS[k], counts[k]) for k in REASONS if counts.get(k)]
    process = ctx.refusals.process  # the public side's own process (agent.public.process)
    public_process = {"state": process.state, "words": PROCESS_WORDS.get(process.state, PROCESS_WORDS["off"]),
                      "restarts": process.restarts, "last_end": process.last_end}
    return page(request, "devices.html", devices=rows, details=may(current.user, "see_device_details"),
                public_on=ctx.config.public.enabled, refused=refused, public_process=public_process,
                process_title=PROCESS_TITLE, restarts_words=RESTARTS)


PROCESS_TITLE = Term("社会端进程", "the public side's process")
RESTARTS = Term("重新启动次数", "restarts")


ROUTES = [Route("/installer/devices", devices)]
