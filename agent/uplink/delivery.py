"""Which outbox items to publish next, and what to forget when the platform acks.

The store's outbox is the truth; this class only remembers, for the current
connection, what has been handed to MQTT (waiting for PUBACK) and what waits for
the platform's ack. Nothing here must survive a restart: after a reconnect or a
restart every unacknowledged item is simply published again, in priority order and
``seq`` order within a class, and the platform drops duplicates by id.

An item the platform does not ack in time is resent on its own, after a wait that
doubles at each resend (``ack_timeout_s``, 2x, 4x ... up to ``resend_max_s``), and all
resends together stay within a byte budget per minute: a platform that never acks
costs a trickle, not the whole outbox every timeout.

Never keyed on paho's 16-bit message id beyond the life of one connection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from agent.store import OutboxItem, Pending, Priority, Store

log = logging.getLogger("agent.uplink.delivery")


# After a CONNACK without a session the broker has lost its state (a restart without
# persistence) and so, most likely, has the platform: its subscriptions come back a
# moment after ours, and what we send meanwhile reaches nobody. What is sent in the
# first seconds of such a connection is resent soon, on a short, doubling back-off.
SESSIONLESS_SETTLE_S = 10.0
SESSIONLESS_FIRST_RESEND_S = 2.0


@dataclass
class Sent:
    item: OutboxItem
    sent_at: float
    pending_mids: set[int] = field(default_factory=set)
    attempts: int = 0  # publishes of this item on this connection
    first_wait_s: float = 60.0  # the first ack wait; doubled at each resend
    due_at: float = float("inf")  # resend then, if the platform has not acked
    size: int = 0  # bytes of the last publish


class ResendBudget:
    """A token bucket of bytes: at most ``per_min`` bytes of resends a minute, bursts
    included; one item larger than the whole budget still goes when the bucket is full."""

    def __init__(self, per_min: int) -> None:
        self.per_min = per_min
        self.tokens = float(per_min)
        self.at = time.monotonic()
        self.spent = 0

    def available(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.per_min), self.tokens + (now - self.at) * self.per_min / 60.0)
        self.at = now
        return self.tokens > 0

    def spend(self, size: int) -> None:
        self.tokens -= size
        self.spent += size


class Delivery:
    def __init__(self, store: Store, *, ack_mode: str, window: int, await_max: int = 20000,
                 ack_timeout_s: float = 60.0, resend_max_s: float = 3600.0,
                 resend_bytes_per_min: int = 256 * 1024) -> None:
        self.store = store
        self.ack_mode = ack_mode
        self.window = window
        self.await_max = await_max
        self.ack_timeout_s = ack_timeout_s
        self.resend_max_s = max(resend_max_s, ack_timeout_s)
        self.budget = ResendBudget(resend_bytes_per_min)
        self.cursors: dict[Priority, int] = {}
        self.by_mid: dict[int, str] = {}  # this connection's paho mids -> item id
        self.sent: dict[str, Sent] = {}  # handed to MQTT, not yet acknowledged end to end
        self.acked_total = 0
        self.published_total = 0
        self.resent_total = 0
        self.deferred_total = 0  # overdue items the resend byte budget held back for later
        self._settle_until = 0.0

    def reset(self, session_present: bool = True) -> None:
        """A new connection: everything unacknowledged will be sent again."""
        self.cursors.clear()
        self.by_mid.clear()
        self.sent.clear()
        self._settle_until = 0.0 if session_present else time.monotonic() + SESSIONLESS_SETTLE_S

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

    def track(self, item: OutboxItem, mids: list[int], size: int = 0) -> None:
        now = time.monotonic()
        entry = self.sent.get(item.id)
        if entry is None:
            first_wait = (min(self.ack_timeout_s, SESSIONLESS_FIRST_RESEND_S)
                          if now < self._settle_until else self.ack_timeout_s)
            entry = self.sent[item.id] = Sent(item, now, first_wait_s=first_wait)
        entry.pending_mids.update(mids)
        entry.sent_at, entry.size = now, size
        entry.attempts += 1
        entry.due_at = now + self._wait_s(entry)
        for mid in mids:
            self.by_mid[mid] = item.id
        self.published_total += 1

    def _wait_s(self, entry: Sent) -> float:
        """The first wait, doubled at each resend, up to ``resend_max_s``."""
        doublings = min(entry.attempts - 1, 40)  # 2**40 x any wait is past the cap: no overflow
        return min(self.resend_max_s, entry.first_wait_s * 2.0 ** doublings)

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

    def acked(self, ids: list[str]) -> set[str]:
        """The platform has these (or, in puback mode, the broker): forget them. Returns
        those of them that were telemetry (their acks are written with deferred telemetry)."""
        telemetry = set()
        for item_id in ids:
            entry = self.sent.pop(item_id, None)
            if entry is not None:
                for mid in entry.pending_mids:
                    self.by_mid.pop(mid, None)
                if entry.item.kind == "telemetry":
                    telemetry.add(item_id)
        self.acked_total += len(ids)
        return telemetry

    def overdue(self) -> list[OutboxItem]:
        """Items on the broker whose platform ack is overdue, most overdue first, as many
        as the resend byte budget allows now; the caller publishes and ``track``s them
        again (their next wait doubles). The rest wait for the next call."""
        now = time.monotonic()
        late = sorted((e for e in self.sent.values() if not e.pending_mids and e.due_at <= now),
                      key=lambda e: e.due_at)
        chosen = []
        for entry in late:
            if not self.budget.available():
                break
            self.budget.spend(entry.size)
            chosen.append(entry.item)
        self.deferred_total += len(late) - len(chosen)
        if chosen:
            self.resent_total += len(chosen)
            log.warning("platform ack overdue: resending items=%d deferred=%d resent_bytes_total=%d",
                        len(chosen), len(late) - len(chosen), self.budget.spent)
        return chosen

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


class AckQueue:
    """The platform's acks on their way into the store.

    Acks of telemetry go with the store's deferred telemetry (``store.telemetry_defer_s``):
    on an SD card each ack would otherwise be a small commit of its own (the outbox rows
    deleted), and a telemetry batch's ack arrives every few minutes. Lost to a power cut,
    such an ack costs one resend of the batch, which the platform acks again. Acks of
    records, alarms and media are written at once, in one commit per call, so what people
    recorded leaves the outbox as soon as the platform has it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[Pending[int]] = []

    def add(self, ids: list[str], deferrable: set[str] | frozenset[str] = frozenset()) -> None:
        """``deferrable``: the ids among ``ids`` that are telemetry."""
        later = [i for i in ids if i in deferrable]
        now = [i for i in ids if i not in deferrable] if later else ids
        if later:
            self.store.ack_later(later)
        if now:
            self._pending.append(self.store.submit_ack(now))
        while self._pending and (self._pending[0].done() or len(self._pending) > 8):
            self._pending.pop(0).result()  # never more than a few commits behind

    def settle(self) -> None:
        """Wait until the acks handed to the store at once are committed."""
        while self._pending:
            self._pending.pop(0).result()
