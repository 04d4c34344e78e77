"""账号 Accounts: the data administrator creates the school's console accounts and gives
each its role (``agent.console.roles``); the same as ``canteen-agent user add``. A bad
name, a short password, or taking away the last data administrator is refused with the
reason, and nothing changes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.console.auth import ROLES, AccountError, add_user, remove_user
from agent.console.web import action_log, allowed_session, checked_form, console, page, redirect


def _accounts_page(request: Request, status: int = 200, **extra: Any) -> Response:
    users = sorted(console(request).accounts.console_users(), key=lambda u: (ROLES.index(u["role"])
                                                                             if u.get("role") in ROLES else 99,
                                                                             u["name"]))
    shown = [{k: u.get(k) for k in ("name", "role", "created_at", "created_by", "changed_at", "changed_by")}
             for u in users]
    extra.setdefault("form", {})
    return page(request, "accounts.html", status=status, users=shown, roles=ROLES, **extra)


async def accounts(request: Request) -> Response:
    allowed_session(request, "manage_accounts", "Only the data administrator manages accounts")
    return _accounts_page(request, done=request.query_params.get("done"))


async def save_account(request: Request) -> Response:
    current = allowed_session(request, "manage_accounts", "Only the data administrator manages accounts")
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()[:65]
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    ctx = console(request)
    assert current.user is not None
    try:
        add_user(ctx.accounts, name, role, password, ctx.now(), by=current.user.name)
    except AccountError as exc:
        return _accounts_page(request, 400, error=exc.message, form={"name": name, "role": role})
    if name != current.user.name:
        ctx.sessions.end_user(name)  # a changed role takes effect at once
    action_log(request, "account_saved", account=name, role=role)
    return redirect(request, "/admin/accounts?done=saved")


async def delete_account(request: Request) -> Response:
    allowed_session(request, "manage_accounts", "Only the data administrator manages accounts")
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()[:65]
    try:
        remove_user(console(request).accounts, name)
    except AccountError as exc:
        return _accounts_page(request, 400, error=exc.message)
    console(request).sessions.end_user(name)
    action_log(request, "account_removed", account=name)
    return redirect(request, "/admin/accounts?done=removed")


ROUTES = [
    Route("/admin/accounts", accounts, methods=["GET"]),
    Route("/admin/accounts", save_account, methods=["POST"]),
    Route("/admin/accounts/remove", delete_account, methods=["POST"]),
]
