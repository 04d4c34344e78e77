"""Complaints and suggestions (投诉建议): taken from the public side, answered on the console,
followed by the submitter with a receipt code.

A complaint is a ``public_complaint`` record (with its photo, one transaction) queued for
the platform; the receipt code is shown to the submitter once and kept only as its
SHA-256 in the record. The supervisor's decision is a ``complaint_response`` record; an
accepted complaint opens 整改 work (``agent.social.tasks.open_task``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from agent.core.reads import Reads
from agent.core.recorder import Photo, Recorded, Recorder
from agent.records.complaint_response import ComplaintResponse
from agent.records.envelope import Source
from agent.records.public_complaint import Category, PublicComplaint
from agent.social import tasks
from agent.social.codes import digest, new_code
from agent.words.terms import Term

log = logging.getLogger("agent.public")

PUBLIC_SOURCE = Source(device_id="public", kind="public_side")
RECEIPT_GROUPS, RECEIPT_SIZE = 3, 4  # 12 symbols: ~59 bits
LOOKBACK = 5000  # complaints searched for a receipt (newest first)
MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript:", re.IGNORECASE)
STATES: dict[str, Term] = {
    "received": Term("已收到，待处理", "received, waiting for the school"),
    "accepted": Term("已受理，整改中", "accepted: being rectified"),
    "rectified": Term("已整改", "rectified"),
    "declined": Term("不予受理", "declined"),
    "replied": Term("已答复", "answered"),
}


class MarkupRefused(ValueError):
    """Text with HTML or script in it: refused (the pages escape everything anyway)."""


def has_markup(text: str) -> bool:
    return MARKUP.search(text) is not None


def submit(recorder: Recorder, *, category: Category, text: str, channel: Literal["qr", "representative"],
           invite_id: str | None, photo: Photo | None) -> tuple[Recorded[PublicComplaint], str]:
    """Store a complaint (and its photo) for the platform; returns it and its receipt code."""
    if has_markup(text):
        raise MarkupRefused(text[:0])
    receipt = new_code(RECEIPT_GROUPS, RECEIPT_SIZE)
    data = PublicComplaint(category=category, text=text, channel=channel, invite_id=invite_id,
                           receipt_sha256=digest(receipt))
    saved = recorder.record_with_photo(data, photo, source=PUBLIC_SOURCE)
    log.info("public complaint saved record=%s category=%s channel=%s photo=%s", saved.id, category, channel,
             photo is not None)
    return saved, receipt


@dataclass(frozen=True)
class ComplaintView:
    record: dict[str, Any]  # the stored public_complaint
    state: str  # STATES key
    reply: str | None
    responses: list[dict[str, Any]]
    task_id: str | None

    @property
    def id(self) -> str:
        return str(self.record["id"])


def complaints(reads: Reads, limit: int = 200) -> list[ComplaintView]:
    """The newest complaints with their state."""
    answers = _responses(reads)
    return [_view(reads, r, answers.get(r["id"], [])) for r in reads.latest_records(type_="public_complaint",
                                                                                     limit=limit)]


def by_receipt(reads: Reads, receipt: str) -> ComplaintView | None:
    wanted = digest(receipt)
    for record in reads.latest_records(type_="public_complaint", limit=LOOKBACK):
        if record["data"].get("receipt_sha256") == wanted:
            return _view(reads, record, _responses(reads, record["id"]).get(record["id"], []))
    return None


def by_id(reads: Reads, complaint_id: str) -> ComplaintView | None:
    record = reads.get_record(complaint_id)
    if record is None or record.get("type") != "public_complaint":
        return None
    return _view(reads, record, _responses(reads, complaint_id).get(complaint_id, []))


def respond(recorder: Recorder, complaint_id: str, decision: Literal["accepted", "declined", "replied"],
            reply: str, by: str) -> Recorded[ComplaintResponse]:
    """The supervisor's answer; an acceptance opens the 整改 task. LookupError for an unknown
    complaint, ValueError when it was accepted or declined before (a reply may always follow)."""
    found = by_id(recorder.reads, complaint_id)
    if found is None:
        raise LookupError(complaint_id)
    if decision != "replied" and found.state in ("accepted", "rectified", "declined"):
        raise ValueError("decided")
    task_id = tasks.open_task(recorder, found.record, by) if decision == "accepted" else None
    saved = recorder.record(ComplaintResponse(complaint_id=complaint_id, decision=decision, reply=reply, by=by,
                                              task_id=task_id or None), source=PUBLIC_SOURCE)
    log.info("public complaint answered record=%s complaint=%s decision=%s task=%s by=%s", saved.id, complaint_id,
             decision, task_id or "-", by)
    return saved


def _responses(reads: Reads, only: str | None = None) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in reads.iter_records(type_="complaint_response"):
        cid = record["data"]["complaint_id"]
        if only is None or cid == only:
            found.setdefault(cid, []).append(record)
    return found


def _view(reads: Reads, record: dict[str, Any], responses: list[dict[str, Any]]) -> ComplaintView:
    state, reply, task_id = "received", None, None
    for response in responses:  # in seq order: the decision, then replies
        data = response["data"]
        reply = data["reply"]
        if data["decision"] == "accepted":
            state, task_id = "accepted", data.get("task_id")
        elif data["decision"] == "declined":
            state = "declined"
        elif state == "received":
            state = "replied"
    if state == "accepted" and task_id and tasks.task_done(reads, task_id):
        state = "rectified"
    return ComplaintView(record, state, reply, responses, task_id)
