"""The logging section: how verbose the journal is, and in which form."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.config.base import Strict


class LoggingConfig(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field("text", description="json: one object per line (log shippers).")
