"""进货查验 Receiving: supplier, item, batch and dates typed or scanned, then the weight."""

from __future__ import annotations

from agent.stations.kind import StationKind
from agent.stations.receiving.config import ReceivingConfig
from agent.stations.receiving.workflow import Receiving

KIND: StationKind = StationKind(
    config=ReceivingConfig,
    workflow=Receiving,
    label=('进货查验', 'Receiving'),
)
