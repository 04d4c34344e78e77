"""The v1 commands the agent itself answers (vision adds snapshot and live video).

Each handler takes the command's ``args`` and returns its ``result`` or raises
CommandError with a reason; none of them leaves a half-applied change behind.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from agent.command_contract import CommandError, Handler, parse_args
from agent.config.site import StaffMember
from agent.core.menu import menu_key
from agent.core.recorder import BadgeTaken, BasicDataConflict
from agent.records.basic_data import FACTS
from agent.records.registry import priority_of
from agent.uplink.config_update import ConfigUpdateError, apply_config_update
from agent.uplink.status import build_status
from agent.view import AgentControl

log = logging.getLogger("agent.uplink.handlers")


class RosterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff: list[StaffMember]


class BasicDataItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity: Literal["canteen", "staff", "supplier", "asset", "document"]
    version: int | None = Field(None, ge=0, description="the version the platform last saw; omitted: overwrite")
    data: dict[str, Any]


class BasicDataArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BasicDataItem] = Field(min_length=1, max_length=500)


MealName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
DishName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
MENU_DAYS_BACK, MENU_DAYS_AHEAD = 1, 31  # a menu for yesterday (late) up to a month ahead


class MenuArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    meals: dict[MealName, Annotated[list[DishName], Field(max_length=50)]] = Field(max_length=10)


class ResendArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime
    until: datetime
    types: list[str] | None = None


def core_handlers(agent: AgentControl) -> dict[str, Handler]:
    return {
        "ping": lambda args: {"pong": True, "at": agent.now().isoformat()},
        "get_status": lambda args: build_status(agent),
        "sync_roster": lambda args: sync_roster(agent, args),
        "sync_basic_data": lambda args: sync_basic_data(agent, args),
        "set_config": lambda args: set_config(agent, args),
        "resend": lambda args: resend(agent, args),
        "set_menu": lambda args: set_menu(agent, args),
    }


def sync_roster(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    roster = parse_args(RosterArgs, args)
    count = agent.store.replace_roster([s.model_dump() for s in roster.staff], agent.now().isoformat())
    agent.store.kv_set("roster_from_platform", True)
    return {"staff": count}


def sync_basic_data(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    """The platform's basic data (docs/PLATFORM.md §basic data): each item applied on its
    own, as a ``basic_data`` record with origin ``platform``. An item made on a version
    older than the agent's (a console edit since) is refused with who changed it, when
    and from where, as is a badge another active person holds or a malformed item; the
    others are applied. Nothing is overwritten that the platform did not see."""
    parsed = parse_args(BasicDataArgs, args)
    applied: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for item in parsed.items:
        ident = str(item.data.get({"staff": "staff_id", "supplier": "supplier_id", "asset": "asset_id",
                                   "document": "document_id"}.get(
            item.entity, ""), agent.config.identity.canteen_id))
        try:
            facts = FACTS[item.entity].model_validate(item.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            refused.append({"entity": item.entity, "id": ident, "reason": "invalid",
                            "detail": f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"})
            continue
        old = agent.store.basic_data(item.entity, ident)
        action = "add" if old is None else "leave" if item.entity == "staff" and not item.data.get("active", True) \
            else "retire" if item.entity in ("asset", "document") and not item.data.get("active", True) else "edit"
        try:
            saved = agent.recorder.change_basic_data(facts, action=action, by="platform", origin="platform",
                                                     expected_version=item.version)
        except BasicDataConflict as exc:
            refused.append({"entity": item.entity, "id": ident, "reason": "conflict", "found": exc.found})
            continue
        except BadgeTaken as exc:
            refused.append({"entity": item.entity, "id": ident, "reason": "badge_taken", "badge": exc.badge,
                            "holder": exc.holder})
            continue
        applied.append({"entity": item.entity, "id": ident, "version": saved.data.version, "record_id": saved.id})
    return {"applied": applied, "refused": refused}


def set_config(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    """Validate, write atomically, then reload the agent with it (rolled back if it
    cannot reach the broker within ``broker.config_trial_s``)."""
    if agent.config_path is None:
        raise CommandError("this agent was started without a config file")
    patch = args.get("config")
    if not isinstance(patch, dict):
        raise CommandError("bad args: 'config' must be an object of sections to change")
    try:
        trial_s = agent.config.broker.config_trial_s  # the config in force decides, not the new one
        changed = apply_config_update(agent.config_path, patch, trial_s=trial_s)
    except ConfigUpdateError as exc:
        raise CommandError(str(exc)) from None
    agent.request_reload()
    return {"changed": changed, "applied": "reloading", "trial_s": trial_s}


def resend(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    window = parse_args(ResendArgs, args)
    tz = agent.config.identity.tz  # stored times carry the local offset: compare like with like
    count = agent.store.requeue(window.since.astimezone(tz).isoformat(timespec="milliseconds"),
                                window.until.astimezone(tz).isoformat(timespec="milliseconds"),
                                window.types, priority_of=priority_of)
    return {"requeued": count}


def set_menu(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    """The platform's menu for one day (meal -> dishes): the stations and the console list
    it before the school's own plans (``agent.core.menu``). ``meals: {}`` withdraws it, and
    the school's plans count again. A day outside yesterday .. a month ahead is refused."""
    menu = parse_args(MenuArgs, args)
    today = agent.now().astimezone(agent.config.identity.tz).date()
    if not today - timedelta(days=MENU_DAYS_BACK) <= menu.day <= today + timedelta(days=MENU_DAYS_AHEAD):
        raise CommandError(f"bad args: day: {menu.day} is not between yesterday and {MENU_DAYS_AHEAD} days ahead")
    replaced = agent.store.kv_get(menu_key(menu.day)) is not None
    at = agent.now().isoformat()
    meals = {meal: list(dict.fromkeys(names)) for meal, names in menu.meals.items()}
    agent.store.kv_set(menu_key(menu.day), {"day": menu.day.isoformat(), "meals": meals, "at": at} if meals else None,
                       at)
    dishes = sum(len(names) for names in meals.values())
    log.info("menu from the platform day=%s meals=%d dishes=%d replaced=%s", menu.day, len(menu.meals), dishes,
             replaced)
    return {"day": menu.day.isoformat(), "meals": len(menu.meals), "dishes": dishes, "replaced": replaced,
            "withdrawn": not menu.meals}
