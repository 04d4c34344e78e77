"""The store section: where records and media live, how much disk they may use, how long they stay."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.config.base import Strict
from drivers.config_types import Count, Days, Megabytes, PositiveDays


class StoreConfig(Strict):
    path: Path = Field(Path("/var/lib/canteen-agent/agent.db"), description="SQLite database file.")
    media_dir: Path = Field(Path("/var/lib/canteen-agent/media"), description="Snapshots and clips.")
    disk_budget_mb: Megabytes = Field(2048, description="Database plus media may use this much.")
    retention_days: PositiveDays = Field(730, description="Delivered records are kept this long (2 years).")
    purchase_retention_days_past_expiry: Days = Field(
        183, description="Purchase records: at least 6 months past the product's expiry.")
    telemetry_keep_days: PositiveDays = Field(30, description="Downsampled telemetry kept locally.")
    group_commit_max: Count = Field(512, le=100_000, description="Most adds committed in one transaction.")
    telemetry_defer_s: float = Field(
        600, ge=0, le=3600,
        description="Telemetry (samples, batches, hourly figures, the platform's acks of telemetry) is "
                    "kept in memory and written in one transaction at most this often, to spare the SD "
                    "card; a power cut or crash loses at most this much of it (never records or alarms). "
                    "0: written at once.")
