"""One ``sample_discard`` per batch, whatever the interleaving of two processes.

The manager confirms a batch from the command line (its own process on the same store)
while the console's page confirms it inside the agent, at the same instant: exactly one
record is stored and queued for the platform, the batch's confirmation names that
record, and the other side hears "already confirmed", having written nothing.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date, timedelta

import pytest

from agent.config_file.loader import load_config
from agent.console.pages_meals import CONSOLE_SOURCE
from agent.records.envelope import Operator
from agent.schedule.discard import DiscardRefused, discard, discard_key
from tests.conftest import REPO
from tests.fixtures_schedule import DAY, Canteen, at, write_config_yaml

# 30 races: before the fix (check, then write) nearly every one stored two records
BATCHES = [(DAY - timedelta(days=back), meal) for back in range(10) for meal in ("breakfast", "lunch", "dinner")]
LATE = "record not saved type=sample_discard"  # the Recorder: refused by the store's transaction


@pytest.fixture
def cli(tmp_path):
    """The manager's terminal: a process that confirms a batch the moment it is told to."""
    path = write_config_yaml(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.discard_cli", str(path)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    yield path, proc
    proc.stdin.close()
    assert proc.wait(30) == 0


def race(proc: subprocess.Popen[str], canteen: Canteen, day: date, meal: str) -> tuple[str, dict]:
    """Both confirm one batch at once: the page's outcome and what the command said."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{day.isoformat()} {meal}\n")
    proc.stdin.flush()  # the command starts now, and the page at once too
    try:
        discard(canteen.store, canteen.recorder, canteen.config, day, meal, at("12:00", DAY + timedelta(days=3)),
                source=CONSOLE_SOURCE, operator=Operator(staff_id="boss"), discarded_by="李四")
        page = "saved"
    except DiscardRefused as refused:
        page = refused.reason
    return page, json.loads(proc.stdout.readline())


def test_a_cli_and_a_page_discarding_one_batch_at_once_write_one_record(cli, caplog) -> None:
    path, proc = cli
    caplog.set_level(logging.INFO, logger="agent.recorder")
    canteen = Canteen(load_config(str(path)), at("20:00"))
    try:
        for day, meal in BATCHES:  # each batch long past its keep time
            canteen.sample(meal, "米饭", at("11:40", day))
        page_won = cli_late = 0
        for day, meal in BATCHES:
            page, said = race(proc, canteen, day, meal)
            assert (page == "saved") != ("saved" in said), f"{meal} {day}: page {page}, command {said}"
            if page == "saved":
                assert said["refused"] == "already" and said["message"].startswith("already confirmed"), said
            else:
                assert page == "already", f"{meal} {day}: page refused {page}"
            page_won += page == "saved"
            cli_late += said.get("late", False)

        records = {(r["data"]["sampled_on"], r["data"]["meal"]): r["id"]
                   for r in canteen.store.iter_records(type_="sample_discard")}
        assert len(records) == len(list(canteen.store.iter_records(type_="sample_discard"))) == len(BATCHES)
        assert sorted(records) == sorted((d.isoformat(), m) for d, m in BATCHES)  # one each, no more
        queued = canteen.store.query("SELECT id FROM outbox WHERE ref = 'sample_discard'")
        assert sorted(r[0] for r in queued) == sorted(records.values())  # the uplink sends each once
        for (day_text, meal), record_id in records.items():
            assert canteen.store.kv_get(discard_key(day_text, meal))["record_id"] == record_id
        # the race was really run: losers that had passed the check, refused by the transaction
        page_late = sum(m.startswith(LATE) for m in caplog.messages)
        assert page_late + cli_late >= 1, "no discard passed the check while the other wrote: no race"
        print(f"page won {page_won} of {len(BATCHES)}; refused by the transaction: "
              f"page {page_late}, command line {cli_late}")
    finally:
        canteen.stop()
