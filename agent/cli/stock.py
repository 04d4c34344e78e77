"""Stock and traceability at the command line: ``trace``, ``stock`` and ``issue``.

- ``canteen-agent trace --batch CODE``: a batch (its receipt's id or its batch code) →
  every meal it went into, those meals' diners and retained samples, what was discarded;
- ``canteen-agent trace --meal lunch --day 2026-12-01``: a meal → every batch behind it,
  with its supplier, receipt and documents; ``--json`` for either, for a script;
- ``canteen-agent stock``: what is on hand, batch by batch, expired ones marked;
- ``canteen-agent nutrition-table FILE``: a food composition CSV checked line by line
  (the line that is wrong, and why) before ``nutrition.table`` names it;
- ``canteen-agent issue --batch CODE --grams 5000 --meal lunch [--day] [--dishes ...]``:
  出库 to a meal (a ``stock_issue`` record), refused over what is on hand or for an
  expired batch (a manager overrides that on the console, where who decided is known).

They open the store next to a running agent (SQLite WAL allows it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date, datetime

from agent.cli.common import DEFAULT_CONFIG, EXIT_INVALID_CONFIG, require_agent_store
from agent.cli.common import load_or_exit as _load
from agent.config_file.model import AgentConfig
from agent.records.envelope import Operator, Source
from agent.store import Store
from agent.words.terms import meal as meal_words

CLI_SOURCE = Source(device_id="cli", kind="manager_cli")


def _open(config: AgentConfig) -> Store:
    return Store(config.store.path, config.store.media_dir)


def _day(text: str | None, config: AgentConfig) -> date:
    if text is None:
        return datetime.now(config.identity.tz).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--day: expected YYYY-MM-DD, got {text!r}") from None


def _words(name: str) -> str:
    return str(meal_words(name))


def cmd_trace(args: argparse.Namespace) -> int:
    from agent.schedule.trace import batch_text, meal_text, trace_batch, trace_meal

    config = _load(args.config)
    if (args.batch is None) == (args.meal is None):
        print("give either --batch CODE or --meal MEAL (with --day)", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    require_agent_store(config.store.path)
    with _open(config) as store:
        if args.batch is not None:
            traces = trace_batch(store, args.batch)
            if not traces:
                print(f"no receipt with the id or batch code {args.batch!r} / 没有这个批次的入库记录", file=sys.stderr)
                return 1
            print(json.dumps([asdict(t) for t in traces], ensure_ascii=False, default=str, indent=1)
                  if args.json else batch_text(traces, _words))
            return 0
        if args.meal not in config.schedules.meals:
            print(f"unknown meal {args.meal!r}: the config has {', '.join(config.schedules.meals)}", file=sys.stderr)
            return EXIT_INVALID_CONFIG
        found = trace_meal(store, _day(args.day, config), args.meal)
        print(json.dumps(asdict(found), ensure_ascii=False, default=str, indent=1) if args.json
              else meal_text(found, _words))
    return 0


def cmd_stock(args: argparse.Namespace) -> int:
    from agent.core.stock import on_hand

    config = _load(args.config)
    require_agent_store(config.store.path)
    today = datetime.now(config.identity.tz).date()
    with _open(config) as store:
        batches = on_hand(store)
    if not batches:
        print("库存为空 nothing on hand")
    for b in batches:
        mark = "  已过期 EXPIRED" if b.expired(today) else ""
        print(f"{b.receipt_id}  {b.label}: {b.on_hand:g} {b.unit_text}，保质期至 expires {b.expiry_date or '-'}{mark}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from agent.core.recorder import Recorder
    from agent.core.stock import StockRefused, find, issue

    config = _load(args.config)
    if args.meal not in config.schedules.meals:
        print(f"unknown meal {args.meal!r}: the config has {', '.join(config.schedules.meals)}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    require_agent_store(config.store.path)
    tz = config.identity.tz
    day = _day(args.day, config)
    dishes = [d.strip() for item in args.dishes or [] for d in item.split(",") if d.strip()]
    with _open(config) as store:
        found = find(store, args.batch)
        if len(found) != 1:
            print(f"{args.batch!r} names {len(found) or 'no'} batches: give the receipt's id "
                  "(canteen-agent stock lists them)", file=sys.stderr)
            return 1
        recorder = Recorder(config, store, lambda: datetime.now(tz))
        try:
            saved = issue(recorder, found[0].receipt_id, args.amount, args.meal, day, dishes=dishes,
                          source=CLI_SOURCE, operator=Operator(staff_id=args.staff) if args.staff else None)
        except StockRefused as refused:
            print(f"{refused}. Nothing recorded", file=sys.stderr)
            return 1
    print(f"issued {args.amount:g} {found[0].unit_text} of {found[0].label} to {args.meal} {day} "
          f"(stock_issue {saved.id}, seq {saved.seq})")
    return 0


def cmd_nutrition_table(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agent.config.nutrition import SHIPPED_TABLE, TableError, load_table

    path = Path(args.file) if args.file else SHIPPED_TABLE
    try:
        table = load_table(path)
    except TableError as exc:
        print(f"{exc}. Nothing imported / 食物成分表有误，未导入", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    print(f"{path}: {len(table)} ingredients, per 100 g / 共 {len(table)} 种食材（每100克）")
    for name, c in table.items():
        print(f"  {name}: {c.energy_kcal:g} kcal, protein {c.protein_g:g} g, fat {c.fat_g:g} g, "
              f"carbohydrate {c.carbohydrate_g:g} g")
    print("to use it: nutrition.table in the config, then canteen-agent check-config")
    return 0


def extend(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("trace", help="a batch to its meals, diners and samples, or a meal back to its batches")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--batch", help="a receipt's id or a batch code")
    p.add_argument("--meal", help="a meal of schedules.meals")
    p.add_argument("--day", help="YYYY-MM-DD of the meal (default today)")
    p.add_argument("--json", action="store_true", help="the answer as JSON")
    p.set_defaults(fn=cmd_trace)

    p = sub.add_parser("stock", help="what is on hand, batch by batch")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(fn=cmd_stock)

    p = sub.add_parser("issue", help="issue part of a batch to a meal (出库, a stock_issue record)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--batch", required=True, help="a receipt's id or a batch code naming one batch")
    p.add_argument("--amount", type=float, required=True, help="grams (or the receipt's unit when it was counted)")
    p.add_argument("--meal", required=True)
    p.add_argument("--day", help="YYYY-MM-DD of the meal (default today)")
    p.add_argument("--dishes", nargs="*", help="the dishes it goes into")
    p.add_argument("--staff", help="staff id of who issued it")
    p.set_defaults(fn=cmd_issue)

    p = sub.add_parser("nutrition-table", help="check a food composition CSV before the config names it")
    p.add_argument("file", nargs="?", help="the CSV (default: the shipped table)")
    p.set_defaults(fn=cmd_nutrition_table)
