"""``canteen-agent user add NAME --role data_admin``: console accounts (``user list`` and
``user remove`` too). The roles: data_admin (食安资料管理员), manager (食堂主管, the canteen
supervisor), staff (食安工作相关人员), oversight (食安监督管理员), installer (安装维护人员);
``agent.console.roles`` says what each may do.

The password is asked twice on the terminal, or read from the first line of standard
input with ``--password-stdin`` (scripts, the demo); it is stored only as an scrypt hash.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from agent.cli.common import DEFAULT_CONFIG, load_or_exit
from agent.console.auth import ROLES, AccountError, add_user, remove_user
from agent.store import Store


def _open_store(args: argparse.Namespace) -> Store:
    if args.db:
        return Store(args.db)
    config = load_or_exit(args.config)
    return Store(config.store.path, config.store.media_dir)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        print("the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    password = _password(args)
    if password is None:
        return 1
    with _open_store(args) as store:
        try:
            user = add_user(store, args.name, args.role, password, datetime.now().astimezone())
        except ValueError as exc:
            print(f"{exc}; nothing changed", file=sys.stderr)
            return 1
    print(f"user {user.name} ({user.role}) saved")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        try:
            remove_user(store, args.name)
        except AccountError as exc:
            print(f"{exc}; nothing changed", file=sys.stderr)
            return 1
    print(f"user {args.name} removed")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        for user in store.console_users():
            print(f"{user['name']:24} {user['role']:10} created {user.get('created_at', '-')}")
    return 0


def extend(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("user", help="console accounts (data administrator, supervisor, staff, oversight, installer)")
    users = p.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="create or replace an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(fn=cmd_user_add)
    remove = users.add_parser("remove", help="delete an account (its records keep its name)")
    remove.add_argument("name")
    remove.set_defaults(fn=cmd_user_remove)
    listing = users.add_parser("list", help="list accounts (names and roles)")
    listing.set_defaults(fn=cmd_user_list)
    for q in (add, remove, listing):
        q.add_argument("--config", default=DEFAULT_CONFIG)
        q.add_argument("--db", help="open this database instead of the config's")

