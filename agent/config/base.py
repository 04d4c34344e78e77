"""What every config section shares: unknown keys are errors, numbers are finite, secrets come from files."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from drivers.config_types import FINITE


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, **FINITE)


def read_secret(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from exc
