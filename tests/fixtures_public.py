"""The public listener beside the kitchen of the console's tests: an HTTP client with its own
cookies per simulated device (urllib), and the kitchen with ``public.enabled``.

    from tests.fixtures_public import Device, public_kitchen_fixture  # noqa: F401
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_console import Kitchen
from tests.fixtures_mqtt import broker_fixture, platform_fixture  # noqa: F401

PUBLIC = {"enabled": True, "port": 0, "survey_answers_per_address": 1000, "requests_per_min": 10_000}


class Answer:
    def __init__(self, status: int, body: str, url: str) -> None:
        self.status, self.body, self.url = status, body, url

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found, self.body[:500]
        return found.group(1)


class Device:
    """One phone: its own cookies (the device id, a representative's session)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> Answer:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, str, bytes]] | None = None
             ) -> Answer:
        if files is None:
            body = urllib.parse.urlencode(fields).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            boundary = uuid.uuid4().hex
            parts = []
            for k, v in fields.items():
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
            for k, (name, ctype, content) in files.items():
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                             f'Content-Type: {ctype}\r\n\r\n'.encode() + content + b"\r\n")
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            kind = f"multipart/form-data; boundary={boundary}"
        return self._open(urllib.request.Request(self.base + path, data=body, headers={"Content-Type": kind}))

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=15) as r:
                return Answer(r.status, r.read().decode(), r.url)
        except urllib.error.HTTPError as e:
            return Answer(e.code, e.read().decode(errors="replace"), request.full_url)


@pytest.fixture(name="public_kitchen")
def public_kitchen_fixture(tmp_path: Path, broker: Any, platform: Any) -> Iterator[Kitchen]:
    kitchen = Kitchen(tmp_path, broker.port, public_config=PUBLIC)
    yield kitchen
    kitchen.close()
