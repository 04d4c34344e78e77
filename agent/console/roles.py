"""What each console role may do, in one table: pages show only the actions a role may
take (an installer sees no manager's form), and the handlers refuse the rest anyway."""

from __future__ import annotations

from agent.console.auth import User

# action -> the roles that may take it
MAY: dict[str, frozenset[str]] = {
    "acknowledge_alarm": frozenset({"manager"}),
    "rectify_alarm": frozenset({"manager"}),
    "make_entries": frozenset({"manager"}),  # daily check, meals, samples, waste, inspections
    # 整改单: the supervisor opens tasks by hand and marks them done; the supervisor or
    # oversight verifies (never the person who marked it done: agent.console.pages_tasks)
    "work_tasks": frozenset({"manager"}),
    "verify_rectification": frozenset({"manager", "oversight"}),
    # 突发事件: anyone logged in files one, from a phone
    "file_incident": frozenset({"manager", "installer", "oversight", "data_admin", "staff"}),
    "run_doctor": frozenset({"installer"}),
    "see_device_details": frozenset({"installer"}),  # the drivers' raw errors, ports and paths
}


def may(user: User | None, action: str) -> bool:
    return user is not None and user.role in MAY.get(action, frozenset())
