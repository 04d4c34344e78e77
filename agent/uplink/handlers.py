"""The v1 commands the agent itself answers (vision adds snapshot and live video).

Each handler takes the command's ``args`` and returns its ``result`` or raises
CommandError with a reason; none of them leaves a half-applied change behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.command_contract import CommandError, Handler, parse_args
from agent.config.site import StaffMember
from agent.records.registry import priority_of
from agent.uplink.config_update import ConfigUpdateError, apply_config_update
from agent.uplink.status import build_status
from agent.view import AgentControl


class RosterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff: list[StaffMember]


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
        "set_config": lambda args: set_config(agent, args),
        "resend": lambda args: resend(agent, args),
    }


def sync_roster(agent: AgentControl, args: dict[str, Any]) -> dict[str, Any]:
    roster = parse_args(RosterArgs, args)
    count = agent.store.replace_roster([s.model_dump() for s in roster.staff], agent.now().isoformat())
    agent.store.kv_set("roster_from_platform", True)
    return {"staff": count}


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
