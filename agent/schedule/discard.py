"""留样销毁 (sample discard): which food samples may go, and the confirmation that they went.

One rule for everything that asks: ``canteen-agent discard-samples``, the console's
sample page and the ``sample_discard_due`` reminder (``agent.schedule.due``). A batch
is one meal's samples of one local day; it may be discarded once its keep time is
over, and that time is the latest of, for each sample, the ``kept_until`` it was
recorded with and its ``sampled_at`` plus ``rules.food_sample.keep_hours`` as
configured now (a keep time raised since the samples were taken still holds them).

``discard`` writes the ``sample_discard`` record through the Recorder (queued for the
platform like every record) together with the confirmation the reminder reads, in one
transaction. It refuses, writing nothing, a batch that is unknown, still inside its keep
time or already confirmed (``DiscardRefused``). The command line runs in its own process
beside the agent, so "already confirmed" is decided by the store's transaction, not by
the check read before it: of a command and a page confirming one batch at the same
moment, one writes the record and the other is refused ``already``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.recorder import Recorded, Recorder
from agent.records.envelope import Operator, Source
from agent.records.sample_discard import SampleDiscard

# Samples past their keep time stay on the reminder's list this many days beyond it, then
# drop off (by then the fridge has been emptied or the ledger shows it was not confirmed).
DISCARD_WATCH_DAYS = 2
Refusal = Literal["unknown", "too_early", "already"]


def discard_key(day: str, meal: str) -> str:
    """kv key of a confirmed discard of one meal's samples (what the reminder reads)."""
    return f"sample_discard:{day}:{meal}"


def discard_lookback_days(config: Settings) -> int:
    return math.ceil(config.rules.food_sample.keep_hours / 24) + DISCARD_WATCH_DAYS


def record_local_day(record: dict[str, Any], tz: tzinfo) -> str:
    """The local day a food_sample record belongs to (the store's ``day`` column)."""
    return datetime.fromisoformat(record["occurred_at"]).astimezone(tz).date().isoformat()


def keep_ends(samples: Iterable[dict[str, Any]], keep_hours: float) -> datetime:
    """When a batch may be discarded: the latest keep time of any of its samples."""
    keep = timedelta(hours=keep_hours)
    return max(max(datetime.fromisoformat(r["data"]["kept_until"]),
                   datetime.fromisoformat(r["data"]["sampled_at"]) + keep) for r in samples)


@dataclass(frozen=True)
class SampleBatch:
    """One meal's food samples of one day, and whether they were confirmed discarded."""

    day: date
    meal: str
    samples: tuple[dict[str, Any], ...]  # the food_sample records, in seq order
    kept_until: datetime
    confirmation: dict[str, Any] | None = None  # {"at", "by", "samples", "record_id"} once discarded

    @property
    def id(self) -> str:
        """What a form names the batch by: ``2026-11-28:lunch``."""
        return f"{self.day.isoformat()}:{self.meal}"

    @property
    def last_sampled_at(self) -> datetime:
        return max(datetime.fromisoformat(r["data"]["sampled_at"]) for r in self.samples)

    @property
    def discarded(self) -> bool:
        return self.confirmation is not None

    def may_discard(self, now: datetime) -> bool:
        return not self.discarded and now >= self.kept_until


class DiscardRefused(ValueError):
    """Nothing was written: the batch is unknown, still kept, or already confirmed."""

    def __init__(self, reason: Refusal, message: str, batch: SampleBatch | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.batch = batch


def _batch(store: Reads, config: Settings, day: date, meal: str,
           records: list[dict[str, Any]]) -> SampleBatch:
    confirmation = store.kv_get(discard_key(day.isoformat(), meal))
    return SampleBatch(day, meal, tuple(records), keep_ends(records, config.rules.food_sample.keep_hours),
                       confirmation if isinstance(confirmation, dict) else None)


def sample_batch(store: Reads, config: Settings, day: date, meal: str) -> SampleBatch | None:
    """The batch of ``meal`` on ``day``; None when no sample of it was recorded."""
    records = [r for r in store.iter_records(type_="food_sample", day=day.isoformat())
               if r["data"]["meal"] == meal]
    return _batch(store, config, day, meal, records) if records else None


def recent_batches(store: Reads, config: Settings, today: date, days: int) -> list[SampleBatch]:
    """Every batch sampled from ``days`` days before ``today`` up to today, oldest first."""
    batches: list[SampleBatch] = []
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        by_meal: dict[str, list[dict[str, Any]]] = {}
        for record in store.iter_records(type_="food_sample", day=day.isoformat()):
            by_meal.setdefault(record["data"]["meal"], []).append(record)
        batches += [_batch(store, config, day, meal, records) for meal, records in by_meal.items()]
    return sorted(batches, key=lambda b: (b.day, b.last_sampled_at))


def refusal(batch: SampleBatch | None, now: datetime, config: Settings, day: date, meal: str
            ) -> DiscardRefused | None:
    """Why the batch of ``meal`` on ``day`` may not be discarded at ``now``; None when it may."""
    tz = config.identity.tz
    if batch is None:
        return DiscardRefused("unknown", f"no {meal} samples recorded on {day}: nothing to confirm")
    if batch.discarded:
        return _already(batch)
    if now < batch.kept_until:
        left_h = (batch.kept_until - now).total_seconds() / 3600
        keep_hours = config.rules.food_sample.keep_hours
        return DiscardRefused("too_early", f"too early: {batch.meal} samples of {batch.day} must be kept "
                                           f"{keep_hours:g} h, until {batch.kept_until.astimezone(tz):%Y-%m-%d %H:%M} "
                                           f"({left_h:.1f} h from now)", batch)
    return None


def _already(batch: SampleBatch) -> DiscardRefused:
    return DiscardRefused("already", f"already confirmed: {batch.meal} samples of {batch.day}", batch)


def discard(store: Reads, recorder: Recorder, config: Settings, day: date, meal: str, now: datetime, *,
            source: Source, operator: Operator | None, discarded_by: str | None = None,
            remark: str | None = None) -> Recorded[SampleDiscard]:
    """Confirm one batch discarded: the ``sample_discard`` record and the confirmation, together.

    Raises ``DiscardRefused`` (nothing written) when the batch may not be discarded now.
    """
    batch = sample_batch(store, config, day, meal)
    refused = refusal(batch, now, config, day, meal)
    if refused is not None:
        raise refused
    assert batch is not None
    last = batch.last_sampled_at
    data = SampleDiscard(meal=meal, sampled_on=day, samples=len(batch.samples), last_sampled_at=last,
                         kept_hours=round((now - last).total_seconds() / 3600, 2),
                         sample_ids=[r["id"] for r in batch.samples], discarded_by=discarded_by,
                         remark=remark)
    confirmation = {"at": now.isoformat(timespec="seconds"), "by": discarded_by, "samples": len(batch.samples)}
    # The confirmation key is the batch's unique key, claimed in the record's own transaction:
    # the check above read a snapshot that another process may have outdated by now.
    saved = recorder.record_once(discard_key(day.isoformat(), meal), confirmation, data, occurred_at=now,
                                 source=source, operator=operator)
    if saved is None:  # confirmed meanwhile (the command line beside the agent, or the page)
        raise _already(sample_batch(store, config, day, meal) or batch)  # with who confirmed it
    return saved
