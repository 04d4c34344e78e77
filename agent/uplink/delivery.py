"""Which outbox items to publish next, and what to forget when the platform acks.

The store's outbox is the truth; this class only remembers, for the current
connection, what has been handed to MQTT (waiting for PUBACK) and what waits for
the platform's ack. Nothing here must survive a restart: after a reconnect or a
restart every unacknowledged item is simply published again, in priority order and
``seq`` order within a class, and the platform drops duplicates by id.

Never keyed on paho's 16-bit message id beyond the life of one connection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from agent.store import OutboxItem, Priority, Store

log = logging.getLogger("agent.uplink.delivery")


@dataclass
class Sent:
    item: OutboxItem
    sent_at: float
    pending_mids: set[int] = field(default_factory=set)


class Delivery:
    def __init__(self, store: Store, *, ack_mode: str, window: int, await_max: int = 20000,
                 ack_timeout_s: float = 60.0) -> None:
        self.store = store
        self.ack_mode = ack_mode
        self.window = window
        self.await_max = await_max
        self.ack_timeout_s = ack_timeout_s
        self.cursors: dict[Priority, int] = {}
        self.by_mid: dict[int, str] = {}  # this connection's paho mids -> item id
        self.sent: dict[str, Sent] = {}  # handed to MQTT, not yet acknowledged end to end
        self.acked_total = 0
        self.published_total = 0

    def reset(self) -> None:
        """A new connection: everything unacknowledged will be sent again."""
        self.cursors.clear()
        self.by_mid.clear()
        self.sent.clear()

    @property
    def mqtt_inflight(self) -> int:
        return len(self.by_mid)

    def room(self, receive_maximum: int) -> int:
        """How many more items may be handed to MQTT now.

        While publishes are in flight we wait until a quarter of the window is free,
        so the outbox is read in batches rather than once per PUBACK.
        """
        limit = min(self.window, receive_maximum)
        if len(self.sent) >= self.await_max:
            return 0
        free = max(0, limit - self.mqtt_inflight)
        if self.mqtt_inflight and free < max(1, limit // 4):
            return 0
        return free

    def next_items(self, count: int) -> list[OutboxItem]:
        if count <= 0:
            return []
        items = self.store.outbox_next(count, self.cursors)
        for item in items:
            self.cursors[item.priority] = max(self.cursors.get(item.priority, 0), item.n)
        return items

    def track(self, item: OutboxItem, mids: list[int]) -> None:
        entry = self.sent.get(item.id) or Sent(item, time.monotonic())
        entry.pending_mids.update(mids)
        entry.sent_at = time.monotonic()
        self.sent[item.id] = entry
        for mid in mids:
            self.by_mid[mid] = item.id
        self.published_total += 1

    def on_puback(self, mid: int, ok: bool) -> str | None:
        """The broker took one publish. Returns the item id if the item is now fully
        on the broker (all its publishes), else None."""
        item_id = self.by_mid.pop(mid, None)
        if item_id is None:
            return None
        entry = self.sent.get(item_id)
        if entry is None:
            return None
        entry.pending_mids.discard(mid)
        if not ok:
            log.warning("broker refused publish item=%s: will resend", item_id)
            self._forget(item_id)
            return None
        return item_id if not entry.pending_mids else None

    def acked(self, ids: list[str]) -> list[str]:
        """The platform has these (or, in puback mode, the broker): forget them."""
        known = []
        for item_id in ids:
            entry = self.sent.pop(item_id, None)
            if entry is not None:
                for mid in entry.pending_mids:
                    self.by_mid.pop(mid, None)
            known.append(item_id)
        self.acked_total += len(known)
        return known

    def overdue(self) -> list[str]:
        """Items on the broker whose platform ack is overdue: send them again."""
        limit = time.monotonic() - self.ack_timeout_s
        late = [i for i, e in self.sent.items() if not e.pending_mids and e.sent_at < limit]
        for item_id in late:
            self._forget(item_id)
        if late:
            log.warning("platform ack overdue for %d items: resending", len(late))
        return late

    def _forget(self, item_id: str) -> None:
        """Drop an item from this connection's memory and rewind its class cursor."""
        entry = self.sent.pop(item_id, None)
        if entry is None:
            return
        for mid in entry.pending_mids:
            self.by_mid.pop(mid, None)
        cursor = self.cursors.get(entry.item.priority, 0)
        self.cursors[entry.item.priority] = min(cursor, entry.item.n - 1)
        # Items of the same class after it are forgotten too: the rewound cursor sends
        # them again in order, and the platform drops any duplicates by id.
        for other_id in [i for i, e in self.sent.items()
                         if e.item.priority == entry.item.priority and e.item.n > entry.item.n]:
            self.sent.pop(other_id, None)
