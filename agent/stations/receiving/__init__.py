"""进货查验 Receiving: supplier, item, batch and dates typed or scanned, then the weight."""

from __future__ import annotations

from agent.stations.kind import StationKind
from agent.stations.receiving.config import ReceivingConfig
from agent.stations.receiving.workflow import Receiving
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=ReceivingConfig,
    workflow=Receiving,
    label=Term("进货查验", "Receiving"),
    role_words={"scale": Term("电子秤", "scale"), "barcode": Term("扫码枪", "barcode reader")},
)
