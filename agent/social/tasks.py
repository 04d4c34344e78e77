"""Where an accepted complaint becomes 整改 work: the one place to swap when the school's
rectification tasks (整改单) arrive.

For now an accepted complaint raises a ``public_complaint`` alarm (an event alarm: only a
person's 整改 closes it, ``agent.words.alarms``); the supervisor rectifies it on the
alarms page like any alarm, and the rectification record reaches the platform linked to
it. ``task_done`` reads how it ended. Both take only the Recorder / the store's reads.
"""

from __future__ import annotations

import json
from typing import Any

from agent.core.reads import Reads
from agent.core.recorder import Recorder
from agent.records.public_complaint import COMPLAINT_CATEGORIES
from agent.words.terms import term

ALARM_KIND = "public_complaint"


def open_task(recorder: Recorder, complaint: dict[str, Any], by: str) -> str:
    """Open the 整改 work for an accepted complaint (a stored ``public_complaint`` record);
    returns the task's id (here: the alarm's raise id)."""
    category = term(COMPLAINT_CATEGORIES, complaint["data"]["category"])
    subject = {"complaint_id": complaint["id"]}
    saved = recorder.raise_alarm(ALARM_KIND, subject, f"投诉待整改：{category.zh} / complaint to rectify: {category.en}",
                                 severity="minor", details={"accepted_by": by})
    if saved is not None:
        return saved.id
    open_ = [row for row in recorder.reads.open_alarms() if row["kind"] == ALARM_KIND
             and subject == _subject(row)]
    return str(open_[0]["raised_id"]) if open_ else ""


def task_done(reads: Reads, task_id: str) -> bool | None:
    """True once the task was carried out (the alarm closed by a 整改), False while open, None if unknown."""
    row = reads.alarm_by_raise(task_id)
    if row is None:
        return None
    return bool(row["state"] == "cleared")


def _subject(row: Any) -> dict[str, str]:
    return dict(json.loads(row["subject"]))
