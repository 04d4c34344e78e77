"""The agent's status, as published retained on ``<root>/status`` and by ``get_status``."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from agent.view import AgentView

_STARTED = time.monotonic()


def build_status(agent: AgentView) -> dict[str, Any]:
    now = agent.now()
    outbox = {}
    for depth in agent.store.outbox_depth():
        oldest_s = None
        if depth.oldest:
            oldest_s = round(max(0.0, (now - datetime.fromisoformat(depth.oldest)).total_seconds()), 1)
        outbox[depth.priority.name.lower()] = {"pending": depth.count, "oldest_age_s": oldest_s}
    clock = agent.clock_state()
    return {
        "agent_id": agent.config.identity.agent_id,
        "version": agent.version,
        "at": now.isoformat(timespec="seconds"),
        "uptime_s": round(time.monotonic() - _STARTED),
        "outbox": outbox,
        "devices": agent.devices.snapshot(),
        "components": dict(agent.component_states()),
        "disk": agent.store.disk_usage_bytes(),
        "disk_budget_bytes": int(agent.config.store.disk_budget_mb * 1024 * 1024),
        "clock": clock.model_dump(),
        "config_sha256": config_digest(agent),
        "config_rollback": agent.store.kv_get("config_rollback", None),  # the last set_config undone
        **({"video": video} if (video := agent.video_status()) is not None else {}),
    }


def config_digest(agent: AgentView) -> str | None:
    if agent.config_path is None:
        return None
    try:
        return hashlib.sha256(agent.config_path.read_bytes()).hexdigest()
    except OSError:
        return None
