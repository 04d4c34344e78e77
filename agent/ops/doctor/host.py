"""The box itself: its clock's trust, the disk the store may fill, and the console's port."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import SERVICE_USER, Check, reason_of


def check_clock() -> Check:
    from agent.core.timeutil import clock_synced

    synced, source = clock_synced()
    if synced:
        return Check("clock", True, f"synchronised ({source})")
    return Check("clock", True, f"not synchronised ({source}): records will say clock.synced=false",
                 "enable NTP (sudo timedatectl set-ntp true) or fit an RTC module", warn=True)


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_disk(config: AgentConfig) -> list[Check]:
    store = config.store
    directory = store.path.parent
    base = _existing_parent(directory)
    checks = []
    if not os.access(base, os.W_OK):
        checks.append(Check("store dir", False, f"{directory} (or {base}) is not writable by this user",
                            f"sudo install -d -o {SERVICE_USER} -g {SERVICE_USER} -m 0750 {directory}"))
    used = sum(_tree_bytes(p) for p in (store.path, Path(f"{store.path}-wal"), store.media_dir))
    budget = int(store.disk_budget_mb * 1024 * 1024)
    free = shutil.disk_usage(base).free
    detail = (f"{base}: {free / 2**20:.0f} MB free; store uses {used / 2**20:.1f} MB "
              f"of a {store.disk_budget_mb:g} MB budget")
    if free + used < budget:
        checks.append(Check("disk", False, detail + f": the budget cannot be met ({(budget - used - free) / 2**20:.0f} MB short)",
                            "lower store.disk_budget_mb, free space, or use a larger card/disk"))
    elif used > 0.9 * budget:
        checks.append(Check("disk", True, detail + ": over 90% of the budget (oldest media and telemetry go first)",
                            "raise store.disk_budget_mb if space allows", warn=True))
    else:
        checks.append(Check("disk", True, detail))
    return checks


def check_console(config: AgentConfig, beside: bool, timeout_s: float = 2.0) -> Check:
    """The console's port: free for the agent to listen on, or (beside a running agent)
    answered by the agent's console. A port another program holds is named here."""
    cfg = config.console
    if not cfg.enabled:
        return Check("console", True, "disabled (console.enabled: false): no station screens, no manager pages",
                     warn=True)
    if cfg.held_to_loopback:
        return Check("console", False, f"{cfg.host}:{cfg.port} has no certificate: the console listens on "
                                       "127.0.0.1 only, so phones and tablets cannot reach it (passwords "
                                       "would cross the kitchen's network in clear)",
                     "make the box a certificate (config/certs/make-test-certs.sh -c NAME) and set "
                     "console.tls_cert_file and console.tls_key_file, or set console.host: 127.0.0.1")
    if cfg.port == 0:
        return Check("console", True, f"any free port on {cfg.host} (console.port: 0): the agent's log names it")
    where = f"{cfg.host}:{cfg.port}"
    who = f"ss -ltnp 'sport = :{cfg.port}' shows which program holds it"
    if beside:
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "") else "::1" if cfg.host == "::" else cfg.host
        try:
            socket.create_connection((host, cfg.port), timeout=timeout_s).close()
        except OSError as exc:
            return Check("console", False, f"nothing answers on {where} ({reason_of(exc)}): the agent could not "
                                           "listen there", f"{who}; stop it or set console.port, then restart")
        return Check("console", True, f"the agent's console answers on http://{where}/")
    try:
        with socket.create_server((cfg.host, cfg.port)):
            pass
    except OSError as exc:
        return Check("console", False, f"{where}: {reason_of(exc)}: another program listens there",
                     f"{who}; stop it or set console.port in the config")
    return Check("console", True, f"{where} is free for the console (station screens, manager pages)")


def check_public(config: AgentConfig, beside: bool, timeout_s: float = 2.0) -> list[Check]:
    """The public listener's port (社会端), when enabled: free, or answered by the running agent."""
    cfg = config.public
    if not cfg.enabled:
        return []
    if cfg.port == 0:
        return [Check("public", True, f"any free port on {cfg.host} (public.port: 0): the agent's log names it")]
    where = f"{cfg.host}:{cfg.port}"
    who = f"ss -ltnp 'sport = :{cfg.port}' shows which program holds it"
    if beside:
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "") else "::1" if cfg.host == "::" else cfg.host
        try:
            socket.create_connection((host, cfg.port), timeout=timeout_s).close()
        except OSError as exc:
            return [Check("public", False, f"nothing answers on {where} ({reason_of(exc)}): the public side "
                                           "could not listen there", f"{who}; stop it or set public.port, then restart")]
        return [Check("public", True, f"the public side answers on {where} (/public/)")]
    try:
        with socket.create_server((cfg.host, cfg.port)):
            pass
    except OSError as exc:
        return [Check("public", False, f"{where}: {reason_of(exc)}: another program listens there",
                      f"{who}; stop it or set public.port in the config")]
    return [Check("public", True, f"{where} is free for the public side (representatives, complaints, surveys)")]
