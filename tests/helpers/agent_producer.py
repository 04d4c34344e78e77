"""An agent process for the uplink tests: runs the real Agent (with its uplink) and a
producer adding records; prints each record id only after its add has returned.

    python -m tests.helpers.agent_producer CONFIG COUNT [RATE_PER_S]

Already-produced records are not produced again after a restart: the producer
continues from the count of its own kinds it finds in the store, so a run killed and
restarted many times produces exactly COUNT records in total. (Not from the store's
seq: the agent writes records of its own too, a daily ledger after 23:55 among them.)
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from tests.helpers import local_time

PRODUCED = ("staff_health_check", "food_sample")


def main() -> None:
    local_time.install()
    config_path, total = sys.argv[1], int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    agent = Agent(load_config(config_path), config_path=config_path)
    agent.start()
    done = agent.store.query("SELECT count(*) FROM records WHERE type IN (?, ?)", PRODUCED)[0][0]
    sys.stdout.write(f"ready {done}\n")
    sys.stdout.flush()
    for n in range(done, total):
        now = agent.now()
        if n % 5 == 0:  # mix classes: health checks jump the queue
            data = StaffHealthCheck(staff_id=f"S{n % 40}", temperature_c=36.6, normal_range_c=(35.9, 37.3))
        else:
            data = FoodSample(meal="lunch", dish=f"dish {n}", grams=130, min_grams=125, sampled_at=now,
                              kept_until=now + timedelta(hours=48))
        saved = agent.recorder.record(data)
        sys.stdout.write(f"saved {saved.id} {saved.seq}\n")
        sys.stdout.flush()
        if rate:
            time.sleep(1 / rate)
    sys.stdout.write("produced\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
