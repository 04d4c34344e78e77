"""Subcommands for the canteen manager: ``today``, ``meal`` and ``discard-samples``.

- ``canteen-agent today [--day YYYY-MM-DD] [--at HH:MM]``: what is done and still due;
- ``canteen-agent meal --meal lunch --diners 812 [--dishes 米饭 番茄炒蛋] [--day] [--staff]``:
  registers a meal served (a ``meal_service`` record, stored and queued for the platform);
  a second registration of the same meal and day needs ``--correct``;
- ``canteen-agent discard-samples --day 2026-11-28 --meal lunch [--staff]``: confirms
  that a meal's samples were discarded after their keep time (a ``sample_discard``
  record for the platform; clears the reminder). Refused before the keep time is over,
  by the same rule as the console's sample discard page (``agent.schedule.discard``).

They open the store next to a running agent (SQLite WAL allows it); the agent's next
schedule tick (within a minute) clears whatever these commands made done.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time

from agent.cli.common import DEFAULT_CONFIG, EXIT_INVALID_CONFIG, require_agent_store
from agent.cli.common import load_or_exit as _load
from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.records.envelope import Operator, Source
from agent.records.meal_service import MealService
from agent.store import Store

CLI_SOURCE = Source(device_id="cli", kind="manager_cli")
REMARK_MAX = 500  # sample_discard.remark


def _open(config: AgentConfig) -> Store:
    return Store(config.store.path, config.store.media_dir)


def _day(text: str | None, config: AgentConfig) -> date:
    today = datetime.now(config.identity.tz).date()
    if text is None:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--day: expected YYYY-MM-DD, got {text!r}") from None
    if day > today:
        raise SystemExit(f"--day {day} is in the future")
    return day


def _as_of(day: date, at: str | None, config: AgentConfig) -> datetime:
    """The moment to look at: now for today, the day's end for a past day, or --at."""
    tz = config.identity.tz
    if at is not None:
        try:
            return datetime.combine(day, time.fromisoformat(at), tzinfo=tz)
        except ValueError:
            raise SystemExit(f"--at: expected HH:MM, got {at!r}") from None
    now = datetime.now(tz)
    if day == now.date():
        return now
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def cmd_today(args: argparse.Namespace) -> int:
    from agent.schedule.today import render_today, today_view

    config = _load(args.config)
    day = _day(args.day, config)
    require_agent_store(config.store.path)
    with _open(config) as store:
        print(render_today(today_view(store, config, _as_of(day, args.at, config)), config))
    return 0


def cmd_meal(args: argparse.Namespace) -> int:
    config = _load(args.config)
    meals = config.schedules.meals
    if args.meal not in meals:
        print(f"unknown meal {args.meal!r}: the config has {', '.join(meals)}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    if args.diners < 0:
        print("--diners must be 0 or more", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    day = _day(args.day, config)
    tz = config.identity.tz
    now = datetime.now(tz)
    # a late registration belongs to its day: it occurred at that meal's end
    occurred = now if day == now.date() else datetime.combine(day, meals[args.meal].end, tzinfo=tz)
    dishes = [d.strip() for item in args.dishes or [] for d in item.split(",") if d.strip()]
    with _open(config) as store:
        earlier = [r for r in store.iter_records(type_="meal_service", day=day.isoformat())
                   if r["data"]["meal"] == args.meal]
        if earlier and not args.correct:
            last = earlier[-1]
            print(f"{args.meal} {day} is already registered: {last['data']['diners']} diners at "
                  f"{last['occurred_at'][11:16]} (id {last['id']}). Nothing saved; to replace it, "
                  "run the same command with --correct", file=sys.stderr)
            return 1
        data = MealService(meal=args.meal, served_on=day, diners=args.diners, dishes=dishes,
                           corrects=earlier[-1]["id"] if earlier else None)
        recorder = Recorder(config, store, lambda: datetime.now(tz))
        saved = recorder.record(data, occurred_at=occurred, source=CLI_SOURCE,
                                operator=Operator(staff_id=args.staff) if args.staff else None)
    dish_text = f", dishes: {', '.join(dishes)}" if dishes else ""
    what = f"corrected meal_service (replaces {data.corrects})" if data.corrects else "saved meal_service"
    print(f"{what} {args.meal} {day}: {args.diners} diners{dish_text} (id {saved.id}, seq {saved.seq})")
    return 0


def cmd_discard_samples(args: argparse.Namespace) -> int:
    from agent.schedule.discard import DiscardRefused, discard

    config = _load(args.config)
    day = _day(args.day, config)
    tz = config.identity.tz
    if args.remark is not None and len(args.remark) > REMARK_MAX:
        print(f"--remark: {REMARK_MAX} characters at most", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    with _open(config) as store:
        recorder = Recorder(config, store, lambda: datetime.now(tz))
        try:
            saved = discard(store, recorder, config, day, args.meal, datetime.now(tz), source=CLI_SOURCE,
                            operator=Operator(staff_id=args.staff) if args.staff else None,
                            discarded_by=args.staff, remark=args.remark)
        except DiscardRefused as refused:
            if refused.reason == "already":
                print(refused)
                return 0
            advice = ". Nothing recorded; keep them in the sample fridge" if refused.reason == "too_early" else ""
            print(f"{refused}{advice}", file=sys.stderr)
            return 1
        print(f"confirmed: {saved.data.samples} {args.meal} samples of {day} discarded "
              f"(sample_discard {saved.id}, seq {saved.seq})")
    return 0


def extend(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("today", help="what is done today and what is still due")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--day", help="YYYY-MM-DD (local; default today; a past day shows its end)")
    p.add_argument("--at", help="HH:MM: show the day as it stood at that time")
    p.set_defaults(fn=cmd_today)

    p = sub.add_parser("meal", help="register a meal served and its diners (meal_service record)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--meal", required=True, help="a meal of schedules.meals (breakfast, lunch ...)")
    p.add_argument("--diners", type=int, required=True)
    p.add_argument("--dishes", nargs="*", help="dishes served (space or comma separated); "
                                               "they become the dishes to sample for this meal")
    p.add_argument("--day", help="YYYY-MM-DD (default today)")
    p.add_argument("--staff", help="staff id of the manager registering it")
    p.add_argument("--correct", action="store_true",
                   help="replace this meal's earlier registration (the platform is told which one)")
    p.set_defaults(fn=cmd_meal)

    p = sub.add_parser("discard-samples", help="confirm a meal's samples were discarded after their keep time")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--day", required=True, help="YYYY-MM-DD the samples were taken")
    p.add_argument("--meal", required=True)
    p.add_argument("--staff", help="staff id of who discarded them")
    p.add_argument("--remark", help="a remark for the record (how, witnessed by ...)")
    p.set_defaults(fn=cmd_discard_samples)

