"""Registers ``canteen-sim fleet`` (simulator/fleet.py) with the simulator CLI."""

from simulator.cli import _EXTENSIONS
from simulator.fleet import extend

_EXTENSIONS.append(extend)
