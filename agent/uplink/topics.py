"""The MQTT topics the agent publishes on, relative to ``<root>`` (docs/PLATFORM.md, v1).

The store queues items by what they are (kind and ref); only the uplink knows how
that is spelled on the wire.
"""

from __future__ import annotations

from agent.store import OutboxItem

ALARM = "alarm"


def outbox_topic(item: OutboxItem) -> str:
    """Where an outbox item is published: ``rec/<type>``, ``alarm``, ``tele/<device>``,
    ``media/<id>`` (a media object's manifest and chunks go below it, see ``media_meta``)."""
    if item.kind == "alarm":
        return ALARM
    if item.kind == "record":
        return f"rec/{item.ref}"
    if item.kind == "telemetry":
        return f"tele/{item.ref}"
    if item.kind == "media":
        return f"media/{item.ref}"
    raise ValueError(f"unknown outbox kind {item.kind!r} (item {item.id})")


def media_meta(media_id: str) -> str:
    return f"media/{media_id}/meta"


def media_chunk(media_id: str, n: int) -> str:
    return f"media/{media_id}/{n}"
