"""人工消毒 Disinfection by hand, entered at a keypad: tableware soaked in chlorine or steamed
by hand, premises sprayed or wiped."""

from __future__ import annotations

from agent.stations.hand_disinfection.config import HandDisinfectionConfig
from agent.stations.hand_disinfection.workflow import HandDisinfectionStation
from agent.stations.kind import StationKind
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=HandDisinfectionConfig,
    workflow=HandDisinfectionStation,
    label=Term("人工消毒", "Disinfection by hand"),
    screen_words={"again": ("请重新消毒", "Disinfect again")},
)
