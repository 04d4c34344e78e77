"""Where an accepted complaint becomes 整改 work: a rectification task (整改单,
``agent.core.tasks``) with the complaint as its source, owned by the canteen's supervisor,
followed to done and verified like any other; ``task_done`` reads how it ended. Both take
only the Recorder / the store's reads.
"""

from __future__ import annotations

from typing import Any

from agent.core.reads import Reads
from agent.core.recorder import Recorder
from agent.core.tasks import TaskDesk, all_tasks, find_task
from agent.records.public_complaint import COMPLAINT_CATEGORIES
from agent.words.terms import term

SOURCE_TYPE = "complaint"


def open_task(recorder: Recorder, complaint: dict[str, Any], by: str) -> str:
    """Open the 整改 task for an accepted complaint (a stored ``public_complaint`` record),
    once per complaint; returns the task's id."""
    category = term(COMPLAINT_CATEGORIES, complaint["data"]["category"])
    problem = f"投诉：{category.zh}。{complaint['data'].get('text') or ''}".strip()
    saved = TaskDesk(recorder).open(source_type=SOURCE_TYPE, source_id=complaint["id"], problem=problem, by=by,
                                    key=f"complaint_task:{complaint['id']}")
    if saved is not None:
        return saved.data.task_id
    earlier = [t for t in all_tasks(recorder.reads)
               if t.first.source_type == SOURCE_TYPE and t.first.source_id == complaint["id"]]
    return earlier[0].id if earlier else ""


def task_done(reads: Reads, task_id: str) -> bool | None:
    """True once the task was carried out (done, or done and verified), False while open,
    None if unknown."""
    task = find_task(reads, task_id)
    if task is None:
        return None
    return task.step in ("done", "verified")
