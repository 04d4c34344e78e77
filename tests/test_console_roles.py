"""The seed's roles, least privilege, over plain HTTP against a real agent: each role
reads what it may and is refused (403, nothing written) every write it may not make;
oversight reads every page and writes nothing but verifications; the installer sees no
health data; accounts keep at least one data administrator."""

from __future__ import annotations

import io
import re
import sys

import pytest
from starlette.routing import Route

from agent.app import Agent
from agent.cli.main import main
from agent.console.auth import ROLES, add_user, authenticate
from agent.console.roles import MAY, ROLE_WORDS, may
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from tests.conftest import make_config
from tests.test_console import T0, Http

PASSWORD = "kitchen-secret-1"
ACCOUNTS = {role: f"{role.replace('_', '-')}-1" for role in ROLES}
# the writes each role may make: the action each POST route is guarded by
GUARDS = {
    "/admin/accounts": "manage_accounts", "/admin/accounts/remove": "manage_accounts",
    "/manager/alarms/{alarm_id}/acknowledge": "acknowledge_alarm", "/manager/alarms/{alarm_id}/rectify": "rectify_alarm",
    "/installer/doctor": "run_doctor",
    "/manager/invites": "manage_invites", "/manager/invites/{invite_id}/revoke": "manage_invites",
    "/manager/surveys": "manage_invites", "/manager/surveys/{survey_id}/summary": "manage_invites",
    "/manager/complaints/{complaint_id}": "answer_complaints",
    # issue 24: 整改单 are the supervisor's to open and mark done, the supervisor's or oversight's to
    # verify; an incident is anyone's to file
    "/manager/tasks": "work_tasks", "/manager/tasks/{task_id}/done": "work_tasks",
    "/manager/tasks/{task_id}/check": "verify_rectification",
    "/manager/incidents": "file_incident", "/manager/incidents/{report_id}/follow-up": "file_incident",
}
OPEN_POSTS = {"/login", "/logout"}


def routes(method: str) -> list[str]:
    found = []
    for route in _app_routes():
        if isinstance(route, Route) and route.methods and method in route.methods:
            found.append(route.path)
    return found


def _app_routes() -> list[object]:
    from agent.console import app as console_app

    modules = [getattr(console_app, name) for name in dir(console_app) if name.startswith("pages_")]
    return [route for module in modules for route in module.ROUTES]


def guard_of(path: str) -> str:
    if path in GUARDS:
        return GUARDS[path]
    if path.startswith("/admin/"):
        return "manage_basic_data"
    if path.startswith("/library"):
        return "manage_documents"
    if "verify" in path:
        return "verify_rectification"
    return "make_entries"


@pytest.fixture
def console_url(tmp_path):
    config = make_config(tmp_path, console={"enabled": True, "port": 0, "login_attempts": 50})
    agent = Agent(config, now=ManualClock(T0), clock=ClockMonitor(lambda: (True, "test")))
    for component in agent.components:
        if component.name == "console":
            agent.supervisor.start(component)
    assert agent.console.server is not None and agent.console.server.started.wait(10)
    for role, name in ACCOUNTS.items():
        add_user(agent.store, name, role, PASSWORD, T0)
    yield agent, f"http://127.0.0.1:{agent.console.server.port}"
    agent.stop()


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "no-such-id", path)


def test_every_role_has_its_words_and_every_action_names_known_roles():
    assert set(ROLE_WORDS) == set(ROLES) == {"data_admin", "manager", "staff", "oversight", "installer"}
    assert all(words.zh and words.en for words in ROLE_WORDS.values())
    assert MAY["verify_rectification"] == {"manager", "oversight"}  # issue 24: the supervisor or oversight
    assert MAY["file_incident"] == set(ROLES)  # issue 24: any logged-in role files an incident
    for action in ("manage_basic_data", "manage_accounts", "manage_documents"):
        assert MAY[action] == {"data_admin"}
    assert not any(may_role == "oversight" for action, roles in MAY.items() if action not in (
        "verify_rectification", "see_personal_data", "export_records", "file_incident") for may_role in roles)
    assert "installer" not in MAY["see_personal_data"]


def test_each_role_reads_its_pages_and_is_refused_every_write_it_may_not_make(console_url):
    agent, url = console_url
    pages = [p for p in routes("GET") if not p.startswith("/station/") and "{" not in p and p not in ("/", "/login")]
    writes = [p for p in routes("POST") if p not in OPEN_POSTS]
    assert "/admin/accounts" in writes and "/manager/waste" in writes
    for role, name in ACCOUNTS.items():
        client = Http(url)
        client.log_in(name, PASSWORD)
        user = authenticate(agent.store, name, PASSWORD)
        for path in pages:
            status, _ = client.get(path)
            only = {"/admin/accounts": "manage_accounts", "/installer/doctor": "run_doctor",
                    "/manager/records.csv": "export_records", "/manager/records.jsonl": "export_records",
                    # the social end's pages: complaint texts and invitees' names
                    "/manager/invites": "see_personal_data", "/manager/complaints": "see_personal_data",
                    "/manager/surveys": "see_personal_data"}.get(path)
            if path == "/manager/records.csv" and may(user, "export_records"):
                assert status == 400, (role, path)  # no type chosen: says so
                continue
            expected = 403 if only and not may(user, only) else 200
            assert status == expected, (role, path, status)
        before = agent.store.last_seq()
        for path in writes:
            if may(user, guard_of(path)):
                continue
            status, text = client.post(filled(path), [("name", "x"), ("role", "manager"), ("password", "y" * 9)])
            assert status == 403, (role, path, status)
        assert agent.store.last_seq() == before, f"{role}: a refused write stored something"
    assert {u["name"] for u in agent.store.console_users()} == set(ACCOUNTS.values())


def test_oversight_may_write_nothing_but_verifications_and_incidents(console_url):
    agent, url = console_url
    client = Http(url)
    client.log_in(ACCOUNTS["oversight"], PASSWORD)
    for path in routes("POST"):
        if path in OPEN_POSTS or guard_of(path) in ("verify_rectification", "file_incident"):
            continue
        status, _ = client.post(filled(path), [])
        assert status == 403, path


def test_the_last_data_administrator_cannot_be_removed_or_demoted(console_url):
    agent, url = console_url
    client = Http(url)
    client.log_in(ACCOUNTS["data_admin"], PASSWORD)
    status, text = client.post("/admin/accounts/remove", [("name", ACCOUNTS["data_admin"])])
    assert status == 400 and "至少保留一名食安资料管理员" in text
    status, text = client.post("/admin/accounts", [("name", ACCOUNTS["data_admin"]), ("role", "manager"),
                                                   ("password", PASSWORD)])
    assert status == 400 and "add another first" in text
    assert agent.store.console_user(ACCOUNTS["data_admin"])["role"] == "data_admin"
    status, text = client.post("/admin/accounts", [("name", "cook-li"), ("role", "staff"), ("password", "short")])
    assert status == 400 and "至少需要8个字符" in text and agent.store.console_user("cook-li") is None
    status, _ = client.post("/admin/accounts", [("name", "cook-li"), ("role", "staff"), ("password", PASSWORD)])
    assert status == 200 and agent.store.console_user("cook-li")["created_by"] == ACCOUNTS["data_admin"]
    status, _ = client.post("/admin/accounts/remove", [("name", "cook-li")])
    assert status == 200 and agent.store.console_user("cook-li") is None


def test_the_command_line_adds_every_role_and_refuses_removing_the_last_data_administrator(tmp_path, monkeypatch,
                                                                                            capsys):
    db = str(tmp_path / "a.db")
    for role in ROLES:
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        assert main(["user", "add", f"u-{role}", "--role", role, "--password-stdin", "--db", db]) == 0
    assert main(["user", "remove", "u-data_admin", "--db", db]) == 1
    assert "at least one data administrator" in capsys.readouterr().err
    assert main(["user", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert all(f"u-{role}" in listing for role in ROLES)
    assert main(["user", "remove", "u-staff", "--db", db]) == 0


def test_only_the_supervisor_overrides_a_stock_issue(console_url):
    agent, url = console_url
    goods = [("receipt", ""), ("amount", "500"), ("meal", "lunch"), ("item", "散装豆腐"), ("override", "1"),
             ("override_reason", "供应商送货单稍后补")]
    staff = Http(url)
    staff.log_in(ACCOUNTS["staff"], PASSWORD)
    before = agent.store.last_seq()
    status, text = staff.post("/manager/stock/issue", goods)
    assert status == 403 and "只有食堂主管可以放行" in text
    assert agent.store.last_seq() == before
    supervisor = Http(url)
    supervisor.log_in(ACCOUNTS["manager"], PASSWORD)
    status, _ = supervisor.post("/manager/stock/issue", goods)
    assert status in (200, 303)
    [issued] = list(agent.store.iter_records(type_="stock_issue"))
    assert issued["data"]["override"]["of"] == "unknown_batch"
