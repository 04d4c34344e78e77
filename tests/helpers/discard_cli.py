"""The manager's terminal for the discard race test: a process on the agent's store that
confirms a batch discarded, as ``canteen-agent discard-samples`` does, for each ``D M``
line read on stdin, the moment it is read, and prints the outcome (one JSON line each).

The store, the Recorder and the imports are set up once, before ``ready``, so the
confirmation races the agent's with the part that matters (the check and the write),
not with the interpreter's start-up, which would let the agent finish first every time.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime

from agent.cli.schedule import CLI_SOURCE, _open
from agent.config_file.loader import load_config
from agent.core.recorder import Recorder
from agent.schedule.discard import DiscardRefused, discard


class _Late(logging.Handler):
    """Counts the confirmations refused by the store's transaction, after the check passed."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += record.getMessage().startswith("record not saved type=sample_discard")


def main() -> None:
    late = _Late()
    logging.getLogger("agent.recorder").addHandler(late)
    logging.getLogger("agent.recorder").setLevel(logging.INFO)
    config = load_config(sys.argv[1])
    tz = config.identity.tz
    with _open(config) as store:
        recorder = Recorder(config, store, lambda: datetime.now(tz))
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        for line in sys.stdin:
            day, meal = line.split()
            before = late.count
            try:
                saved = discard(store, recorder, config, date.fromisoformat(day), meal, datetime.now(tz),
                                source=CLI_SOURCE, operator=None)
                said = {"saved": saved.id}
            except DiscardRefused as refused:
                said = {"refused": refused.reason, "message": str(refused), "late": late.count > before}
            sys.stdout.write(json.dumps(said) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
