"""The console's roles and what each may do, in one table: pages show only the actions a
role may take (an installer sees no manager's form), and the handlers refuse the rest anyway.

The roles are those the province's annex names for the school end (least privilege):

- ``data_admin`` 食安资料管理员: the canteen's basic data, staff, suppliers, assets,
  accounts and documents;
- ``manager`` 食堂主管 (the canteen supervisor): runs the day: entries, alarms, 整改;
- ``staff`` 食安工作相关人员: the entries of their duties (stations need no login);
- ``oversight`` 食安监督管理员 (school leaders, the education bureau): reads every page,
  verifies 整改 and exports; changes nothing else;
- ``installer`` 安装维护人员: devices and the doctor; no personal data beyond names.
"""

from __future__ import annotations

from agent.console.auth import ROLES, User
from agent.words.terms import Term

ROLE_WORDS: dict[str, Term] = {
    "data_admin": Term("食安资料管理员", "Data administrator"),
    "manager": Term("食堂主管", "Canteen supervisor"),
    "staff": Term("食安工作相关人员", "Food-safety staff"),
    "oversight": Term("食安监督管理员", "Oversight"),
    "installer": Term("安装维护人员", "Installer"),
}

# action -> the roles that may take it
MAY: dict[str, frozenset[str]] = {
    "acknowledge_alarm": frozenset({"manager"}),
    "rectify_alarm": frozenset({"manager"}),
    "make_entries": frozenset({"manager", "staff"}),  # daily check, meals, samples, waste, inspections
    "override_stock": frozenset({"manager"}),  # issue an expired batch or goods with no receipt (recorded)
    "manage_basic_data": frozenset({"data_admin"}),  # canteen profile, staff, suppliers, assets, maintenance
    "manage_accounts": frozenset({"data_admin"}),
    "manage_documents": frozenset({"data_admin"}),
    "see_personal_data": frozenset({"data_admin", "manager", "staff", "oversight"}),  # health certificates
    "export_records": frozenset({"data_admin", "manager", "oversight"}),
    # 社会端 (docs/PUBLIC.md): invite codes and surveys are the data administrator's, complaints the
    # supervisor's to answer; their pages (complaint texts, invitees' names) need see_personal_data
    "manage_invites": frozenset({"data_admin"}),
    "answer_complaints": frozenset({"manager"}),
    # 整改单: the supervisor opens tasks by hand and marks them done (and the task's owner,
    # when an account); the supervisor or oversight verifies, never the person who marked
    # it done (agent.console.pages_tasks)
    "work_tasks": frozenset({"manager"}),
    "verify_rectification": frozenset({"manager", "oversight"}),
    # 突发事件: anyone logged in files one, from a phone
    "file_incident": frozenset({"manager", "installer", "oversight", "data_admin", "staff"}),
    "run_doctor": frozenset({"installer"}),
    "see_device_details": frozenset({"installer"}),  # the drivers' raw errors, ports and paths
}
assert set(ROLE_WORDS) == set(ROLES), "every role has its words"
assert all(roles <= set(ROLES) for roles in MAY.values()), "MAY names only known roles"


def may(user: User | None, action: str) -> bool:
    return user is not None and user.role in MAY.get(action, frozenset())


def role_words(role: str) -> Term:
    return ROLE_WORDS.get(role, Term(role, role))
