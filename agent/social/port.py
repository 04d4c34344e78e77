"""``SocialStore``: the part of the agent's store the social end keeps its own notes in."""

from __future__ import annotations

from typing import Any, Protocol


class SocialStore(Protocol):
    """Invites and surveys: the store's key-value table (``agent.store.Store`` has it)."""

    def kv_get(self, key: str, default: Any = None) -> Any: ...

    def kv_set(self, key: str, value: Any, at: str | None = None) -> None: ...

    def kv_set_if_absent(self, key: str, value: Any, at: str | None = None) -> bool: ...

    def kv_keys(self, prefix: str) -> list[str]: ...
