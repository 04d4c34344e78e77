"""``canteen-agent doctor``: is this box ready to run the agent? One table, each failure with its fix.

Checks, in order: the config file; each serial port (exists, is a device, readable and
writable by this user, the owning group such as dialout); each Modbus device answering
one read of its profile; each camera opening and its frame rate; the broker (TCP, TLS
verified against the configured CA, a real MQTT CONNECT); the console's port; the clock; disk space
against the store's budget; the vision models' sha256 against the manifest.

Each check is a small function returning ``Check`` rows; nothing here changes the
box. Beside a running agent only what cannot disturb it runs: ports are looked at but not
opened, Modbus devices are not polled and cameras not opened, the broker is reached over TCP
and TLS without an MQTT CONNECT (it would take over the agent's session). The rows for those
are the agent's own health: its live states on the console's installer page
(``DoctorOptions.live_devices``), the offline alarms open in its store from the command line
(``DoctorOptions.stored_health``; ``agent.cli.doctor`` finds the running agent by its lock,
``agent.ops.lock``). The full CONNECT, when the agent is stopped, never starts a clean
session (``agent.ops.doctor.broker``). Run it as the service user (``sudo -u canteen canteen-agent
doctor``) so the permission checks answer for the agent, or as root, which also checks the
service user's groups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from agent.config_file.loader import ConfigError, load_config
from agent.config_file.model import AgentConfig
from agent.ops.doctor.beside import (
    live_camera_checks,
    live_modbus_checks,
    live_mqtt_row,
    stored_camera_checks,
    stored_modbus_checks,
)
from agent.ops.doctor.broker import check_broker
from agent.ops.doctor.cameras import check_cameras, check_models
from agent.ops.doctor.checks import Check, DoctorOptions, reason_of
from agent.ops.doctor.gb28181 import gb28181_checks
from agent.ops.doctor.host import check_clock, check_console, check_disk, check_public
from agent.ops.doctor.modbus import check_modbus
from agent.ops.doctor.ports import check_serial_ports, check_service_user
from agent.redact import redact_text

log = logging.getLogger("agent.doctor")


# --- config --------------------------------------------------------------------------


def check_config(path: str | Path | AgentConfig) -> tuple[Check, AgentConfig | None]:
    if isinstance(path, AgentConfig):  # a running agent started without a file (tests, embedding)
        return Check("config", True, f"the running agent's config (no file): agent {path.identity.agent_id} "
                                     f"({_counts(path)})"), path
    try:
        config = load_config(path)
    except ConfigError as exc:
        first = str(exc).strip().splitlines()
        return Check("config", False, " / ".join(first[:3]),
                     f"fix {path} (canteen-agent check-config {path} shows every error)"), None
    return Check("config", True, f"{path}: valid, agent {config.identity.agent_id} ({_counts(config)})"), config


def _counts(config: AgentConfig) -> str:
    return (f"{len(config.devices)} serial, {sum(len(b.devices) for b in config.modbus)} Modbus, "
            f"{len(config.cameras)} cameras")


# --- all of it --------------------------------------------------------------------------------


def check_version(config: AgentConfig) -> list[Check]:
    """The version this doctor runs (the launcher's release in force) and the last remote
    update's outcome as the agent's store has it (read-only)."""
    import sqlite3
    from importlib.metadata import PackageNotFoundError, version

    from agent.store import read_kv

    try:
        running = version("canteen-agent")
    except PackageNotFoundError:
        running = "0+unknown"
    rows = [Check("version", True, f"canteen-agent {running}")]
    try:
        last = read_kv(Path(config.store.path), "update_last")
    except sqlite3.Error as exc:
        return rows + [Check("last update", True, f"cannot read the store: {exc}", warn=True)]
    if not last:
        return rows + [Check("last update", True, "no remote update yet")]
    outcome, version = last.get("outcome"), last.get("version")
    when = str(last.get("at") or "")[:16].replace("T", " ")
    if outcome == "committed":
        took = f" in {last['seconds']:.0f} s" if last.get("seconds") is not None else ""
        return rows + [Check("last update", True, f"{version} committed {when}{took}")]
    if outcome == "trial":
        return rows + [Check("last update", True, f"{version} installed {when}, on trial", warn=True)]
    fix = "see the agent_update record and the journal; send the update again once the cause is fixed"
    return rows + [Check("last update", True, f"{version} {str(outcome).replace('_', ' ')} {when}: "
                                              f"{last.get('reason') or 'no reason given'}", fix, warn=True)]


def run_checks(config_path: str | Path | AgentConfig, options: DoctorOptions | None = None) -> list[Check]:
    """Every check in order; ``config_path`` may be the running agent's config (no file)."""
    options = options or DoctorOptions()
    first, config = check_config(config_path)
    if config is None:
        return [first]
    config_dir = None if isinstance(config_path, AgentConfig) else Path(config_path).resolve().parent
    live, stored = options.live_devices, options.stored_health
    beside = live is not None or stored is not None
    steps: list[tuple[str, Callable[[], Iterable[Check]]]] = [
        ("service user", lambda: check_service_user(options.service_user)),
        ("serial", lambda: check_serial_ports(config, options.service_user)),
    ]
    if live is not None:  # the agent owns them: what it sees, not a second master on the line
        steps += [("modbus", lambda: live_modbus_checks(config, live, options.service_user)),
                  ("cameras", lambda: live_camera_checks(config, live))]
    elif stored is not None:  # ... seen from another process: what its store says
        steps += [("modbus", lambda: stored_modbus_checks(config, stored, options.service_user)),
                  ("cameras", lambda: stored_camera_checks(config, stored))]
    else:
        steps += [("modbus", lambda: check_modbus(config, config_dir, options)),
                  ("cameras", lambda: check_cameras(config, options.camera_seconds))]
    if not beside:
        steps.append(("broker", lambda: check_broker(config, options.broker_timeout_s)))
    else:
        unknown_fix = "" if live is not None else "the console's installer doctor shows the agent's own session"
        steps.append(("broker", lambda: [*check_broker(config, options.broker_timeout_s, mqtt_connect=False),
                                         live_mqtt_row(options.agent_connected, unknown_fix)]))
    steps.append(("console", lambda: [check_console(config, beside)]))
    steps.append(("public", lambda: check_public(config, beside)))
    steps.append(("gb28181", lambda: gb28181_checks(config.video.gb28181, options.gb28181, beside)))
    steps += [
        ("clock", lambda: [check_clock()]),
        ("disk", lambda: check_disk(config)),
        ("models", lambda: check_models(config)),
        ("version", lambda: check_version(config)),
    ]
    checks = [first]
    # pymodbus's ERROR lines would repeat the rows in raw form; beside the agent nothing is polled
    # and the process-wide logger stays as the agent set it
    quiet = logging.getLogger("pymodbus")
    level = quiet.level
    if not beside:
        quiet.setLevel(logging.CRITICAL)
    try:
        for label, step in steps:
            try:
                checks += list(step())
            except Exception as exc:  # noqa: BLE001 - a doctor that crashes tells nothing
                log.debug("doctor check %s crashed", label, exc_info=True)
                checks.append(Check(label, False, f"check could not run: {reason_of(exc)}",
                                    "report this as a bug, with the row"))
    finally:
        quiet.setLevel(level)
    # whatever a check or a library put in its text, no URL credentials leave the doctor
    return [replace(c, detail=redact_text(c.detail), fix=redact_text(c.fix)) for c in checks]

