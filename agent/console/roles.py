"""What each console role may do, in one table: pages show only the actions a role may
take (an installer sees no manager's form), and the handlers refuse the rest anyway."""

from __future__ import annotations

from agent.console.auth import User

# action -> the roles that may take it
MAY: dict[str, frozenset[str]] = {
    "acknowledge_alarm": frozenset({"manager"}),
    "rectify_alarm": frozenset({"manager"}),
    "make_entries": frozenset({"manager"}),  # daily check, meals, samples, waste, inspections
    "manage_invites": frozenset({"manager"}),  # 社会端: invite codes and surveys (the data administrator's)
    "answer_complaints": frozenset({"manager"}),  # accept, decline, reply (the canteen supervisor's)
    "see_social_end": frozenset({"manager"}),  # complaints, surveys, invitees' names: never the installer
    "run_doctor": frozenset({"installer"}),
    "see_device_details": frozenset({"installer"}),  # the drivers' raw errors, ports and paths
}


def may(user: User | None, action: str) -> bool:
    return user is not None and user.role in MAY.get(action, frozenset())
