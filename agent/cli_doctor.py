"""``canteen-agent doctor``: check this box against its config (exit 0 when nothing fails)."""

from __future__ import annotations

import argparse
import json

from agent.cli_common import DEFAULT_CONFIG
from agent.doctor import SERVICE_USER, DoctorOptions, format_table, run_checks


def cmd_doctor(args: argparse.Namespace) -> int:
    options = DoctorOptions(camera_seconds=args.camera_seconds, broker_timeout_s=args.timeout,
                            modbus_timeout_s=args.modbus_timeout, service_user=args.user)
    checks = run_checks(args.config, options)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2, ensure_ascii=False))
    else:
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
    p.set_defaults(fn=cmd_doctor)

