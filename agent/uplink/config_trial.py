"""A config from ``set_config`` is on trial until the agent reaches the broker with it.

``set_config`` validates a new config, but a valid config can still cut the agent off
for good (a wrong host or port, credentials the broker refuses): the platform could then
never send the fix. So the new file is written with a trial marker beside it
(``<config>.trial``: the digests of the new and the previous file and the time allowed,
taken from the config that accepted the change). The next agent started on that file
watches its uplink: connected within the time, the config is confirmed (marker
removed); not, it is rolled back: the previous file is restored atomically, a report is
left beside it (``<config>.rolled-back``) and the agent reloads. The agent started on
the restored config turns the report into a ``config_rolled_back`` alarm (which reaches
the platform like any alarm) and a ``config_rollback`` field in its status.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.fsutil import write_atomically

if TYPE_CHECKING:
    from agent.core.recorder import Recorder
    from agent.view import AgentControl

log = logging.getLogger("agent.config_trial")

ALARM_KIND = "config_rolled_back"
ALARM_SUBJECT = {"device_id": "config"}
STATUS_KEY = "config_rollback"


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def trial_path(path: Path) -> Path:
    return _sidecar(path, ".trial")


def previous_path(path: Path) -> Path:
    return _sidecar(path, ".previous")


def report_path(path: Path) -> Path:
    return _sidecar(path, ".rolled-back")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Trial:
    new_sha256: str
    previous_sha256: str
    timeout_s: float
    changed: list[str]


def begin_trial(path: Path, new_text: bytes, previous_text: bytes, timeout_s: float,
                changed: list[str]) -> None:
    """Written before the new config itself: a crash in between leaves a marker that no
    longer matches the file, which the next start discards."""
    trial = {"new_sha256": digest(new_text), "previous_sha256": digest(previous_text),
             "timeout_s": timeout_s, "changed": changed}
    write_atomically(trial_path(path), json.dumps(trial).encode("utf-8"))


def pending_trial(path: Path) -> Trial | None:
    """The trial of the config file as it is now, if there is one (stale markers removed)."""
    marker = trial_path(path)
    try:
        raw = json.loads(marker.read_text(encoding="utf-8"))
        trial = Trial(str(raw["new_sha256"]), str(raw["previous_sha256"]), float(raw["timeout_s"]),
                      [str(c) for c in raw.get("changed", [])])
        current = digest(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("config trial marker unreadable, dropped: %s", exc)
        marker.unlink(missing_ok=True)
        return None
    if trial.new_sha256 != current:
        marker.unlink(missing_ok=True)  # the file changed since (restored, edited by hand)
        return None
    return trial


def confirm(path: Path) -> None:
    trial_path(path).unlink(missing_ok=True)


def roll_back(path: Path, trial: Trial, reason: str, at: str) -> bool:
    """Restore the previous config; False (and the new one kept) if it is gone."""
    try:
        previous = previous_path(path).read_bytes()
    except OSError as exc:
        log.error("config trial failed but the previous config is unreadable, keeping the new one: %s", exc)
        confirm(path)
        return False
    if digest(previous) != trial.previous_sha256:
        log.error("config trial failed but %s is not the config it replaced: keeping the new one",
                  previous_path(path))
        confirm(path)
        return False
    report = {"at": at, "reason": reason, "rejected_sha256": trial.new_sha256,
              "restored_sha256": trial.previous_sha256, "changed": trial.changed}
    write_atomically(report_path(path), json.dumps(report).encode("utf-8"))
    write_atomically(path, previous)
    confirm(path)
    return True


class ConfigTrialWatch:
    """Confirms the config on trial once the uplink connects, or rolls it back."""

    name = "config-trial"

    def __init__(self, agent: AgentControl, recorder: Recorder, connected: threading.Event,
                 path: Path, trial: Trial) -> None:
        self.agent = agent
        self.recorder = recorder
        self.path = path
        self.connected = connected
        self.trial = trial
        self.deadline = time.monotonic() + trial.timeout_s
        self.outcome: str | None = None

    def run(self, stop: threading.Event) -> None:
        while self.outcome is None and not stop.is_set():
            if self.connected.wait(min(1.0, max(0.0, self.deadline - time.monotonic()))):
                self._confirm()
            elif time.monotonic() >= self.deadline:
                self._roll_back()
        stop.wait()  # done: a component returns only when the agent stops

    def _confirm(self) -> None:
        confirm(self.path)
        self.outcome = "confirmed"
        log.info("config on trial confirmed: connected with it changed=%s", ",".join(self.trial.changed))
        self.agent.store.kv_set(STATUS_KEY, None)
        self.recorder.clear_alarm(ALARM_KIND, ALARM_SUBJECT, "a new config was applied and works")

    def _roll_back(self) -> None:
        reason = f"not connected to the broker within {self.trial.timeout_s:.0f} s"
        if roll_back(self.path, self.trial, reason, self.agent.now().isoformat(timespec="seconds")):
            self.outcome = "rolled back"
            log.error("config on trial rolled back: %s changed=%s", reason, ",".join(self.trial.changed))
            self.agent.request_reload()
        else:
            self.outcome = "kept"


def report_rollback(agent: AgentControl, recorder: Recorder, path: Path) -> None:
    """At start: a rollback left by the agent before us becomes an alarm and a status field."""
    report_file = report_path(path)
    try:
        report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        report = {"reason": f"rollback report unreadable: {exc}"}
    agent.store.kv_set(STATUS_KEY, report)
    recorder.raise_alarm(
        ALARM_KIND, ALARM_SUBJECT,
        "新配置无法连接平台，已恢复原配置 / new config rolled back to the previous one: "
        f"{report.get('reason', 'unknown reason')}",
        severity="major", details=report)
    report_file.unlink(missing_ok=True)  # after the alarm is committed: a crash before reports it again


def trial_components(agent: AgentControl, recorder: Recorder,
                     connected: threading.Event) -> list[ConfigTrialWatch]:
    """Report an earlier rollback; watch the config if it is on trial."""
    path = agent.config_path
    if path is None:
        return []
    report_rollback(agent, recorder, path)
    trial = pending_trial(path)
    if trial is None:
        return []
    log.warning("config on trial: rolled back unless connected within %.0f s changed=%s",
                trial.timeout_s, ",".join(trial.changed))
    return [ConfigTrialWatch(agent, recorder, connected, path, trial)]
