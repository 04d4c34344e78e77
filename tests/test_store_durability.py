"""Durability: a writer killed with SIGKILL at random moments loses no committed add.

Every id the writer printed (it prints only after ``add_record`` returned) must be in
the database afterwards; the database must pass ``integrity_check``; ``seq`` never
repeats and has no gaps across the kills.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROUNDS = 50


def run_round(db: Path, rng: random.Random) -> list[tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.store_writer", str(db)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while "ready\n" not in lines and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.005, 0.25))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(5)
    acknowledged = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2:  # a line cut by the kill was never a complete promise
            acknowledged.append((parts[0], int(parts[1])))
    return acknowledged


def test_sigkill_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    rng = random.Random(20261130)
    promised: dict[str, int] = {}
    for _ in range(ROUNDS):
        for record_id, seq in run_round(db, rng):
            promised[record_id] = seq
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = dict(conn.execute("SELECT id, seq FROM records").fetchall())
    missing = [i for i in promised if i not in stored]
    assert not missing, f"{len(missing)} committed records lost"
    assert all(stored[i] == s for i, s in promised.items())
    seqs = sorted(stored.values())
    assert seqs == list(range(1, len(seqs) + 1)), "seq repeated or skipped"
    outbox = {r[0] for r in conn.execute("SELECT id FROM outbox")}
    assert set(stored) == outbox  # every record still queued for the platform
    assert len(promised) > ROUNDS  # the kills really landed mid-stream
