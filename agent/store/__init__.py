"""Durable state: SQLite in WAL mode, group-committed writes, outbox, media, roster."""

from agent.store.schema import PRIORITY_BY_NAME, SCHEMA_VERSION, Priority
from agent.store.store import ClassDepth, OutboxItem, RecordDraft, Saved, Store
from agent.store.writer import StoreClosed, StoreWriteError

__all__ = ["PRIORITY_BY_NAME", "SCHEMA_VERSION", "ClassDepth", "OutboxItem", "Priority", "RecordDraft",
           "Saved", "Store", "StoreClosed", "StoreWriteError"]
