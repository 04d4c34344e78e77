"""Durable state: SQLite in WAL mode, group-committed writes, outbox, media, roster."""

from agent.store.basic_rows import ENTITIES, BadgeTaken, BasicChange, BasicDataConflict
from agent.store.media_rows import MediaDraft
from agent.store.outbox_rows import ClassDepth, OutboxItem
from agent.store.people import staff_change
from agent.store.record_rows import RecordDraft, Saved
from agent.store.schema import PRIORITY_BY_NAME, SCHEMA_VERSION, Priority, read_kv, store_problem
from agent.store.store import Store
from agent.store.writer import Pending, StoreClosed, StoreWriteError

__all__ = ["ENTITIES", "PRIORITY_BY_NAME", "BadgeTaken", "BasicChange", "BasicDataConflict", "SCHEMA_VERSION", "ClassDepth", "MediaDraft", "OutboxItem", "Pending", "Priority",
           "RecordDraft", "Saved", "Store", "StoreClosed", "StoreWriteError", "read_kv", "staff_change", "store_problem"]
