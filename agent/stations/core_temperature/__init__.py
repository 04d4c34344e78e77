"""中心温度 Core temperature: a dish's core probed while it is cooked (>= 70 °C) or kept hot (>= 60 °C)."""

from __future__ import annotations

from agent.stations.core_temperature.config import CoreTemperatureConfig
from agent.stations.core_temperature.workflow import CoreTemperatureStation
from agent.stations.kind import StationKind
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=CoreTemperatureConfig,
    workflow=CoreTemperatureStation,
    label=Term("中心温度", "Core temperature"),
    role_words={"core_probe": Term("中心温度计", "core-temperature probe")},
    screen_words={
        "keep_cooking": ("继续加热后复测", "Keep cooking, then probe again"),
        "reheat": ("回锅加热后复测", "Reheat, then probe again"),
    },
)
