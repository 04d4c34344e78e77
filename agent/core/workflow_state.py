"""``WorkflowState``: where a workflow keeps what must outlive a restart, and nothing else.

A cabinet's cycle in progress, a UV run's start, a fridge's hourly statistics: a
workflow's own notes, committed through the store's writer like every write, under keys
the workflow names (``disinfection.cycle.<device>`` ...). Records, alarms, media and
telemetry never go here: they go through the Recorder, which judges, envelopes and
queues them for the platform.
"""

from __future__ import annotations

from typing import Any, Protocol


class StateStore(Protocol):
    """The part of ``agent.store.Store`` this port uses."""

    def kv_get(self, key: str, default: Any = None) -> Any: ...

    def kv_set(self, key: str, value: Any, at: str | None = None) -> None: ...

    def kv_set_deferred(self, key: str, value: Any, at: str | None = None) -> None: ...

    def kv_keys(self, prefix: str) -> list[str]: ...


class WorkflowState:
    """Get, set and list a workflow's own keys (JSON values; ``None`` forgets one)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.kv_get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._store.kv_set(key, value)

    def set_deferred(self, key: str, value: Any) -> None:
        """``set`` for notes that go with telemetry (a fridge's hourly figures): written with
        the store's deferred telemetry (``store.telemetry_defer_s``), so a power cut can lose
        the latest of them; ``get`` sees the value at once."""
        self._store.kv_set_deferred(key, value)

    def keys(self, prefix: str) -> list[str]:
        return self._store.kv_keys(prefix)
