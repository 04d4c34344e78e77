"""留样销毁: the kept food samples, and the manager's confirmation that some were discarded.

Every meal's samples of the last days, with their dishes, when each was taken and when
the batch may go; the keep time and the refusals are ``agent.schedule.discard``'s, the
same as ``canteen-agent discard-samples`` and the reminder use. The manager ticks the
batches past their keep time (or takes all of them), says who discarded them, and each
becomes one ``sample_discard`` record through the Recorder, sent to the platform. A post
naming a batch still inside its keep time, unknown or already discarded changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.pages_meals import CONSOLE_SOURCE
from agent.console.web import (
    action_log,
    checked_form,
    console,
    manager_session,
    page,
    redirect,
    user_session,
)
from agent.records.envelope import Operator
from agent.schedule.discard import (
    DiscardRefused,
    SampleBatch,
    discard,
    discard_lookback_days,
    recent_batches,
    refusal,
    sample_batch,
)
from agent.schedule.due import meal_label

SHOWN_EXTRA_DAYS = 7  # beyond the reminder's window: a batch nobody confirmed still shows for a week
BY_MAX, REMARK_MAX = 100, 500
BATCH_DAY, MEAL_MAX = re.compile(r"^\d{4}-\d{2}-\d{2}$"), 64  # a batch id is DAY:MEAL
STATE = {"kept": "Kept", "may": "May be discarded", "discarded": "Discarded"}
REFUSALS = {  # DiscardRefused.reason -> (English message id, HTTP status)
    "unknown": ("Unknown samples: nothing was discarded", 400),
    "too_early": ("Still within the keep time: these samples cannot be discarded yet", 409),
    "already": ("Already discarded: nothing was recorded again", 409),
}


@dataclass(frozen=True)
class Dish:
    dish: str
    sampled_at: str
    grams: float


@dataclass(frozen=True)
class Row:
    id: str
    day: str
    meal: str
    dishes: tuple[Dish, ...]
    kept_until: str
    state: str  # kept | may | discarded
    hours_left: float
    discarded_at: str = ""
    discarded_by: str = ""


def _local(text_or_time: str | datetime, tz: Any) -> str:
    when = datetime.fromisoformat(text_or_time) if isinstance(text_or_time, str) else text_or_time
    return f"{when.astimezone(tz):%m-%d %H:%M}"


def _row(batch: SampleBatch, now: datetime, tz: Any) -> Row:
    dishes = tuple(Dish(r["data"]["dish"], _local(r["data"]["sampled_at"], tz), r["data"]["grams"])
                   for r in batch.samples)
    state = "discarded" if batch.discarded else ("may" if batch.may_discard(now) else "kept")
    confirmation = batch.confirmation or {}
    at = str(confirmation.get("at") or "")
    return Row(batch.id, batch.day.isoformat(), meal_label(batch.meal), dishes, _local(batch.kept_until, tz), state,
               max(0.0, (batch.kept_until - now).total_seconds() / 3600), _local(at, tz) if at else "",
               str(confirmation.get("by") or ""))


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    now = ctx.now()
    days = discard_lookback_days(ctx.config) + SHOWN_EXTRA_DAYS
    batches = recent_batches(ctx.store, ctx.config, ctx.local(now).date(), days)
    rows = [_row(b, now, ctx.config.identity.tz) for b in batches]
    extra.setdefault("form", {})
    return page(request, "samples.html", status=status, rows=rows, states=STATE,
                keep_hours=ctx.config.rules.food_sample.keep_hours,
                discardable=sum(1 for r in rows if r.state == "may"), **extra)


async def samples(request: Request) -> Response:
    user_session(request)
    return _page(request, done=request.query_params.get("done"))


def _batch_key(value: str) -> tuple[date, str] | None:
    """``2026-11-28:lunch`` -> (day, meal); None for anything else (the store says if it exists)."""
    day_text, _, meal = value.partition(":")
    if not BATCH_DAY.match(day_text) or not 0 < len(meal) <= MEAL_MAX:
        return None
    try:
        return date.fromisoformat(day_text), meal
    except ValueError:
        return None


def _wanted(ctx: Any, form: Any, now: datetime) -> tuple[list[tuple[date, str]], list[str]]:
    """(day, meal) of each batch the form names (all that may go, for "all"), and the
    values that name no batch at all."""
    if form.get("action") == "all":
        days = discard_lookback_days(ctx.config) + SHOWN_EXTRA_DAYS
        return [(b.day, b.meal) for b in recent_batches(ctx.store, ctx.config, ctx.local(now).date(), days)
                if b.may_discard(now)], []
    values = list(dict.fromkeys(str(v) for v in form.getlist("batch")))
    keys = [_batch_key(v) for v in values]
    return [k for k in keys if k is not None], [v[:40] for v, k in zip(values, keys, strict=True) if k is None]


def _named(refused: DiscardRefused, tz: Any) -> str:
    """A refused batch as the page names it: ``午餐 lunch 2026-11-29`` (and until when it is kept)."""
    batch = refused.batch
    if batch is None:
        return ""
    label = f"{meal_label(batch.meal)} {batch.day}"
    return f"{label} → {_local(batch.kept_until, tz)}" if refused.reason == "too_early" else label


async def discard_samples(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    now = ctx.now()
    by = str(form.get("discarded_by") or "").strip()
    remark = str(form.get("remark") or "").strip()
    again = {"form": {"discarded_by": by[:BY_MAX + 1], "remark": remark[:REMARK_MAX + 1],
                      "batches": [str(v) for v in form.getlist("batch")]}}
    if not by or len(by) > BY_MAX:
        return _page(request, 400, error="Write who discarded the samples (100 characters at most)", **again)
    if len(remark) > REMARK_MAX:
        return _page(request, 400, error="The remark is too long (500 characters at most)", **again)
    wanted, bad = _wanted(ctx, form, now)
    if bad:
        return _page(request, 400, error="Unknown samples: nothing was discarded", detail=", ".join(bad), **again)
    if not wanted and form.get("action") == "all":
        return _page(request, 400, error="No samples may be discarded now", **again)
    if not wanted:
        return _page(request, 400, error="Select the samples to discard", **again)
    # every batch is checked before anything is written: one refusal and nothing changes
    tz = ctx.config.identity.tz
    refusals = [(f"{day}:{meal}", refusal(sample_batch(ctx.store, ctx.config, day, meal), now, ctx.config, day, meal))
                for day, meal in wanted]
    for reason, (error, status) in REFUSALS.items():
        named = [_named(r, tz) or key for key, r in refusals if r is not None and r.reason == reason]
        if named:
            return _page(request, status, error=error, detail="; ".join(named), **again)
    assert current.user is not None
    for done, (day, meal) in enumerate(wanted):
        try:
            saved = discard(ctx.store, ctx.recorder, ctx.config, day, meal, now, source=CONSOLE_SOURCE,
                            operator=Operator(staff_id=current.user.name), discarded_by=by, remark=remark or None)
        except DiscardRefused as refused:  # confirmed meanwhile from the command line
            error, status = REFUSALS[refused.reason]
            return _page(request, status, error=error, detail=_named(refused, tz), done=done or None, **again)
        action_log(request, "sample_discard", record=saved.id, batch=f"{day.isoformat()}:{meal}")
    return redirect(request, f"/manager/samples?done={len(wanted)}")


ROUTES = [
    Route("/manager/samples", samples, methods=["GET"]),
    Route("/manager/samples", discard_samples, methods=["POST"]),
]
