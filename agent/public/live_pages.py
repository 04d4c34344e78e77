"""明厨亮灶 live: a camera the school marks live (``public.live_cameras``), as a stream of
JPEGs in one HTTP answer (``multipart/x-mixed-replace``, "MJPEG") shown by a plain <img>.

No script, no plug-in, no outside asset: every browser that shows an <img> shows it,
WeChat's built-in one included (HLS would need native support in <video>, which many
Android WebViews lack). A representative's page only; bounded viewers per camera and in
all (a full view is said in words, and counted); the stream ends when its viewer leaves,
after ``public.live_max_s``, or when the camera stays silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from agent.public.context import LiveViewer
from agent.public.pages import (
    PREFIX,
    client,
    ctx,
    refuse,
    refuse_cheaply,
    render,
    representative,
    to,
)

log = logging.getLogger("agent.public")
BOUNDARY = "frame"
POLL_S = 0.1  # a new picture is sent within this of FFmpeg writing it (pictures come every 0.1-2 s)
SILENT_S = 15.0  # no picture this long: the stream ends (the camera is off)


def _live_camera(request: Request) -> str | None:
    camera = str(request.path_params["camera_id"])
    p = ctx(request)
    live = p.live
    return camera if live is not None and camera in p.config.public.live_cameras and live.is_live(camera) else None


async def live_page(request: Request) -> Response:
    session, reason = representative(request)
    if session is None:
        return refuse(request, reason, "enter.html") if reason else to(request, PREFIX + "/enter")
    camera = _live_camera(request)
    if camera is None:
        return render(request, "message.html", status=404, error="该摄像头未开放实时画面 / No live view of this camera")
    live = ctx(request).live
    if live is not None and live.full(camera):
        return refuse(request, "live_full")
    log.info("public live page camera=%s invite=%s client=%s", camera, session.invite_id, client(request))
    return render(request, "live.html", camera=camera, max_min=round(ctx(request).config.public.live_max_s / 60))


async def live_stream(request: Request) -> Response:
    session, _reason = representative(request)
    camera = _live_camera(request)
    live = ctx(request).live
    if session is None or camera is None or live is None:
        return Response("", status_code=404)
    viewer = live.join(camera)
    if viewer is None:
        return refuse_cheaply(request, "live_full")
    log.info("public live viewer joined camera=%s invite=%s client=%s", camera, session.invite_id, client(request))
    return StreamingResponse(_pictures(viewer, ctx(request).config.public.live_max_s),
                             media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _pictures(viewer: LiveViewer, max_s: float) -> AsyncIterator[bytes]:
    """The newest picture whenever there is a new one; the viewer leaves however this ends
    (the phone closed the page: Starlette cancels it; the time is up; the camera is silent)."""
    seq, start = 0, time.monotonic()
    last = start
    try:
        while time.monotonic() - start < max_s:
            found = viewer.newest(seq)
            if found is not None:
                seq, jpeg = found
                last = time.monotonic()
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                       + jpeg + b"\r\n")
            elif time.monotonic() - last > SILENT_S:
                break
            await asyncio.sleep(POLL_S)
    finally:
        viewer.leave()


ROUTES = [Route(PREFIX + "/live/{camera_id}.mjpg", live_stream), Route(PREFIX + "/live/{camera_id}", live_page)]
