"""添加剂领用 Additives: the additive chosen at the keypad, its container weighed before and after."""

from __future__ import annotations

from agent.stations.additive.config import AdditiveConfig
from agent.stations.additive.workflow import AdditiveStation
from agent.stations.kind import StationKind

KIND: StationKind = StationKind(
    config=AdditiveConfig,
    workflow=AdditiveStation,
    label=('添加剂领用', 'Additives'),
)
