"""A writer process for the durability test: adds records from several threads and
prints each id and seq only after its add has returned (i.e. committed)."""

from __future__ import annotations

import sys
import threading
import uuid

from agent.store import Priority, RecordDraft, Store


def draft() -> RecordDraft:
    record_id = str(uuid.uuid4())
    envelope = {"id": record_id, "v": 1, "type": "food_sample", "occurred_at": "2026-11-30T07:00:00.000+08:00",
                "recorded_at": "2026-11-30T07:00:00.000+08:00", "data": {"grams": 130}}
    return RecordDraft(envelope, Priority.RECORD, "2026-11-30")


def main() -> None:
    store = Store(sys.argv[1])
    lock = threading.Lock()

    def produce() -> None:
        while True:
            saved = store.add_record(draft())
            with lock:
                sys.stdout.write(f"{saved.id} {saved.seq}\n")
                sys.stdout.flush()

    for _ in range(4):
        threading.Thread(target=produce, daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
