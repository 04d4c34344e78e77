"""The door between the public side's process and the agent: one message is a small JSON
header and an optional blob (a photo, a camera still), each length-prefixed and bounded.

JSON, never pickle: the child faces the internet, so what it sends is parsed as data and
checked again by the agent (``agent.public.desk``); nothing it sends can run code there.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

HEAD = struct.Struct(">II")
MAX_JSON = 256 * 1024
MAX_BLOB = 40 * 1024 * 1024


class DoorClosed(ConnectionError):
    """The other side has gone (the agent stopped, or the child ended)."""


def send(sock: socket.socket, header: dict[str, Any], blob: bytes = b"") -> None:
    data = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    if len(data) > MAX_JSON or len(blob) > MAX_BLOB:
        raise ValueError("message too large")
    sock.sendall(HEAD.pack(len(data), len(blob)) + data + blob)


def recv(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    size, blob_size = HEAD.unpack(_exactly(sock, HEAD.size))
    if size > MAX_JSON or blob_size > MAX_BLOB:
        raise DoorClosed("message too large: the door is closed")
    header = json.loads(_exactly(sock, size))
    if not isinstance(header, dict):
        raise DoorClosed("not a message: the door is closed")
    return header, _exactly(sock, blob_size) if blob_size else b""


def _exactly(sock: socket.socket, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise DoorClosed("the other side closed the door")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
