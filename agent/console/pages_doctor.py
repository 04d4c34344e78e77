"""The installer's doctor: ``canteen-agent doctor``'s table in a page, beside the devices.

Run on request (a button, a POST with its CSRF token), in a thread beside the running
agent with only the checks that cannot disturb it (``agent.console.doctor_run``): the
config file, serial ports looked at (exists, permissions), the broker, the clock, the
disk, the models' hashes; Modbus devices and cameras are the agent's own live states.
The rows went through ``agent.redact`` in the doctor: no URL credentials, no password.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.doctor_run import WAIT_S
from agent.console.web import action_log, checked_form, console, installer_session, page, redirect

STATUS = {"OK": "OK", "WARN": "Check it", "FAIL": "Not passed"}


async def doctor_page(request: Request) -> Response:
    installer_session(request)
    ctx = console(request)
    run = ctx.doctor.latest
    times = {}
    if run is not None:
        times["started"] = f"{ctx.local(run.started_at):%Y-%m-%d %H:%M:%S}"
        if run.finished_at is not None:
            times["finished"] = f"{ctx.local(run.finished_at):%H:%M:%S}"
    return page(request, "doctor.html", run=run, times=times, running=ctx.doctor.running, statuses=STATUS,
                wait_s=int(WAIT_S), busy=request.query_params.get("busy"))


async def run_doctor(request: Request) -> Response:
    current = installer_session(request)
    await checked_form(request)
    assert current.user is not None
    ctx = console(request)
    if not ctx.doctor.start(current.user.name):
        return redirect(request, "/installer/doctor?busy=1")
    action_log(request, "doctor")
    await ctx.doctor.wait()  # bounded: after WAIT_S the page says it is still running
    return redirect(request, "/installer/doctor")


ROUTES = [
    Route("/installer/doctor", doctor_page, methods=["GET"]),
    Route("/installer/doctor", run_doctor, methods=["POST"]),
]
