"""Changing the config file safely (the ``set_config`` command).

The patch (sections to change) is merged into the current file, the result is
validated exactly as at start-up, and only a valid result replaces the file —
atomically (temp file, fsync, rename, fsync of the directory), so a power cut
leaves either the old or the new file, never half of one. Comments in the old
file are not preserved; the previous file is kept beside it as ``.previous``, and the
new one is on trial until the agent has reached the broker with it
(``agent.uplink.config_trial``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from agent.config_file.loader import ConfigError, load_config
from agent.fsutil import write_atomically
from agent.uplink.config_trial import begin_trial


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


def apply_config_update(path: Path, patch: dict[str, Any], trial_s: float | None = None) -> list[str]:
    """Validate and atomically write ``path`` merged with ``patch``; return changed sections.

    With ``trial_s`` the new file is on trial (agent.uplink.config_trial): the next agent rolls
    it back unless it reaches the broker with it within that time."""
    try:
        old_bytes = path.read_bytes()
        current = yaml.safe_load(old_bytes.decode("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigUpdateError(f"cannot read current config: {exc}") from None
    merged = merge(current, patch)
    text = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    _validate(text, path)
    changed = sorted(patch)
    shutil.copy2(path, path.with_name(path.name + ".previous"))
    if trial_s is not None:
        begin_trial(path, text.encode("utf-8"), old_bytes, trial_s, changed)
    write_atomically(path, text.encode("utf-8"))
    return changed


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

