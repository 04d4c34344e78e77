"""How a record becomes rows: the draft a producer hands in, and the insert the writer runs.

Group commit is only as fast as the one writer thread, so everything that does not
need the ``seq`` is worked out here, in the producer's thread, when the draft is made:
the JSON text, the ``records`` row and the ``outbox`` row. In the writer, a record
costs a number, one string splice and its share of two ``executemany`` calls.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from agent.store.schema import Priority
from agent.store.writer import StoreConnection

INSERT_RECORD = (
    "INSERT INTO records(seq, payload, id, type, day, occurred_at, recorded_at, verdict, source_id,"
    " staff_id, keep_until) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
INSERT_OUTBOX = "INSERT INTO outbox(id, priority, kind, ref, payload, enqueued_at) VALUES (?,?,?,?,?,?)"


class RecordDraft:
    """An envelope ready to store, less its ``seq`` (assigned at commit)."""

    __slots__ = ("_body_tail", "_judgement", "_outbox_row", "_record_row", "day", "envelope", "keep_until",
                 "priority")

    def __init__(self, envelope: dict[str, Any], priority: Priority, day: str,
                 keep_until: str | None = None) -> None:
        """``envelope``: JSON-ready dict (any "seq" is ignored); ``day``: local YYYY-MM-DD of
        occurred_at; ``keep_until``: earliest deletion date, if later than the default retention."""
        self.envelope = envelope
        self.priority = priority
        self.day = day
        self.keep_until = keep_until
        body = json.dumps({k: v for k, v in envelope.items() if k != "seq"},
                          separators=(",", ":"), ensure_ascii=False)
        self._body_tail = body[1:]  # after the opening brace, where "seq" goes
        record_id, record_type, recorded_at = envelope["id"], envelope["type"], envelope["recorded_at"]
        operator = envelope.get("operator") or {}
        source = envelope.get("source") or {}
        staff_id = operator.get("staff_id") or (envelope.get("data") or {}).get("staff_id")
        self._record_row = (record_id, record_type, day, envelope["occurred_at"], recorded_at,
                            envelope.get("verdict"), source.get("device_id"), staff_id, keep_until)
        kind = "alarm" if record_type == "alarm" else "record"
        self._outbox_row = (record_id, int(priority), kind, record_type, None, recorded_at)
        self._judgement = (record_type, envelope.get("verdict"), tuple(envelope.get("findings") or ()))

    def payload_with(self, seq: int) -> str:
        """The exact JSON to publish once the record is numbered ``seq``."""
        return f'{{"seq":{seq},{self._body_tail}'

    @property
    def id(self) -> str:
        return str(self.envelope["id"])

    @property
    def type(self) -> str:
        return str(self.envelope["type"])


class Saved(NamedTuple):
    """A committed record, with the judgement it was stored with."""

    id: str
    seq: int
    payload: str  # the exact JSON that will be published
    type: str = ""
    verdict: str | None = None
    findings: tuple[str, ...] = ()


class InsertRecord:
    """A write op storing one record and queueing it; the writer runs consecutive ones
    together (``run_many``), which is most of what makes group commit fast."""

    __slots__ = ("draft",)

    def __init__(self, draft: RecordDraft) -> None:
        self.draft = draft

    def __call__(self, conn: StoreConnection) -> Saved:
        return insert_records(conn, [self.draft])[0]

    @staticmethod
    def run_many(conn: StoreConnection, ops: list[InsertRecord]) -> list[Saved]:
        return insert_records(conn, [op.draft for op in ops])


def insert_records(conn: StoreConnection, drafts: list[RecordDraft]) -> list[Saved]:
    """Number, store and queue ``drafts`` inside the writer's open transaction."""
    rows, saved = [], []
    for seq, draft in enumerate(drafts, conn.take_seqs(len(drafts))):
        payload = draft.payload_with(seq)
        rows.append((seq, payload, *draft._record_row))
        saved.append(Saved(draft._record_row[0], seq, payload, *draft._judgement))
    conn.executemany(INSERT_RECORD, rows)
    conn.executemany(INSERT_OUTBOX, [draft._outbox_row for draft in drafts])
    return saved
