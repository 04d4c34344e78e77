"""整改单: rectification tasks, read from their records and moved on through the Recorder.

A task is the sequence of its ``rectification_task`` records (one per step, same
``task_id``): ``opened`` → ``done`` → ``verified``, or ``reopened`` → ``done`` again. Its
state is its latest step; it is *overdue* while it waits for its owner (opened or
reopened) past its deadline, on the agent's clock. Every step is written with a
once-key naming the task and the step's number (``Recorder.record_once``), so two people
acting on the same task at once cannot both move it: the second is told it moved.

Tasks are opened from what a record found (``open_from``: each failed item of a
常规日检, each finding of a 上级巡检 or a drill, an incident, a failed disinfection), once
per finding (the once-key names the source record and the finding), or by hand.
``sync_overdue`` raises the alarm ``rectification_overdue`` for each overdue task and
clears it when the task is done (a condition alarm).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.core.reads import Reads
from agent.core.recorder import Photo, Recorded, Recorder, StoreWriteError, alarm_key
from agent.core.timeutil import uuid7
from agent.records.envelope import Operator
from agent.records.rectification_task import RectificationTask
from agent.words.alarms import kind_term

log = logging.getLogger("agent.tasks")

OVERDUE_ALARM = "rectification_overdue"
SYSTEM = "agent"  # ``by`` of a task the agent opened itself
ALARM_SOURCES = ("alarm", "cold_chain")
OWNER_WORDS = {"manager": "食堂主管"}  # a task owned by the supervisor role as a whole  # a task whose source_id is an alarm's raise
TEXT_MAX = 2000


class TaskMoved(LookupError):
    """The task is not where the person saw it (someone else moved it, or the step is not allowed)."""


@dataclass(frozen=True)
class Task:
    id: str
    steps: tuple[dict[str, Any], ...]  # its records, oldest first

    @property
    def latest(self) -> RectificationTask:
        return RectificationTask.model_validate(self.steps[-1]["data"])

    @property
    def first(self) -> RectificationTask:
        return RectificationTask.model_validate(self.steps[0]["data"])

    @property
    def step(self) -> str:
        return self.latest.step

    @property
    def opened_at(self) -> datetime:
        return datetime.fromisoformat(self.steps[0]["occurred_at"])

    def overdue(self, now: datetime) -> bool:
        return self.latest.overdue(now)

    def state(self, now: datetime) -> str:
        """opened / reopened / overdue / done / verified."""
        return "overdue" if self.overdue(now) else self.step

    @property
    def waiting_for_owner(self) -> bool:
        return self.step in ("opened", "reopened")


def all_tasks(reads: Reads) -> list[Task]:
    """Every task, newest first."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for record in reads.iter_records(type_="rectification_task"):
        steps.setdefault(record["data"]["task_id"], []).append(record)
    found = [Task(task_id, tuple(records)) for task_id, records in steps.items()]
    return sorted(found, key=lambda t: t.steps[0]["seq"], reverse=True)


def find_task(reads: Reads, task_id: str) -> Task | None:
    return next((t for t in all_tasks(reads) if t.id == task_id), None)


def deadline_for(recorder: Recorder, source_type: str, start: datetime) -> datetime:
    hours = recorder.config.rules.rectification.deadline_hours
    return start + timedelta(hours=hours.get(source_type, hours.get("by_hand", 72)))


class TaskDesk:
    """Opens tasks and moves them on; every step is a record through the Recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @property
    def reads(self) -> Reads:
        return self.recorder.reads

    def default_owner(self) -> str:
        """Who a new task goes to: the canteen's supervisor account (``console.rectification_owner``),
        or the role's name when none is named."""
        return self.recorder.config.console.rectification_owner or "manager"

    def open(self, *, source_type: str, problem: str, by: str, source_id: str | None = None,
             owner: str | None = None, deadline: datetime | None = None,
             key: str | None = None) -> Recorded[RectificationTask] | None:
        """A new task; with ``key``, at most once per key (None when opened before)."""
        now = self.recorder.now().astimezone(self.recorder.tz)
        task_id = uuid7()
        data = RectificationTask(task_id=task_id, step="opened", source_type=source_type,
                                 source_id=source_id, problem=problem[:TEXT_MAX], owner=owner or self.default_owner(),
                                 deadline=deadline or deadline_for(self.recorder, source_type, now), by=by)
        saved = self.recorder.record_once(key or f"rectification_task:{task_id}:0", {"task_id": task_id}, data,
                                          operator=Operator(staff_id=by))
        if saved is not None:
            log.info("task opened task=%s source=%s source_id=%s owner=%s deadline=%s", task_id, source_type,
                     source_id, data.owner, data.deadline.isoformat())
        return saved

    def open_from(self, record: Recorded[Any] | dict[str, Any], by: str) -> list[Recorded[RectificationTask]]:
        """The tasks a stored record calls for, once per finding (a second call opens none)."""
        payload = record if isinstance(record, dict) else json.loads(record.payload)
        opened = []
        found_at = payload.get("occurred_at") or payload.get("recorded_at")
        start = datetime.fromisoformat(found_at) if found_at else self.recorder.now()
        for n, problem in enumerate(problems_of(payload)):
            saved = self.open(source_type=payload["type"], source_id=payload["id"], problem=problem, by=by,
                              deadline=deadline_for(self.recorder, payload["type"], start),
                              key=f"rectification_task:source:{payload['id']}:{n}")
            if saved is not None:
                opened.append(saved)
        return opened

    def follow_up(self, record: Recorded[Any], by: str) -> int:
        """``open_from`` for a record a person has just saved: how many tasks it opened. A
        failing store does not undo what the person saved: the schedule's sweep opens them
        later (logged)."""
        try:
            return len(self.open_from(record, by=by))
        except StoreWriteError as exc:
            log.error("tasks not opened record=%s error=%s: the schedule's sweep opens them", record.id, exc)
            return 0

    def _step(self, task_id: str, allowed: tuple[str, ...], by: str, photo: Photo | None = None,
              **change: Any) -> Recorded[RectificationTask]:
        task = find_task(self.reads, task_id)
        if task is None:
            raise TaskMoved(f"no task {task_id}")
        if task.step not in allowed:
            raise TaskMoved(f"task {task_id} is {task.step}")
        latest = task.latest
        data = latest.model_copy(update={"action_text": None, "note": None, **change, "by": by,
                                         "opened_at": task.opened_at})
        data = RectificationTask.model_validate(data.model_dump())  # checked as a whole
        key = f"rectification_task:{task_id}:{len(task.steps)}"
        saved = self.recorder.record_once(key, {"task_id": task_id, "step": data.step}, data,
                                          operator=Operator(staff_id=by), photo=photo)
        if saved is None:
            raise TaskMoved(f"task {task_id} moved meanwhile")
        log.info("task step task=%s step=%s by=%s photo=%s", task_id, data.step, by, photo is not None)
        self.sync_overdue()
        return saved

    def done(self, task_id: str, action_text: str, by: str, photo: Photo | None = None) -> Recorded[RectificationTask]:
        return self._step(task_id, ("opened", "reopened"), by, photo, step="done", action_text=action_text)

    def verify(self, task_id: str, by: str, note: str | None = None) -> Recorded[RectificationTask]:
        """Verified; a task opened from an alarm also writes the alarm's 整改 (``rectification``,
        what v1 consumers read), which closes an event alarm; a condition alarm stays open
        until its condition clears (docs/PLATFORM.md, alarm life cycle)."""
        saved = self._step(task_id, ("done",), by, step="verified", note=note or None)
        task = find_task(self.reads, task_id)
        if task is not None and task.first.source_type in ALARM_SOURCES and task.first.source_id:
            done = next((s["data"] for s in reversed(task.steps) if s["data"]["step"] == "done"), None)
            action = (done or {}).get("action_text") or task.first.problem
            try:
                self.recorder.rectify_alarm(task.first.source_id, f"{action}（整改单已验收 / task verified）",
                                            (done or {}).get("by") or by)
            except LookupError:  # no such alarm, or a 整改 closed it already
                log.info("task verified task=%s: its alarm %s takes no rectification", task_id, task.first.source_id)
        return saved

    def reopen(self, task_id: str, by: str, note: str, deadline: datetime | None = None) -> Recorded[RectificationTask]:
        now = self.recorder.now().astimezone(self.recorder.tz)
        task = find_task(self.reads, task_id)
        new_deadline = deadline or deadline_for(self.recorder, task.first.source_type if task else "by_hand", now)
        return self._step(task_id, ("done",), by, step="reopened", note=note, deadline=new_deadline)

    def sync_overdue(self, now: datetime | None = None) -> tuple[list[str], list[str]]:
        """Raise ``rectification_overdue`` for each overdue task, clear it for the others:
        the alarm keys (raised, cleared)."""
        now = now or self.recorder.now()
        raised: list[str] = []
        cleared: list[str] = []
        severity = self.recorder.config.rules.rectification.overdue_severity
        open_now = {s.get("task_id") for s in self.reads.open_alarm_subjects(OVERDUE_ALARM)}
        for task in all_tasks(self.reads):
            subject = {"task_id": task.id}
            if task.overdue(now):
                if task.id not in open_now:
                    latest = task.latest
                    local = latest.deadline.astimezone(self.recorder.tz)
                    owner = OWNER_WORDS.get(latest.owner, latest.owner)
                    message = (f"整改逾期：{latest.problem[:60]}（期限 {local:%m-%d %H:%M}，责任人 {owner}）"
                               f" / rectification overdue: due {local:%m-%d %H:%M}")
                    if self.recorder.raise_alarm(OVERDUE_ALARM, subject, message, severity=severity,
                                                 details={"deadline": latest.deadline.isoformat(),
                                                          "owner": latest.owner}, occurred_at=now):
                        raised.append(alarm_key(OVERDUE_ALARM, subject))
            elif task.id in open_now:
                words = {"done": "整改已完成 / done", "verified": "整改已验收 / verified"}.get(task.step, task.step)
                if self.recorder.clear_alarm(OVERDUE_ALARM, subject, words, occurred_at=now):
                    cleared.append(alarm_key(OVERDUE_ALARM, subject))
        return raised, cleared


    def sweep(self, now: datetime | None = None) -> list[Recorded[RectificationTask]]:
        """Open the tasks that what the devices and cameras found today calls for, once each:
        a failed disinfection cycle or UV run, a cold-chain excursion (its alarm), a camera's
        violation of one kind repeated ``rules.rectification.vision_repeats`` times; and those
        of today's entries (daily check, inspection, drill, incident) not opened yet."""
        now = (now or self.recorder.now()).astimezone(self.recorder.tz)
        day = now.date().isoformat()
        opened: list[Recorded[RectificationTask]] = []
        for kind in ("tableware_disinfection", "premises_disinfection"):
            for record in self.reads.iter_records(type_=kind, day=day, verdict="fail"):
                opened += self.open_from(record, by=SYSTEM)
        # what a person's entry opened at once, should the agent have stopped in between
        for kind in ("routine_daily_check", "superior_inspection", "drill", "incident_report"):
            for record in self.reads.iter_records(type_=kind, day=day):
                opened += self.open_from(record, by=(record.get("operator") or {}).get("staff_id") or SYSTEM)
        for row in self.reads.open_alarms():
            if row["kind"] in ("cold_chain_high", "cold_chain_low"):
                saved = self.open(source_type="cold_chain", source_id=row["raised_id"], by=SYSTEM,
                                  problem=str(row["message"]), key=f"rectification_task:source:{row['raised_id']}:0")
                opened += [saved] if saved else []
        repeats = self.recorder.config.rules.rectification.vision_repeats
        if repeats:
            seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for record in self.reads.iter_records(type_="vision_violation", day=day):
                seen.setdefault((record["data"]["camera_id"], record["data"]["kind"]), []).append(record)
            for (camera, kind), records in seen.items():
                if len(records) >= repeats:
                    saved = self.open(source_type="vision_violation", source_id=records[-1]["id"], by=SYSTEM,
                                      problem=f"{camera}：{kind_term(kind).zh}今日 {len(records)} 次 / "
                                              f"{kind_term(kind).en} seen {len(records)} times today", key=f"rectification_task:vision:{day}:{camera}:{kind}")
                    opened += [saved] if saved else []
        return opened


def problems_of(record: dict[str, Any]) -> list[str]:
    """What in a stored record must be fixed, one text per task."""
    data = record.get("data") or {}
    kind = record.get("type")
    if kind == "routine_daily_check":
        return [f"{i['item']}：{i['note']}" if i.get("note") else str(i["item"])
                for i in data.get("items", []) if not i.get("ok")]
    if kind == "superior_inspection":
        text = data.get("findings_text") or ""
        return [line.strip(" -•·\t") for line in text.splitlines() if line.strip(" -•·\t")]
    if kind == "drill":
        return [f for f in data.get("findings", []) if f.strip()]
    if kind == "incident_report" and not data.get("follows"):
        return [f"突发事件：{data.get('what', '')}"[:TEXT_MAX]]
    if kind in ("tableware_disinfection", "premises_disinfection") and record.get("verdict") == "fail":
        return ["消毒不合格，请重新消毒 / disinfection failed: disinfect again"]
    return []
