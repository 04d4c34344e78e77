"""Modules that find files by their own location still find the repository after a move.

A module moved one folder deeper with ``parents[1]`` left in place points into its package:
the data-set tests then skip instead of failing, and the demo loses its config.
"""

from __future__ import annotations

from pathlib import Path

from simulator.demo import run as demo_run
from simulator.devices import cameras

REPO = Path(__file__).resolve().parents[1]


def test_modules_locate_the_repository_root() -> None:
    assert (REPO / "pyproject.toml").is_file()
    assert demo_run.REPO == REPO
    assert cameras.REPO == REPO
    assert cameras.DATASETS == REPO.parent / "shared" / "datasets"
