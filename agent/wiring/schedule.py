"""Reminders, expiry warnings and the daily ledger, attached to the agent.

Registers nothing on the reading bus: the engine reads what the workflows stored.
Reminders also go to the agent's local feedback outputs (station screens, console).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.schedule.engine import ScheduleEngine
from agent.schedule.scheduler import ScheduleComponent
from agent.wiring.capability import BuildContext, Capability


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleCapability(Capability):
    engine: ScheduleEngine


def build(ctx: BuildContext) -> ScheduleCapability:
    feedback = ctx.feedback

    def remind(text: str) -> None:  # reminders also reach the station screens and the console
        feedback.say(text, level="warn", station="schedule")

    engine = ScheduleEngine(ctx.recorder, notify=remind, mono=ctx.monotonic)
    return ScheduleCapability("schedule", components=(ScheduleComponent(engine, ctx.now),), engine=engine)
