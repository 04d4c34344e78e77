"""Serial ports and HID input devices: present, a character device, and open to the agent's user."""

from __future__ import annotations

import grp
import os
import pwd
import stat

from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import SERVICE_USER, Check


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_groups(user: str) -> set[int] | None:
    """Group ids of ``user`` (primary + supplementary), None if no such user."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}


def check_device_path(name: str, path: str, service_user: str = SERVICE_USER) -> Check:
    """Exists, is a character device, and this user (or the service user, when run as
    root) may open it read-write through its owning group."""
    if not os.path.exists(path):
        hint = ("ls -l /dev/input/by-id/ and plug the reader in" if path.startswith("/dev/input")
                else "plug the adapter in, or correct the path (ls -l /dev/serial/by-id/)")
        return Check(name, False, f"{path} does not exist", hint)
    real = os.path.realpath(path)
    info = os.stat(real)
    if not stat.S_ISCHR(info.st_mode):
        return Check(name, False, f"{path} -> {real} is not a character device", "point port at the device node")
    group = _group_name(info.st_gid)
    where = f"{path}" + (f" -> {real}" if real != path else "") + f" (group {group})"
    if os.geteuid() == 0:
        groups = _user_groups(service_user)
        if groups is None:  # one "service user" row says so (check_service_user), not one per port
            return Check(name, True, f"{where}; running as root: no user {service_user!r} whose access to check")
        if info.st_gid not in groups and info.st_mode & 0o006 != 0o006:
            return Check(name, False, f"{where}: user {service_user} is not in group {group}",
                         f"sudo usermod -aG {group} {service_user} && sudo systemctl restart canteen-agent")
        return Check(name, True, f"{where}: {service_user} may open it")
    if not os.access(real, os.R_OK | os.W_OK):
        member = info.st_gid in os.getgroups() or info.st_gid == os.getegid()
        fix = (f"sudo usermod -aG {group} $USER, then log in again" if not member
               else f"check the mode of {real} (ls -l {real}); a udev rule may be needed")
        return Check(name, False, f"{where}: no read/write permission for this user", fix)
    return Check(name, True, f"{where}: readable and writable")


def check_service_user(service_user: str = SERVICE_USER) -> list[Check]:
    """Run as root, the port checks answer for the service user: say once if it is missing."""
    if os.geteuid() != 0 or _user_groups(service_user) is not None:
        return []
    return [Check("service user", True, f"running as root and there is no user {service_user!r}: "
                                        "port permissions are not checked for the agent",
                  "install the service (sudo systemd/install.sh install) to create it, or pass --user", warn=True)]


def check_serial_ports(config: AgentConfig, service_user: str = SERVICE_USER) -> list[Check]:
    return [check_device_path(f"serial {d.id}", d.port, service_user) for d in config.devices]
