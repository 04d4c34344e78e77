"""添加剂领用 Additives: the additive chosen at the keypad, its container weighed before and after."""

from __future__ import annotations

from agent.stations.additive.config import AdditiveConfig
from agent.stations.additive.workflow import AdditiveStation
from agent.stations.kind import StationKind
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=AdditiveConfig,
    workflow=AdditiveStation,
    label=Term("添加剂领用", "Additives"),
    role_words={"scale": Term("电子秤", "scale"), "barcode": Term("扫码枪", "barcode reader")},
)
