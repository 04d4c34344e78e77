"""Run the suite as if it started at a chosen local time of day.

    CANTEEN_TEST_LOCAL_TIME=23:57 ./dev.sh test

Agents built without a ``now`` of their own (and the producer processes the uplink
tests start) then read a clock that begins, when the agent is made, at the nearest such
time in their configured zone and runs on in real time. The agent writes records of its
own by the clock (the daily ledger from 23:55, reminders past a deadline), so a test
that counts records or waits for an empty outbox can pass at one hour and fail at
another: this finds them without waiting for the hour.

The platform, the broker and the tests' own signed commands keep the real clock: the
agent refuses a command issued more than 300 s after its clock, or expired (they live
60 s), so at a larger shift the tests that send a signed command fail for that reason
alone (six of them at 23:57, run at 00:48).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ENV = "CANTEEN_TEST_LOCAL_TIME"

Now = Callable[[], datetime]


def shifted(at: str) -> Callable[[ZoneInfo], Now]:
    """A ``make_now`` whose clocks read ``at`` (HH:MM, local) when made, then run on."""
    hour, minute = (int(part) for part in at.split(":"))

    def make_now(tz: ZoneInfo) -> Now:
        real = datetime.now(tz)
        start = real.replace(hour=hour, minute=minute, second=0, microsecond=0)
        start += timedelta(days=round((real - start) / timedelta(days=1)))  # the nearest such time
        began = time.monotonic()
        return lambda: start + timedelta(seconds=time.monotonic() - began)

    return make_now


def install() -> None:
    """Replace the agent's ``make_now`` when the variable is set; a no-op otherwise."""
    at = os.environ.get(ENV)
    if not at:
        return
    import agent.app
    import agent.core.timeutil

    agent.core.timeutil.make_now = agent.app.make_now = shifted(at)  # type: ignore[assignment]
