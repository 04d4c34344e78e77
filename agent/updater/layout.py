"""Where releases live and the files that say which one is in force (shared with the
launcher, ``systemd/canteen-agent-launch``, which reads the same names).

    <releases>/<version>/venv     a release a remote update installed
    <releases>/current            symlink to the release in force (none: the installed one)
    <releases>/trial.json         the release in force is on trial
    <releases>/trial.starts       how often the launcher started it (the launcher counts)
    <releases>/rolled-back.json   a trial undone: the restored agent reports it, then removes it
    <releases>/incoming/          packages being fetched (resumable)

``<releases>`` and the launcher come from the environment the launcher sets
(``CANTEEN_RELEASES``, ``CANTEEN_LAUNCHER``): an agent started some other way (from a
checkout, in tests that do not mean it) cannot restart into another release, and says so.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.fsutil import write_atomically

VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+~-]{0,63}$")  # a Debian/PEP 440 version, path-safe


@dataclass(frozen=True)
class Trial:
    version: str
    previous: str  # the release dir name before it, "" for the installed one
    from_version: str
    command_id: str
    trial_s: float
    deadline_epoch: float
    started_at: str


class Releases:
    def __init__(self, root: Path, launcher: Path | None) -> None:
        self.root = root
        self.launcher = launcher

    @classmethod
    def from_environment(cls) -> Releases | None:
        root = os.environ.get("CANTEEN_RELEASES")
        launcher = os.environ.get("CANTEEN_LAUNCHER")
        if not root:
            return None
        return cls(Path(root), Path(launcher) if launcher else None)

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    def release_dir(self, version: str) -> Path:
        if not VERSION_RE.match(version):
            raise ValueError(f"not a usable version: {version!r}")
        return self.root / version

    def current(self) -> str:
        """The release dir name in force, "" for the installed one."""
        try:
            return os.readlink(self.current_link)
        except OSError:
            return ""

    def point_at(self, name: str) -> None:
        """Switch ``current`` atomically (a new symlink renamed over the old one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not name:
            self.current_link.unlink(missing_ok=True)
            return
        tmp = self.root / "current.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        os.replace(tmp, self.current_link)

    # --- the trial marker -----------------------------------------------------------

    def begin_trial(self, trial: Trial) -> None:
        (self.root / "trial.starts").unlink(missing_ok=True)
        write_atomically(self.root / "trial.json", json.dumps(asdict(trial)).encode())

    def trial(self) -> Trial | None:
        try:
            raw = json.loads((self.root / "trial.json").read_text())
            return Trial(**{k: raw[k] for k in Trial.__dataclass_fields__})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def end_trial(self) -> None:
        (self.root / "trial.json").unlink(missing_ok=True)
        (self.root / "trial.starts").unlink(missing_ok=True)

    # --- the rollback report ----------------------------------------------------------

    def write_rollback(self, report: dict[str, Any]) -> None:
        write_atomically(self.root / "rolled-back.json", json.dumps(report).encode())

    def take_rollback(self) -> dict[str, Any] | None:
        path = self.root / "rolled-back.json"
        try:
            report: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            report = {"reason": f"rollback report unreadable: {exc}"}
        return report

    def drop_rollback(self) -> None:
        (self.root / "rolled-back.json").unlink(missing_ok=True)

    def prune(self, keep: int) -> list[str]:
        """Remove releases beyond the ``keep`` newest that are neither in force nor the
        one before it; returns what went."""
        import shutil

        in_force = self.current()
        dirs = sorted((p for p in self.root.iterdir() if p.is_dir() and VERSION_RE.match(p.name)),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        removed = []
        for path in dirs[keep:]:
            if path.name != in_force:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed
