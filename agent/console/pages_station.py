"""Station screens: ``/station/<id>`` and its live feed (server-sent events).

The page is static; ``/station/<id>/events`` sends the station's state at once and then
every change (``StationFeed``: what the workflow says and its devices' health), and the
agent's clock every ``CLOCK_S``: the screen shows the time the records are stamped with
(the demo's simulated day too), and a dropped Wi-Fi is noticed. EventSource reconnects
by itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.console.i18n import zh
from agent.console.station_feed import StationState
from agent.console.web import console, page
from agent.stations.registry import SCREEN_WORDS, station_kind

CLOCK_S = 1.0
# what the page's script writes, in both languages: the verdicts and what every station may
# say (the catalog's zh_CN, the English id); each station kind's own next steps come with
# the kind (``agent.stations.registry.SCREEN_WORDS``)
WORDS = {
    "pass": "Pass", "fail": "Fail", "warn": "Check", "off_duty": "Re-check normal: still off duty today",
    "not_saved": "Not saved: tell the manager", "device_offline": "Device offline: tell the manager",
    "connecting": "Connecting the devices", "device_warning": "A device is not working",
}


def _station(request: Request) -> str:
    station_id = request.path_params["station_id"]
    if station_id not in console(request).feed.station_ids:
        raise HTTPException(404, f"no station {station_id!r}")
    return str(station_id)


async def station_page(request: Request) -> Response:
    station_id = _station(request)
    station = next(s for s in console(request).config.stations if s.id == station_id)
    words = {key: [zh(text), text] for key, text in WORDS.items()}
    ctx = console(request)
    words |= {step: list(pair) for step, pair in SCREEN_WORDS.items()}
    return page(request, "station.html", station=station, kind=station_kind(station.kind), words=words,
                clock=f"{ctx.local(ctx.now()):%H:%M:%S}")


async def station_state(request: Request) -> Response:
    return JSONResponse(console(request).feed.current(_station(request)).as_json())


async def station_events(request: Request) -> Response:
    station_id = _station(request)
    feed = console(request).feed
    stopping: asyncio.Event = request.app.state.stopping
    watcher = feed.watch(station_id)

    ctx = console(request)

    async def stream() -> AsyncIterator[str]:
        try:
            yield _event(feed.current(station_id))
            while not stopping.is_set():
                try:
                    state = await asyncio.wait_for(watcher.queue.get(), CLOCK_S)
                except TimeoutError:
                    yield f"event: clock\ndata: {ctx.local(ctx.now()):%H:%M:%S}\n\n"
                    continue
                yield _event(state)
        finally:
            feed.unwatch(station_id, watcher)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _event(state: StationState) -> str:
    return f"id: {state.seq}\nevent: state\ndata: {json.dumps(state.as_json(), ensure_ascii=False)}\n\n"


ROUTES = [
    Route("/station/{station_id}", station_page),
    Route("/station/{station_id}/state", station_state),
    Route("/station/{station_id}/events", station_events),
]
