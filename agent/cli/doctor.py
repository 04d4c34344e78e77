"""``canteen-agent doctor``: check this box against its config (exit 0 when nothing fails).

An installer runs it on a live box, with the service up. When an agent runs on this config's
store (it holds ``<store>.lock``, ``agent.ops.lock``), the doctor runs beside it as the
console's installer page does: ports looked at, not opened; Modbus and cameras not touched,
their rows from the agent's store; the broker to TLS only (a CONNECT with the agent's
credentials would throw it off the broker). ``--force-probe`` probes anyway, with a warning.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from agent.cli.common import DEFAULT_CONFIG
from agent.config_file.loader import ConfigError, load_config
from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import SERVICE_USER, DoctorOptions, StoredHealth, format_table
from agent.ops.doctor.run import run_checks
from agent.ops.lock import LockHolder, running_agent
from agent.redact import redact_text

BESIDE = ("ports, Modbus and cameras not opened; their state is the agent's own health, "
          "broker checked to TLS only")


def stored_health(config: AgentConfig) -> StoredHealth:
    """The running agent's device health as its store has it (its open offline alarms); never
    creates a store where there is none."""
    from agent.store import Store, store_problem

    try:
        config.store.path.stat()
    except FileNotFoundError:
        return StoredHealth({}, f"no store at {config.store.path}")
    except OSError as exc:
        return StoredHealth({}, f"cannot read the store {config.store.path}: {os.strerror(exc.errno or 0)} "
                                "(run as the service user or root)")
    if (problem := store_problem(config.store.path)) is not None:
        return StoredHealth({}, problem)
    try:
        with Store(config.store.path, config.store.media_dir) as store:
            return StoredHealth.from_open_alarms(dict(row) for row in store.open_alarms())
    except Exception as exc:  # noqa: BLE001 - unreadable (permissions, a damaged file): the rows say so
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoredHealth({}, f"cannot read the store {config.store.path}: {reason} "
                                "(run as the service user or root)")


def mode_line(holder: LockHolder, force: bool) -> str:
    """The one line above the table that says how the doctor ran, and why."""
    if holder.running is None:
        who = (f"cannot tell whether an agent runs ({holder.reason}; run as the service user or root), "
               "so as if it did")
    else:
        who = f"agent running (pid {holder.pid})" if holder.pid else "agent running"
    if not force:
        return f"{who}: {BESIDE}; --force-probe probes them anyway"
    return (f"WARNING: {who}, and --force-probe: the doctor opens its serial ports and cameras, polls its "
            "Modbus lines as a second master (garbling the agent's polls meanwhile), and its MQTT CONNECT "
            "throws the agent off the broker until it reconnects (its queued commands are kept)")


def cmd_doctor(args: argparse.Namespace) -> int:
    options = DoctorOptions(camera_seconds=args.camera_seconds, broker_timeout_s=args.timeout,
                            modbus_timeout_s=args.modbus_timeout, service_user=args.user)
    line = ""
    try:
        config = load_config(args.config)
    except ConfigError:
        config = None  # the config row says what is wrong; nothing else runs
    if config is not None:
        holder = running_agent(config.store.path)
        if holder.running is not False:  # running, or cannot tell: the kitchen's devices come first
            line = mode_line(holder, args.force_probe)
            if not args.force_probe:
                options.stored_health = stored_health(config)
    checks = run_checks(args.config, options)
    if args.json:
        if line:
            print(redact_text(line), file=sys.stderr)
        print(json.dumps([c.as_dict() for c in checks], indent=2, ensure_ascii=False))
    else:
        if line:
            print(redact_text(line))
        print(format_table(checks))
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def extend(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check config, ports, Modbus, cameras, broker, clock, disk, models")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--json", action="store_true", help="one object per check instead of the table")
    p.add_argument("--camera-seconds", type=float, default=2.0, help="read each camera this long")
    p.add_argument("--timeout", type=float, default=5.0, help="broker connect/CONNACK timeout (s)")
    p.add_argument("--modbus-timeout", type=float, default=None,
                   help="reply timeout per Modbus request (default: each bus's own)")
    p.add_argument("--user", default=SERVICE_USER,
                   help="when run as root: the service user whose groups are checked")
    p.add_argument("--force-probe", action="store_true",
                   help="open the ports, poll Modbus, open cameras and CONNECT even while the agent runs "
                        "(disturbs it: a second master on its RS-485 lines, its MQTT session thrown off)")
    p.set_defaults(fn=cmd_doctor)
