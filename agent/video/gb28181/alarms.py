"""The agent's alarms as a GB platform's operator reads them: where they come from, their
priority and their description (the kind's Chinese title, never its identifier)."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from agent.words.alarms import TITLES, kind_term

log = logging.getLogger("agent.video.gb28181")
SEVERITY_PRIORITY = {"critical": 1, "major": 2, "minor": 3, "info": 4}


class AlarmSource(Protocol):
    """The store's alarms (``Store.recent_alarms``): rows with raised_id, kind, severity, subject."""

    def recent_alarms(self, limit: int = 200) -> list[Any]: ...


def alarm_description(kind: str, message: str) -> str:
    """What the platform's operator reads: the kind's Chinese title (agent/words), then the
    message (its own Chinese title not repeated), never the kind's identifier."""
    zh = kind_term(kind).zh if kind in TITLES else ""
    message = message.strip()
    if zh and message.startswith(zh):
        text = message
    elif zh:
        text = f"{zh}：{message}" if message else zh
    else:
        text = message or "告警 alarm"
    return text[:160]


class NewAlarms:
    """The alarms raised since the device started, each handed out once, oldest first; those
    already raised at the start are not news."""

    def __init__(self) -> None:
        self._seen: set[str] | None = None

    @property
    def primed(self) -> bool:
        """The alarms already raised at the start have been read: any raised from now is news."""
        return self._seen is not None

    def take(self, source: AlarmSource) -> list[dict[str, Any]]:
        try:
            rows = [dict(r) for r in source.recent_alarms(50)]
        except Exception as exc:  # the store busy or failing: try again on the next turn
            log.warning("gb28181.alarms.unreadable error=%s", exc)
            return []
        if self._seen is None:
            self._seen = {str(r["raised_id"]) for r in rows}
            return []
        news = []
        for row in sorted(rows, key=lambda r: str(r["raised_at"])):
            raised_id = str(row["raised_id"])
            if raised_id not in self._seen and row.get("state") == "raised":
                self._seen.add(raised_id)
                news.append(row)
        return news


def channel_of(row: dict[str, Any], channels: dict[str, str]) -> str | None:
    """The GB channel of the camera an alarm is about (``channels``: camera id -> channel id);
    None for an alarm about no camera (it goes on the device's own id)."""
    try:
        subject = json.loads(row.get("subject") or "{}")
    except ValueError:
        subject = {}
    camera = subject.get("camera_id") if isinstance(subject, dict) else None
    return channels.get(camera) if isinstance(camera, str) else None
