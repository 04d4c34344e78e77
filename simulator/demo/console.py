"""The demo's manager at the kitchen console: the same HTTP requests the console's pages
send (log in, forms carrying their CSRF token), so the day's console entries go through
the agent's real pages, sessions, checks and Recorder."""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.parse
import urllib.request
from typing import Any

from agent.console.auth import add_user

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ALARM = re.compile(r'id="alarm-([0-9a-f-]+)" data-kind="([^"]+)" data-state="(open|acknowledged)"')
ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
TASK = re.compile(r'href="/manager/tasks/([0-9a-f-]+)" data-state="([a-z]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


class ConsoleRefused(RuntimeError):
    """A page answered with its error message instead of accepting the form."""


class ConsoleManager:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    @classmethod
    def create(cls, agent: Any, name: str, password: str, role: str = "manager") -> ConsoleManager:
        """An account in the agent's store (what ``canteen-agent user add`` does), logged in."""
        add_user(agent.store, name, role, password, agent.now())
        manager = cls(f"http://127.0.0.1:{agent.console.server.port}")
        manager.post("/login", {"name": name, "password": password})
        return manager

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:  # noqa: S310 (our own console)
            return str(response.read().decode("utf-8"))

    def post(self, path: str, fields: dict[str, str], form_page: str | None = None) -> str:
        """POST a form the way the page does: with the CSRF token of the page that holds it."""
        token = CSRF.search(self.get(form_page or path))
        if token is None:
            raise ConsoleRefused(f"no form on {form_page or path}")
        body = urllib.parse.urlencode({"csrf": html.unescape(token.group(1)), **fields}).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=10) as response:  # noqa: S310
                text = str(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8")
        error = ERROR.search(text)
        if error is not None:
            raise ConsoleRefused(re.sub(r"<[^>]+>", "", error.group(1)).strip())
        return text

    def daily_check(self, items: int, failed: dict[int, str] | None = None) -> None:
        failed = failed or {}
        fields = {f"ok-{n}": "no" if n in failed else "yes" for n in range(items)}
        fields.update({f"note-{n}": note for n, note in failed.items()})
        self.post("/manager/daily-check", fields)

    def rectify(self, kind: str, action: str, restore_fitness: bool = False) -> str:
        """Write the 整改 (corrective action) on the open alarm of ``kind``, from its page; its id."""
        found = [m.group(1) for m in ALARM.finditer(self.get("/manager/alarms")) if m.group(2) == kind]
        if not found:
            raise ConsoleRefused(f"no open {kind} alarm on the alarms page")
        fields = {"action": action, **({"restore_fitness": "yes"} if restore_fitness else {})}
        self.post(f"/manager/alarms/{found[0]}/rectify", fields, form_page=f"/manager/alarms/{found[0]}")
        return found[0]

    def waste(self, kind: str, kg: float, collector: str, receipt_no: str) -> None:
        self.post("/manager/waste", {"kind": kind, "kg": f"{kg:g}", "collector": collector,
                                     "receipt_no": receipt_no})

    def inspection(self, name: str, organisation: str, findings: str) -> None:
        """An inspector's visit; each line of findings opens a rectification task."""
        self.post("/manager/inspection", {"name": name, "organisation": organisation, "findings": findings})

    def tasks(self, state: str | None = None) -> list[str]:
        """Ids of the tasks on the list (in one state)."""
        return [m.group(1) for m in TASK.finditer(self.get("/manager/tasks")) if state in (None, m.group(2))]

    def task_done(self, task_id: str, action: str) -> None:
        self.post(f"/manager/tasks/{task_id}/done", {"action": action}, form_page=f"/manager/tasks/{task_id}")

    def verify(self, task_id: str, note: str) -> None:
        self.post(f"/manager/tasks/{task_id}/check", {"verdict": "verified", "note": note},
                  form_page=f"/manager/tasks/{task_id}")

    def chlorine_soak(self, mg_per_l: float, minutes: float, meal: str) -> None:
        self.post("/manager/disinfection", {"target": "tableware", "method": "chlorine", "mg_per_l": f"{mg_per_l:g}",
                                            "minutes": f"{minutes:g}", "meal": meal})

    def issue(self, receipt_id: str, grams: float, meal: str, dishes: str) -> None:
        """出库: part of a batch to a meal, from the stock page."""
        self.post("/manager/stock/issue", {"receipt": receipt_id, "amount": f"{grams:g}", "meal": meal,
                                           "dishes": dishes}, form_page="/manager/stock")

    # --- the data administrator ---------------------------------------------------------------

    def change_person(self, staff_id: str, fields: dict[str, str]) -> None:
        """Change a person's basic data from their page, on the version the page shows."""
        version = VERSION.search(self.get(f"/admin/staff/{staff_id}"))
        if version is None:
            raise ConsoleRefused(f"no change form for {staff_id}")
        self.post(f"/admin/staff/{staff_id}", {"version": version.group(1), "action": "save", **fields})

    def maintenance(self, asset_id: str, fields: dict[str, str]) -> None:
        """A maintenance, repair or calibration entry on an asset's page."""
        self.post(f"/admin/assets/{asset_id}/maintenance", fields, form_page=f"/admin/assets/{asset_id}")
