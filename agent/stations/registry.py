"""Every station kind the agent runs: one line each. What depends on the kinds is derived here.

A new station kind is one folder in ``agent/stations/`` (its ``KIND``) plus its line in
``STATION_KINDS``: the config file accepts it (``StationUnion``), the wiring runs its
workflow, the config checks its device roles, the console names it and words its screen,
and its duties join the day's list and its reminders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from agent.config.stations import StationConfig
from agent.core.duties import Duty
from agent.stations import (  # one name per kind: its folder
    additive,
    checkin,
    core_temperature,
    food_sample,
    hand_disinfection,
    morning_check,
    receiving,
    store_room,
)
from agent.stations.base import COMMON_ROLE_WORDS
from agent.stations.kind import StationKind
from agent.words.terms import Term

STATION_KINDS: tuple[StationKind, ...] = (
    morning_check.KIND,
    food_sample.KIND,
    receiving.KIND,
    additive.KIND,
    checkin.KIND,
    core_temperature.KIND,
    hand_disinfection.KIND,
    store_room.KIND,
)

BY_NAME: dict[str, StationKind] = {kind.name: kind for kind in STATION_KINDS}
if TYPE_CHECKING:  # the type checker sees the common base; pydantic, the union below
    StationUnion = StationConfig
else:
    StationUnion = Annotated[Union[tuple(kind.config for kind in STATION_KINDS)],  # noqa: UP007
                             Field(discriminator="kind")]
# kind -> the device roles it cannot work without
STATION_REQUIRED: dict[str, tuple[str, ...]] = {kind.name: kind.config.required for kind in STATION_KINDS}
# every duty the kinds put on the day's list, by its alarm kind
DUTIES: dict[str, Duty] = {duty.alarm: duty for kind in STATION_KINDS for duty in kind.duties}
# what people call each kind, and each role a station's device may have
KIND_WORDS: Mapping[str, Term] = {kind.name: kind.label for kind in STATION_KINDS}
ROLE_WORDS: Mapping[str, Term] = {**COMMON_ROLE_WORDS,
                                  **{role: words for kind in STATION_KINDS for role, words in kind.role_words.items()}}


def station_kind(name: str) -> Term:
    """A kind's name for people (a name the registry does not know is shown as it is)."""
    kind = BY_NAME.get(name)
    return kind.label if kind is not None else Term(name, "")


# what a station screen may say next (``Screen.next_step``), Chinese and English
SCREEN_WORDS: Mapping[str, tuple[str, str]] = {
    step: words for kind in STATION_KINDS for step, words in kind.screen_words.items()}
# record types some kind's due rules read from the day
DUE_RECORDS: tuple[str, ...] = tuple(dict.fromkeys(t for kind in STATION_KINDS for t in kind.due_records))
