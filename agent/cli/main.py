"""``canteen-agent``: run the agent and inspect its state.

Each subcommand is a small function; the heavy lifting lives in the modules it calls.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import signal
import sys
import unicodedata
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agent.cli import doctor, probe, schedule, stock, users, vision
from agent.cli.common import (
    DEFAULT_CONFIG,
    EXIT_INVALID_CONFIG,
    load_or_exit,
    require_agent_store,
)
from agent.config_file.loader import ConfigError, load_config
from agent.ops.logging_setup import setup_logging, stderr_handler
from agent.ops.runtime import TERMINATING
from agent.version import agent_version
from agent.words.alarms import title as alarm_title
from agent.words.terms import AGENT_PARTS, OUTBOX_CLASSES, RECORD_KEYS, Term, meal, room, term

if TYPE_CHECKING:
    from agent.store import Store


_load = load_or_exit


def cmd_run(args: argparse.Namespace) -> int:
    from agent.app import Agent
    from agent.ops.lock import AgentAlreadyRunning

    while True:  # a set_config command ends one run with a reload request
        config = _load(args.config)
        setup_logging(config.logging.level, config.logging.format)
        agent = Agent(config, config_path=Path(args.config))
        try:
            agent.run_forever()
        except AgentAlreadyRunning as exc:  # nothing was started: close the store and say who runs
            agent.stop()
            print(f"canteen-agent run: {exc}", file=sys.stderr)
            return 1
        if agent.restart_into is not None and not TERMINATING.is_set():
            _exec_launcher(agent.restart_into, args.config)
        if not agent.reload_requested or TERMINATING.is_set():
            return 0


def _exec_launcher(launcher: Path, config: str) -> None:
    """Become the release now in force (a remote update installed or undid one): the same
    process, so systemd keeps its main PID and the watchdog; the store's lock was released."""
    import os

    logging.getLogger("agent.cli").warning("restarting through %s", launcher)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(launcher, [str(launcher), "run", "--config", config])


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID_CONFIG
    counts = (f"{len(config.devices)} serial devices, {sum(len(b.devices) for b in config.modbus)} "
              f"Modbus devices on {len(config.modbus)} buses, {len(config.cameras)} cameras")
    print(f"{args.file}: valid ({config.identity.agent_id}: {counts})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from agent.records.schema_export import write_schemas

    written = write_schemas(Path(args.out))
    print(f"wrote {len(written)} schemas to {args.out}")
    return 0


def _open_store(args: argparse.Namespace) -> Store:
    """The agent's store for a read-only command; never creates one where there is none."""
    from agent.store import Store

    if args.db:
        path, media = Path(args.db), None
    else:
        config = _load(args.config)
        path, media = config.store.path, config.store.media_dir
    require_agent_store(path)
    return Store(path, media)




def cmd_records(args: argparse.Namespace) -> int:
    delivered = {"delivered": True, "pending": False, "any": None}[args.state]
    with _open_store(args) as store:
        rows = store.iter_records(type_=args.type, day=args.day, verdict=args.verdict,
                                  delivered=delivered, limit=args.limit)
        if args.format == "jsonl":
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
        elif args.format == "csv":
            _write_csv(rows, sys.stdout)
        else:
            _print_table(rows)
    return 0


_CSV_COLUMNS = ["seq", "id", "type", "occurred_at", "verdict", "findings", "kind", "state", "staff_id",
                "device_id", "delivered_at", "data"]


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": row["seq"], "id": row["id"], "type": row["type"], "occurred_at": row["occurred_at"],
        "verdict": row.get("verdict") or "", "findings": ";".join(row.get("findings", [])),
        "kind": row["data"].get("kind", "") if row["type"] == "alarm" else "",
        "state": row["data"].get("state", "") if row["type"] == "alarm" else "",
        "staff_id": (row.get("operator") or {}).get("staff_id") or row["data"].get("staff_id", ""),
        "device_id": (row.get("source") or {}).get("device_id", ""),
        "delivered_at": row.get("_delivered_at") or "",
        "data": json.dumps(row["data"], ensure_ascii=False),
    }


def _write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    out.write("\ufeff")  # UTF-8 with a BOM, as the console's export: Excel then reads the Chinese
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(_flat(row))


def _print_table(rows: Iterable[dict[str, Any]]) -> None:
    print(f"{'seq':>7}  {'occurred':19}  {'type':24} {'verdict':7}  {'sent':4}  findings / alarm")
    for row in rows:
        flat = _flat(row)
        sent = "yes" if flat["delivered_at"] else "no"
        what = f"{flat['state']}: {alarm_title(flat['kind'])}" if flat["kind"] else flat["findings"]
        print(f"{flat['seq']:>7}  {flat['occurred_at'][:19]:19}  {flat['type']:24} "
              f"{flat['verdict']:7}  {sent:4}  {what}")


def _record_type(text: str) -> str:
    from agent.records.registry import RECORD_TYPES

    if text not in RECORD_TYPES:
        raise argparse.ArgumentTypeError(f"unknown record type {text!r}; one of: {', '.join(sorted(RECORD_TYPES))}")
    return text


def _iso_day(text: str) -> str:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD (e.g. 2026-12-01), got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def cmd_status(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        depth = store.outbox_depth()
        usage = store.disk_usage_bytes()
        alarms = store.open_alarms()
        report: dict[str, Any] = {
            "outbox": {d.priority.name.lower(): {"pending": d.count, "oldest": d.oldest} for d in depth},
            "disk_bytes": usage,
            "last_seq": store.last_seq(),
            "open_alarms": [{"kind": a["kind"], "subject": _public_subject(json.loads(a["subject"])),
                             "since": a["raised_at"]} for a in alarms],
            "version": agent_version(),
            "last_update": store.kv_get("update_last", None),
        }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print("待发送 outbox（待发 pending，最早 oldest）:")
    for name, entry in report["outbox"].items():
        label = str(term(OUTBOX_CLASSES, name))
        print(f"  {label}{' ' * max(1, 22 - _width(label))}{entry['pending']:>8}  {(entry['oldest'] or '-')[:19]}")
    print(f"磁盘 disk: 数据库 database {usage['database'] / 1e6:.1f} MB，"
          f"照片视频 media {usage['media'] / 1e6:.1f} MB")
    print(f"最新序号 last seq: {report['last_seq']}")
    print(f"版本 version: {report['version']}")
    last = report["last_update"]
    if last:
        reason = f": {last['reason']}" if last.get("reason") else ""
        print(f"最近升级 last update: {last.get('version')} {str(last.get('outcome')).replace('_', ' ')} "
              f"{str(last.get('at') or '')[:16].replace('T', ' ')}{reason}")
    else:
        print("最近升级 last update: 无 none")
    print(f"未处理告警 open alarms: {len(alarms)}")
    for alarm in report["open_alarms"]:
        print(f"  {alarm['since'][:16].replace('T', ' ')}  {alarm_title(alarm['kind'])}"
              f"  {_subject_text(alarm['subject'])}".rstrip())
    return 0


def _public_subject(subject: dict[str, str]) -> dict[str, str]:
    """An alarm's subject without who it is about: a staff id beside "fever" is health data."""
    return {k: ("(staff member)" if k == "staff_id" else v) for k, v in subject.items()}


SUBJECT_WORDS = {"staff_id": Term("员工", ""), "device_id": Term("设备", "device"), "camera_id": Term("摄像头", "camera"),
                 "meal": Term("餐次", "meal"), "day": Term("日期", "day"), "room": Term("房间", "room"),
                 "track_id": Term("目标", "track")}


def _subject_text(subject: dict[str, str]) -> str:
    """``餐次 meal 午餐 lunch, 日期 day 2026-12-01``: readable, in the subject's own order."""
    parts = []
    for key, value in subject.items():
        if key in RECORD_KEYS:
            continue
        shown = str(meal(value)) if key == "meal" else str(room(value)) if key == "room" else value
        if key == "device_id" and value in AGENT_PARTS:
            parts.append(str(AGENT_PARTS[value]))
            continue
        parts.append(f"{SUBJECT_WORDS.get(key, Term(key, ''))} {shown}")
    return ", ".join(parts)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cmd_version(args: argparse.Namespace) -> int:
    print(f"canteen-agent {agent_version()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canteen-agent", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"canteen-agent {agent_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the agent")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("check-config", help="validate a config file (exit 0 valid, 2 invalid)")
    p.add_argument("file")
    p.set_defaults(fn=cmd_check_config)

    p = sub.add_parser("schema", help="write the JSON Schema of every record type")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_schema)

    for name, fn, text in (("records", cmd_records, "list and export stored records"),
                           ("status", cmd_status, "outbox, disk and alarms from the store")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", default=DEFAULT_CONFIG)
        p.add_argument("--db", help="open this database instead of the config's")
        p.set_defaults(fn=fn)
        if name == "records":
            p.add_argument("--type", type=_record_type, help="record type, e.g. food_sample, alarm")
            p.add_argument("--day", type=_iso_day, help="YYYY-MM-DD (local)")
            p.add_argument("--verdict", choices=["pass", "fail", "warn"])
            p.add_argument("--state", choices=["any", "delivered", "pending"], default="any")
            p.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
            p.add_argument("--limit", type=_positive_int, help="at most this many records (1 or more)")
        else:
            p.add_argument("--json", action="store_true")

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(fn=cmd_version)
    for extend in SUBCOMMANDS:
        extend(sub)
    return parser


# The subcommands of the other modules, in help order (each adds its parser and ``fn``).
SUBCOMMANDS = (doctor.extend, probe.extend, schedule.extend, stock.extend, vision.extend, users.extend)


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a tool whose reader went away


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, handlers=[stderr_handler()])
    try:
        return int(args.fn(args) or 0)
    except BrokenPipeError:
        # ``records … | head``: the reader has all it wanted; no traceback, and nothing more
        # to flush into the closed pipe when Python exits
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE

