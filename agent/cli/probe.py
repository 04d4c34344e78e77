"""``canteen-agent probe``: find what answers on a Modbus line (drivers.modbus.probe).

The probe parses its own options (``canteen-agent probe --help`` shows them), so this
subcommand hands every argument after ``probe`` to it unchanged.
"""

from __future__ import annotations

import argparse


def cmd_probe(args: argparse.Namespace) -> int:
    from drivers.modbus.probe import main as probe_main

    return probe_main(args.probe_args)


def extend(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # prefix_chars="+": no option of ours, so --port, --baud ... all reach the probe's parser
    p = subparsers.add_parser("probe", help="scan a Modbus line or gateway for devices (--port PORT)",
                              add_help=False, prefix_chars="+")
    p.add_argument("probe_args", nargs=argparse.REMAINDER, help="options of the probe (see probe --help)")
    p.set_defaults(fn=cmd_probe)

