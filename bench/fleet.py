"""Fleet load: N simulated agents (one MQTT client each) against a local Mosquitto and
the reference platform in several processes; delivered records/s, latency, losses.

    ./dev.sh bench fleet [--agents 1000] [--duration 60] [--rate 0.5] [--platforms 2]

The same run as ``canteen-sim fleet``; exit 1 on any loss or an agent that never
became ready. See simulator/fleet.py for what each figure means.
"""

from __future__ import annotations

import argparse
import logging
import sys

from simulator import fleet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.fleet", description=__doc__.splitlines()[0])
    fleet.add_arguments(parser)
    parser.set_defaults(agents=1000, duration=60.0)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return fleet.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
