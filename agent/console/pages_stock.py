"""库存 Stock: what is on hand, batch by batch, and the two ways out of it.

On hand is derived from the records (``agent.core.stock``): each receipt less its
issues and discards. A manager issues part of a batch to a meal (出库, ``stock_issue``)
or discards it (报废, ``stock_discard``), each through the Recorder. More than is on
hand is refused; an expired batch, or goods with no receipt, only with the manager's
override (who and why go into the record). Nothing refused is written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.pages_meals import CONSOLE_SOURCE
from agent.console.roles import may
from agent.console.web import (
    action_log,
    checked_form,
    console,
    manager_session,
    page,
    redirect,
    user_session,
)
from agent.core.stock import StockRefused, discard, issue, on_hand
from agent.records.envelope import Operator
from agent.records.stock_discard import DISCARD_REASONS
from agent.records.stock_issue import StockOverride

REFUSED = {  # StockRefused.reason -> the page's message (English id, zh in the catalog)
    "unknown": "No receipt of this batch: nothing was issued",
    "no_amount": "The receipt has no amount on record: it cannot be issued from",
    "over_on_hand": "More than is on hand: nothing was recorded",
    "expired": "This batch has expired: tick the override and give a reason to issue it",
    "nothing": "The amount must be more than zero",
}
TEXT_MAX, REASON_MAX, ITEM_MAX = 100, 500, 200


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < 10_000_000 else None


def _page(request: Request, status: int = 200, **extra: Any) -> Response:
    ctx = console(request)
    today = ctx.today()
    rows = on_hand(ctx.store)
    extra.setdefault("form", {})
    return page(request, "stock.html", status=status, rows=rows, today=today, meals=list(ctx.config.schedules.meals),
                reasons=DISCARD_REASONS, expired=sum(1 for b in rows if b.expired(today)), **extra)


async def stock(request: Request) -> Response:
    user_session(request)
    return _page(request, done=request.query_params.get("done"))


async def issue_stock(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    fields = {k: str(form.get(k) or "").strip() for k in ("receipt", "amount", "meal", "day", "dishes", "item",
                                                           "override", "override_reason")}
    again = {"form": fields}
    amount = _number(fields["amount"])
    if amount is None:
        return _page(request, 400, error="The amount must be more than zero", **again)
    if fields["meal"] not in ctx.config.schedules.meals:
        return _page(request, 400, error="Choose a meal", **again)
    try:
        served_on = date.fromisoformat(fields["day"]) if fields["day"] else ctx.today()
    except ValueError:
        return _page(request, 400, error="The day must be a date: 2026-12-01", **again)
    reason = fields["override_reason"]
    if len(reason) > REASON_MAX or len(fields["item"]) > ITEM_MAX:
        return _page(request, 400, error="The reason is too long (500 characters at most)", **again)
    assert current.user is not None
    override = None
    if fields["override"]:
        if not may(current.user, "override_stock"):
            return _page(request, 403, error="Only the canteen supervisor may override", **again)
        if not reason:
            return _page(request, 400, error="An override needs its reason", **again)
        of = "unknown_batch" if not fields["receipt"] else "expired"
        override = StockOverride(of=of, by=current.user.name, reason=reason)
    if not fields["receipt"] and (override is None or not fields["item"]):
        return _page(request, 400, error="Choose a batch, or name goods with no receipt and override", **again)
    dishes = [d.strip() for d in fields["dishes"].replace("，", ",").split(",") if d.strip()][:20]
    try:
        saved = issue(ctx.recorder, fields["receipt"] or None, amount, fields["meal"], served_on, dishes=dishes,
                      override=override, item=fields["item"][:ITEM_MAX] or None, now=ctx.now(),
                      source=CONSOLE_SOURCE, operator=Operator(staff_id=current.user.name))
    except StockRefused as refused:
        return _page(request, 409 if refused.reason in ("over_on_hand", "expired") else 400,
                     error=REFUSED[refused.reason], detail=refused.detail or None, **again)
    action_log(request, "stock_issue", record=saved.id, receipt=fields["receipt"] or "-",
               override=override.of if saved.data.override and override else "-")
    return redirect(request, "/manager/stock?done=issue")


async def discard_stock(request: Request) -> Response:
    current = manager_session(request)
    form = await checked_form(request)
    ctx = console(request)
    fields = {k: str(form.get(k) or "").strip() for k in ("receipt", "amount", "reason", "by", "remark")}
    again = {"form": fields}
    amount = _number(fields["amount"]) if fields["amount"] else None
    if fields["amount"] and amount is None:
        return _page(request, 400, error="The amount must be more than zero", **again)
    if fields["reason"] not in DISCARD_REASONS:
        return _page(request, 400, error="Choose why it is discarded", **again)
    if not fields["by"] or len(fields["by"]) > TEXT_MAX:
        return _page(request, 400, error="Write who discarded it (100 characters at most)", **again)
    if len(fields["remark"]) > REASON_MAX:
        return _page(request, 400, error="The remark is too long (500 characters at most)", **again)
    assert current.user is not None
    try:
        saved = discard(ctx.recorder, fields["receipt"], amount, fields["reason"],  # type: ignore[arg-type]
                        fields["by"], remark=fields["remark"] or None, now=ctx.now(), source=CONSOLE_SOURCE,
                        operator=Operator(staff_id=current.user.name))
    except StockRefused as refused:
        return _page(request, 409 if refused.reason == "over_on_hand" else 400, error=REFUSED[refused.reason],
                     detail=refused.detail or None, **again)
    action_log(request, "stock_discard", record=saved.id, receipt=fields["receipt"])
    return redirect(request, "/manager/stock?done=discard")


ROUTES = [
    Route("/manager/stock", stock, methods=["GET"]),
    Route("/manager/stock/issue", issue_stock, methods=["POST"]),
    Route("/manager/stock/discard", discard_stock, methods=["POST"]),
]
