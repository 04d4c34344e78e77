"""The ``update:`` section of the config: how remote updates are fetched and judged
(agent/updater/ does the work; this model stays beside the config so the config imports
nothing of the updater)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, FilePath


class UpdateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="answer the platform's update command")
    trial_s: float = Field(300.0, ge=10, le=3600,
                           description="a new version must be healthy within this time, or it is undone")
    max_bytes: int = Field(400 * 1024 * 1024, ge=1024 * 1024, le=4 * 1024 * 1024 * 1024,
                           description="the largest package accepted")
    bytes_per_min: int = Field(32 * 1024 * 1024, ge=64 * 1024, le=4 * 1024 * 1024 * 1024,
                               description="download budget: bytes fetched per minute at most")
    release_public_key: str | None = Field(
        None, description="Ed25519 key that signs packages (raw base64 or PEM); default: the platform's")
    release_public_key_file: FilePath | None = None
    https_ca_file: FilePath | None = Field(
        None, description="CA for HTTPS downloads (default: the system's)")
    keep_releases: int = Field(2, ge=1, le=5, description="releases kept beside the one in force")

    def release_key_text(self) -> str | None:
        if self.release_public_key:
            return self.release_public_key
        if self.release_public_key_file:
            return Path(self.release_public_key_file).read_text()
        return None
