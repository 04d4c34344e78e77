"""Changing the config file safely (the ``set_config`` command).

The patch (sections to change) is merged into the current file, the result is
validated exactly as at start-up, and only a valid result replaces the file —
atomically (temp file, fsync, rename, fsync of the directory), so a power cut
leaves either the old or the new file, never half of one. Comments in the old
file are not preserved; the previous file is kept beside it as ``.previous``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from agent.config_loader import ConfigError, load_config
from agent.fsutil import write_atomically


class ConfigUpdateError(ValueError):
    """The update was refused; the config file is unchanged."""


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; lists and scalars in the patch replace the old value."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_config_update(path: Path, patch: dict[str, Any]) -> list[str]:
    """Validate and atomically write ``path`` merged with ``patch``; return changed sections."""
    try:
        current = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigUpdateError(f"cannot read current config: {exc}") from None
    merged = merge(current, patch)
    text = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    _validate(text, path)
    _write_atomically(path, text)
    return sorted(patch)


def _validate(text: str, path: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=path.parent, delete=False,
                                     encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        load_config(tmp.name)
    except ConfigError as exc:
        message = str(exc).replace(tmp.name, "set_config")
        raise ConfigUpdateError(f"invalid config, nothing changed: {message}") from None
    finally:
        os.unlink(tmp.name)


def _write_atomically(path: Path, text: str) -> None:
    shutil.copy2(path, path.with_name(path.name + ".previous"))
    write_atomically(path, text.encode("utf-8"))
