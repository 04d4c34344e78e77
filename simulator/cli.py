"""``canteen-sim``: simulators around the agent (platform, devices, Modbus, cameras, demo, kitchen).

Each simulator's subcommand is one function ``extend(subparsers)`` listed in
``SUBCOMMANDS`` below; it imports its simulator only when called (so ``canteen-sim
--help`` stays light), adds a subparser and sets ``fn`` to a callable taking the
parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

Extension = Callable[[Any], None]  # extend(subparsers) -> None


def _platform(subparsers: Any) -> None:
    from simulator.platform import platform

    p = subparsers.add_parser("platform", help="reference platform: receive, validate, store, ack",
                              description=platform.__doc__.splitlines()[0].replace("``", ""))
    platform.add_arguments(p)
    p.set_defaults(fn=platform.run)


def _demo(subparsers: Any) -> None:
    from simulator.demo import run as demo

    demo.extend(subparsers)


def _kitchen(subparsers: Any) -> None:
    from simulator.demo import open_kitchen

    open_kitchen.extend(subparsers)


def _fleet(subparsers: Any) -> None:
    from simulator import fleet

    fleet.extend(subparsers)


def _modbus(subparsers: Any) -> None:
    from simulator.devices import modbus_cli

    modbus_cli.extend(subparsers)


SUBCOMMANDS: tuple[Extension, ...] = (_platform, _demo, _kitchen, _modbus, _fleet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canteen-sim", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for extend in SUBCOMMANDS:
        extend(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
