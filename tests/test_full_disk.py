"""A full disk at a station: the person is told "not saved", storage_failed is held and saved later.

The store lives on a real, small tmpfs filled to the last byte (``mount -t tmpfs -o size=``,
as root); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.core.storage_alarm import ALARM, StorageWatch
from agent.stations.base import NOT_SAVED
from tests.fixtures_serial_stations import LI, ZHANG, Rig, station_config

STATION = {"kind": "morning_check", "badge": "badge-1", "thermometer": "thermo-1"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem refuses one more byte (ENOSPC)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def rig(small_disk: Path, morning) -> Iterator[tuple[Rig, Path]]:
    rig = Rig(station_config(small_disk, STATION), morning)
    yield rig, small_disk
    with contextlib.suppress(Exception):
        rig.close()


def alarms(rig: Rig) -> list[dict]:
    return [a for a in rig.records("alarm") if a["data"]["kind"] == ALARM]


def test_full_disk_tells_the_person_and_saves_storage_failed_once_it_can(rig) -> None:
    rig, disk = rig
    filler = fill(disk)
    rig.badge(ZHANG)
    rig.temperature(36.5)  # the commit fails: no traceback out of the workflow (Rig asserts it)
    assert rig.last_said() == NOT_SAVED and rig.screen.messages[-1].level == "error"
    assert rig.records("staff_health_check") == []
    held = rig.recorder.storage.pending
    assert held is not None and held.failed_writes == 1 and "full" in held.error
    assert alarms(rig) == []  # it cannot be stored yet: held in memory

    filler.unlink()  # the manager frees space; no restart
    rig.advance(60)
    rig.badge(LI)
    rig.temperature(36.6)
    assert "36.6 °C" in rig.last_said()
    raised, cleared = alarms(rig)
    [check] = rig.records("staff_health_check")
    assert (raised["data"]["state"], cleared["data"]["state"]) == ("raised", "cleared")
    assert raised["seq"] < cleared["seq"] < check["seq"]  # the platform hears it first, in order
    assert raised["occurred_at"] == cleared["data"]["details"]["first_failure_at"]
    assert raised["data"]["severity"] == "critical" and raised["data"]["details"]["failed_writes"] == 1
    assert rig.recorder.storage.pending is None
    assert rig.store.open_alarms() == []


def test_held_alarm_is_saved_when_nobody_writes(rig) -> None:
    rig, disk = rig
    filler = fill(disk)
    rig.badge(ZHANG)
    rig.temperature(36.5)
    assert rig.last_said() == NOT_SAVED
    filler.unlink()
    stop = threading.Event()
    watch = threading.Thread(target=StorageWatch(rig.recorder.flush_storage_failure, every_s=0.05).run, args=(stop,))
    watch.start()
    try:
        deadline = time.monotonic() + 5
        while len(alarms(rig)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watch.join()
    assert [a["data"]["state"] for a in alarms(rig)] == ["raised", "cleared"]
    assert os.path.exists(rig.store.path)
