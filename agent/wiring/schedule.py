"""Reminders, expiry warnings and the daily ledger, attached to the agent.

Registers nothing on the reading bus: the engine reads what the workflows stored.
Reminders also go to the local feedback outputs when the agent has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.runtime import Component
from agent.schedule.engine import Notify, ScheduleEngine
from agent.schedule.scheduler import ScheduleComponent

if TYPE_CHECKING:
    from agent.app import Agent


def build(agent: Agent) -> list[Component]:
    engine = ScheduleEngine(agent.recorder, notify=_notify(agent), mono=agent.mono)
    agent.schedule_engine = engine  # type: ignore[attr-defined]  # undeclared Agent field: arch-wiring declares them (issue 12 item 1)
    return [ScheduleComponent(engine, agent.now)]


def _notify(agent: Agent) -> Notify | None:
    feedback = getattr(agent, "feedback", None)
    if feedback is None:
        return None
    return lambda text: feedback.say(text, level="warn", station="schedule")
