"""The release on trial: committed once healthy, undone otherwise; and, at every start,
the report of an undone trial turned into an alarm and a record.

Healthy means, all at once and within ``update.trial_s`` of this start: the store opened
and migrated (it did, or the agent would not be running), the uplink connected and the
platform acknowledged a record this version wrote, and every component of the agent is
running (each configured driver, camera, bus, the console). Undoing points ``current``
back at the release before, leaves ``rolled-back.json`` and restarts through the
launcher: the old version reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.core.recorder import Recorder
from agent.records.agent_update import AgentUpdate
from agent.store import Store
from agent.updater.layout import Releases, Trial
from agent.updater.service import LAST_KEY

log = logging.getLogger("agent.updater")

ALARM_KIND = "update_rolled_back"
ALARM_SUBJECT = {"device_id": "updater"}


class UpdateTrialWatch:
    name = "update-trial"

    def __init__(self, releases: Releases, trial: Trial, store: Store, recorder: Recorder,
                 connected: threading.Event, components: Callable[[], Mapping[str, str]],
                 restart: Callable[[Path], None], now_iso: Callable[[], str], keep_releases: int = 2) -> None:
        self.releases = releases
        self.keep_releases = keep_releases
        self.trial = trial
        self.store = store
        self.recorder = recorder
        self.connected = connected
        self.components = components
        self.restart = restart
        self.now_iso = now_iso
        self.deadline = time.monotonic() + trial.trial_s
        self.outcome: str | None = None
        self.beacon_id: str | None = None
        self.waiting_for = "the uplink to connect"

    def run(self, stop: threading.Event) -> None:
        while self.outcome is None and not stop.is_set():
            if self._healthy():
                self._commit()
            elif time.monotonic() >= self.deadline:
                self._roll_back(f"not healthy within {self.trial.trial_s:.0f} s: waiting for {self.waiting_for}")
            else:
                stop.wait(0.5)
        stop.wait()  # a component returns only when the agent stops

    def _healthy(self) -> bool:
        if not self.connected.is_set():
            self.waiting_for = "the uplink to connect"
            return False
        if self.beacon_id is None:
            # a record of this version's own, so "delivers" is proven by the platform's ack
            saved = self.recorder.record(AgentUpdate(
                outcome="started", version=self.trial.version, from_version=self.trial.from_version,
                running_version=self.trial.version, command_id=self.trial.command_id or None,
                seconds=self._seconds()))
            self.beacon_id = saved.id
        if self.store.in_outbox(self.beacon_id):
            self.waiting_for = "the platform to acknowledge a record"
            return False
        stalled = {name: state for name, state in self.components().items()
                   if state != "running" and name != self.name}
        if stalled:
            self.waiting_for = "components " + ", ".join(f"{n} ({s})" for n, s in sorted(stalled.items()))
            return False
        return True

    def _seconds(self) -> float | None:
        last = self.store.kv_get(LAST_KEY, {}) or {}
        accepted = last.get("accepted_epoch")
        return round(time.time() - float(accepted), 1) if accepted else None

    def _commit(self) -> None:
        self.releases.end_trial()
        self.outcome = "committed"
        removed = self.releases.prune(keep=self.keep_releases)
        last = dict(self.store.kv_get(LAST_KEY, {}) or {})
        last.update(outcome="committed", version=self.trial.version, at=self.now_iso(),
                    seconds=self._seconds(), reason=None)
        self.store.kv_set(LAST_KEY, last)
        self.recorder.record(AgentUpdate(outcome="committed", version=self.trial.version,
                                         from_version=self.trial.from_version, running_version=self.trial.version,
                                         command_id=self.trial.command_id or None, seconds=last.get("seconds")))
        self.recorder.clear_alarm(ALARM_KIND, ALARM_SUBJECT, "a new version was installed and is healthy")
        log.warning("update committed version=%s from=%s after %ss (old releases removed: %s)",
                    self.trial.version, self.trial.from_version, last.get("seconds"), ",".join(removed) or "-")

    def _roll_back(self, reason: str) -> None:
        self.outcome = "rolled back"
        log.error("update rolled back version=%s: %s", self.trial.version, reason)
        self.releases.write_rollback({"version": self.trial.version, "from_version": self.trial.from_version,
                                      "command_id": self.trial.command_id, "reason": reason,
                                      "at": self.now_iso(), "by": "agent"})
        self.releases.point_at(self.trial.previous)
        self.releases.end_trial()
        if self.releases.launcher is not None:
            self.restart(self.releases.launcher)


def report_rollback(releases: Releases, store: Store, recorder: Recorder, running_version: str) -> None:
    """At start: an undone trial (by the release itself or by the launcher) becomes an
    ``update_rolled_back`` alarm and an ``agent_update`` record."""
    report = releases.take_rollback()
    if report is None:
        return
    version = str(report.get("version") or "?")
    reason = str(report.get("reason") or "unknown reason")
    last: dict[str, Any] = dict(store.kv_get(LAST_KEY, {}) or {})
    accepted = last.get("accepted_epoch")
    seconds = round(time.time() - float(accepted), 1) if accepted else None
    recorder.record(AgentUpdate(outcome="rolled_back", version=version,
                                from_version=str(report.get("from_version") or running_version),
                                running_version=running_version, reason=reason,
                                command_id=str(report.get("command_id") or "") or None, seconds=seconds))
    recorder.raise_alarm(ALARM_KIND, ALARM_SUBJECT, f"update to {version} rolled back: {reason}",
                         severity="major", details={**report, "running_version": running_version})
    last.update(outcome="rolled_back", version=version, reason=reason, at=str(report.get("at") or ""),
                seconds=seconds, running_version=running_version)
    store.kv_set(LAST_KEY, last)
    releases.drop_rollback()  # after both are committed: a crash before reports it again
