"""``StationKind``: everything one kind of station brings, so a new kind is one folder.

A station kind's folder (``agent/stations/<kind>/``) holds its config model, its
workflow, the words its screens and reminders use (Chinese first, then English) and its
due rules; its ``__init__.py`` gathers them into one ``KIND``, and
``agent.stations.registry`` lists the kinds, one line each. The config file's
``stations:`` union, the workflows the wiring builds, the roles each kind needs, the
console's names and screen words, the due list and the reminders' words all derive
from that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.config.stations import StationConfig
from agent.core.duties import DayFacts, DueItem, Duty
from agent.stations.base import StationWorkflow
from agent.words.terms import Term

DayDuties = Callable[[DayFacts, Settings, datetime], list[DueItem]]
MealDuties = Callable[[DayFacts, Settings, str, MealWindow, datetime], list[DueItem]]
Resolve = Callable[[Any, Settings], Any]  # (the kind's station config, the config) -> filled in


@dataclass(frozen=True)
class StationKind:
    """One kind of station, as the rest of the agent sees it."""

    config: type[StationConfig]  # its model in the config file (``kind: Literal[...]``)
    workflow: type[StationWorkflow[Any]]  # what runs it on the reading bus
    label: Term  # what people call it: Chinese, English
    # what its devices are called at the station, for the roles it adds to badge and keypad
    role_words: Mapping[str, Term] = field(default_factory=dict)
    # what its screen may tell the person to do next (``Screen.next_step``): Chinese, English
    screen_words: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    day_duties: DayDuties | None = None  # its due rules once a day (a morning check per person)
    meal_duties: MealDuties | None = None  # ... and per meal served (samples, a leader's meal)
    duties: tuple[Duty, ...] = ()  # the reminders of its due items: alarm, words, severity
    due_records: tuple[str, ...] = ()  # the record types its due rules read from the day
    resolve: Resolve | None = None  # what a station leaves to its devices, filled in at start

    @property
    def name(self) -> str:
        return self.workflow.kind
