"""The agent's side of the door (``agent.public.door``): the one place the public side's
process gets anything written, and only through the Recorder (complaints) or the social
end's notes (survey answers). What the child hands over is checked again here, as if it
came from the street: the child faces the internet.

The child's own limits refuse floods before anything reaches this door; the desk keeps
a backstop of its own (everyone's complaints per minute and per hour), so even a child
that misbehaves cannot make the agent store more than the config allows.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from agent.core.recorder import Photo, Recorder
from agent.public import ipc
from agent.public.limits import Window
from agent.records.public_complaint import COMPLAINT_CATEGORIES
from agent.social import complaints
from agent.social.complaints import MarkupRefused
from agent.social.invites import Invites
from agent.social.port import SocialStore
from agent.social.surveys import SurveyRefused, Surveys
from agent.view import AgentView

log = logging.getLogger("agent.public")
HOUR = 3600.0
PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff", ".jpg"), "image/png": (b"\x89PNG\r\n\x1a\n", ".png")}


class Desk:
    def __init__(self, view: AgentView, recorder: Recorder, notes: SocialStore) -> None:
        self.view = view
        self.recorder = recorder
        self.invites = Invites(notes)
        self.surveys = Surveys(notes)
        cfg = view.config.public
        self._per_minute = Window(cfg.complaints_per_minute, 60)
        self._per_hour = Window(cfg.complaints_per_hour, HOUR)
        self._ops: dict[str, Callable[[dict[str, Any], bytes], tuple[dict[str, Any], bytes]]] = {
            "now": self._now, "complaint": self._complaint, "survey": self._survey, "still": self._still}

    def serve(self, sock: socket.socket, ready: Callable[[], None]) -> None:
        """Answer the child's requests, one at a time, until it closes the door."""
        try:
            while True:
                header, blob = ipc.recv(sock)
                op = header.get("op")
                if op == "ready":
                    ready()
                    answer: tuple[dict[str, Any], bytes] = ({}, b"")
                elif isinstance(op, str) and op in self._ops:
                    answer = self._ops[op](header, blob)
                else:
                    answer = ({"refused": "bad_form"}, b"")
                ipc.send(sock, *answer)
        except (ipc.DoorClosed, OSError, ValueError):
            return  # the child ended, or sent what no child of ours sends: it is restarted

    def _now(self, _header: dict[str, Any], _blob: bytes) -> tuple[dict[str, Any], bytes]:
        return {"now": self.view.now().isoformat()}, b""

    def _complaint(self, header: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        cfg = self.view.config.public
        category, text = header.get("category"), header.get("text")
        if (category not in COMPLAINT_CATEGORIES or not isinstance(text, str) or not text.strip()
                or len(text) > cfg.text_max):
            return {"refused": "bad_form"}, b""
        if complaints.has_markup(text):
            return {"refused": "markup_in_text"}, b""
        photo, reason = _photo(header.get("photo_type"), blob, cfg.upload_max_kb * 1024)
        if reason:
            return {"refused": reason}, b""
        if self._per_minute.full("all") or not self._per_hour.take("all"):
            return {"refused": "complaints_total"}, b""
        self._per_minute.take("all")
        invite_id = header.get("invite_id") if header.get("channel") == "representative" else None
        invite = self.invites.get(invite_id) if isinstance(invite_id, str) else None
        valid = invite is not None and invite.state(self.view.now()) == "valid"
        try:
            saved, receipt = complaints.submit(self.recorder, category=category,
                                               text=text.strip(), channel="representative" if valid else "qr",
                                               invite_id=invite.id if valid and invite else None, photo=photo)
        except MarkupRefused:
            return {"refused": "markup_in_text"}, b""
        return {"id": saved.id, "receipt": receipt}, b""

    def _survey(self, header: dict[str, Any], _blob: bytes) -> tuple[dict[str, Any], bytes]:
        survey = self.surveys.get(str(header.get("survey_id") or ""))
        device, answers = header.get("device"), header.get("answers")
        if (survey is None or not isinstance(device, str) or not 0 < len(device) <= 64
                or not isinstance(answers, dict)):
            return {"refused": "bad_form"}, b""
        form = {str(k): str(v) for k, v in answers.items()}
        try:
            self.surveys.answer(survey, device, form, self.view.config.public.text_max, self.view.now())
        except SurveyRefused as exc:
            return {"refused": exc.reason}, b""
        return {}, b""

    def _still(self, header: dict[str, Any], _blob: bytes) -> tuple[dict[str, Any], bytes]:
        camera = header.get("camera")
        if camera not in self.view.config.public.public_cameras:
            return {"ok": False}, b""
        feed = self.view.cameras().get(str(camera))
        frame = feed.latest() if feed is not None else None
        if frame is None:
            return {"ok": False}, b""
        import cv2  # late: only a camera still needs it

        ok, data = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return ({"ok": True}, bytes(data.tobytes())) if ok else ({"ok": False}, b"")


def _photo(content_type: object, blob: bytes, max_bytes: int) -> tuple[Photo | None, str | None]:
    if not blob:
        return None, None
    if len(blob) > max_bytes:
        return None, "photo_too_large"
    kind = PHOTO_TYPES.get(str(content_type))
    if kind is None or not blob.startswith(kind[0]):
        return None, "photo_not_image"
    return Photo(blob, str(content_type), kind[1]), None


def serve_thread(desk: Desk, sock: socket.socket, ready: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=desk.serve, args=(sock, ready), name="public-desk", daemon=True)
    thread.start()
    return thread
