"""Remote updates (agent.updater): the ``update`` command, its worker, and the trial of a
release just installed. Built before the uplink (its command joins the others) and
attached to it once the uplink exists (the MQTT download path)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.ops.runtime import Component
from agent.updater.layout import Releases
from agent.updater.service import UpdateService
from agent.updater.trial import UpdateTrialWatch, report_rollback
from agent.uplink.uplink import Uplink
from agent.view import AgentControl
from agent.wiring.capability import BuildContext, Capability


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdaterCapability(Capability):
    service: UpdateService
    releases: Releases | None


def build(ctx: BuildContext, view: AgentControl, restart: Callable[[Path], None]) -> UpdaterCapability:
    releases = Releases.from_environment()
    now_iso = lambda: ctx.now().isoformat(timespec="seconds")  # noqa: E731
    service = UpdateService(ctx.config.update, ctx.config.broker.platform_public_key, ctx.config_path,
                            ctx.store, ctx.recorder, releases, view.version, restart, now_iso)
    if releases is not None:
        report_rollback(releases, ctx.store, ctx.recorder, view.version)
    return UpdaterCapability("updater", components=(service,), commands=service.handlers(),
                             service=service, releases=releases)


def attach(capability: UpdaterCapability, uplink: Uplink, view: AgentControl,
           restart: Callable[[Path], None]) -> tuple[Component, ...]:
    """Wire the download path to the uplink; the trial watch when this release is on trial."""
    service = capability.service
    service.attach(uplink.publish_request)
    uplink.downlink = service.on_downlink
    releases = capability.releases
    if releases is None:
        return ()
    trial = releases.trial()
    if trial is None:
        return ()
    if trial.version != view.version or releases.current() != trial.version:
        releases.end_trial()  # stale: the launcher undid it, or it never ran
        return ()
    now_iso = lambda: view.now().isoformat(timespec="seconds")  # noqa: E731
    return (UpdateTrialWatch(releases, trial, view.store, service.recorder, uplink.connected,
                             view.component_states, restart, now_iso, view.config.update.keep_releases),)
