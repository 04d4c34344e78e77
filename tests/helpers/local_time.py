"""Run the suite as if it started at a chosen local time of day.

    CANTEEN_TEST_LOCAL_TIME=23:57 ./dev.sh test

Agents built without a ``now`` of their own (and the producer processes the uplink
tests start) then read a clock that begins, when the agent is made, at the nearest such
time in their configured zone and runs on in real time. The agent writes records of its
own by the clock (the daily ledger from 23:55, reminders past a deadline), so a test
that counts records or waits for an empty outbox can pass at one hour and fail at
another: this finds them without waiting for the hour.

Commands the tests sign without a time of their own are issued on the clock of the
newest agent the test made, as the platform's would be if its clock agreed with the
kitchen's (the agent refuses a command from more than 300 s ahead of its clock, or
expired); with none, on the real clock. Agents started as ``agent run`` (the CLI, the
installed package), the platform's store, the broker and the rest keep the real clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.core.timeutil import Now

ENV = "CANTEEN_TEST_LOCAL_TIME"

_shift = timedelta(0)  # the newest agent clock's lead on the real one


def shifted(at: str) -> Callable[[ZoneInfo], Now]:
    """A ``make_now`` whose clocks read ``at`` (HH:MM, local) when made, then run on."""
    hour, minute = (int(part) for part in at.split(":"))

    def make_now(tz: ZoneInfo) -> Now:
        global _shift
        real = datetime.now(tz)
        start = real.replace(hour=hour, minute=minute, second=0, microsecond=0)
        start += timedelta(days=round((real - start) / timedelta(days=1)))  # the nearest such time
        _shift = start - real
        began = time.monotonic()
        return lambda: start + timedelta(seconds=time.monotonic() - began)

    return make_now


def reset() -> None:
    """A new test: its commands are on the real clock until it makes an agent."""
    global _shift
    _shift = timedelta(0)


def on_agent_clock(build: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``build_command``, issuing on the newest agent's clock unless given a time."""

    def build_command(*args: Any, now: datetime | None = None, **kwargs: Any) -> dict[str, Any]:
        return build(*args, now=now or datetime.now(UTC) + _shift, **kwargs)

    return build_command


def install() -> None:
    """Shift the agents' clocks (and the signed commands') when the variable is set; a no-op otherwise."""
    at = os.environ.get(ENV)
    if not at:
        return
    import agent.app
    import agent.core.timeutil
    import simulator.platform.commands
    import simulator.platform.platform

    agent.core.timeutil.make_now = agent.app.make_now = shifted(at)  # type: ignore[assignment,attr-defined]
    build = on_agent_clock(simulator.platform.commands.build_command)
    simulator.platform.commands.build_command = simulator.platform.platform.build_command = build  # type: ignore[attr-defined]
