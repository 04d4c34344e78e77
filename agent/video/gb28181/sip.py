"""SIP over UDP for the GB device: aiosipua parses and builds the messages; this module
keeps the socket, the client transactions (retransmission, matching) and the limits.

aiosipua (PyPI, MIT, pure Python, typed, no dependencies) was chosen over a home-made
parser: it bounds the header count, refuses CR/LF injection in header values, reconciles
Content-Length, and answers digest challenges (RFC 7616, MD5 as GB platforms use). Its
asyncio UAC/UAS layers are not used: the agent's components are threads, and a GB device
needs only REGISTER, MESSAGE and the INVITE/ACK/BYE of one dialog per stream.
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosipua import SipMessage, SipRequest, SipResponse
from aiosipua.message import missing_required_headers

log = logging.getLogger("agent.video.gb28181.sip")

MAX_DATAGRAM = 65535
MAX_MESSAGE = 16 * 1024  # a GB message is a few hundred bytes; a catalog answer is split below this
T1 = 0.5
USER_AGENT = "canteen-agent GB/T 28181"

RequestHandler = Callable[[SipRequest, tuple[str, int]], "SipResponse | None"]


def new_tag() -> str:
    return secrets.token_hex(4)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response_to(request: SipRequest, status: int, reason: str, *, to_tag: str | None = None,
                body: bytes = b"", content_type: str | None = None) -> SipResponse:
    """A response copying the request's Via, From, To (with our tag), Call-ID and CSeq."""
    response = SipResponse(status_code=status, reason_phrase=reason)
    for via in request.headers.get("via"):
        response.add_header("Via", via)
    for name in ("From", "Call-ID", "CSeq"):
        value = request.get_header(name)
        if value is not None:
            response.set_header(name, value)
    to = request.get_header("To") or ""
    if to_tag and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    response.set_header("To", to)
    response.set_header("User-Agent", USER_AGENT)
    if body:
        response.body = body
        response.set_header("Content-Type", content_type or "Application/MANSCDP+xml")
    return response


@dataclass
class Pending:
    done: threading.Event
    response: SipResponse | None = None


class SipEndpoint:
    """One UDP socket: requests out with retransmission, responses matched, requests in
    to ``handler`` (whose answer is sent back; None: no answer, e.g. ACK)."""

    def __init__(self, bind_host: str, bind_port: int, handler: RequestHandler) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind_host, bind_port))
        self.sock.settimeout(0.2)
        self.handler = handler
        self._pending: dict[tuple[str, str], Pending] = {}
        self._lock = threading.Lock()
        self.rejected = 0  # messages refused as malformed or hostile
        self.received = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def local_host_for(self, peer: tuple[str, int]) -> str:
        """The address of this box facing ``peer`` (a UDP connect sends nothing)."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(peer)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
        finally:
            probe.close()

    def close(self) -> None:
        self.sock.close()

    # --- sending -------------------------------------------------------------------------------

    def send(self, message: SipMessage, peer: tuple[str, int]) -> None:
        try:
            self.sock.sendto(bytes(message), peer)
        except OSError as exc:
            log.warning("gb28181.sip.send_failed peer=%s:%d error=%s", peer[0], peer[1], exc)

    def request(self, request: SipRequest, peer: tuple[str, int], timeout_s: float = 8.0) -> SipResponse | None:
        """Send and wait for the final response (retransmitted as RFC 3261 timer A/E); None on timeout."""
        key = self._key(request)
        pending = Pending(threading.Event())
        with self._lock:
            self._pending[key] = pending
        try:
            deadline = time.monotonic() + timeout_s
            interval = T1
            while True:
                self.send(request, peer)
                if pending.done.wait(min(interval, max(0.0, deadline - time.monotonic()))):
                    return pending.response
                if time.monotonic() >= deadline:
                    return None
                interval = min(interval * 2, 4.0)
        finally:
            with self._lock:
                self._pending.pop(key, None)

    @staticmethod
    def _key(message: SipMessage) -> tuple[str, str]:
        vias = message.headers.get("via")
        branch = ""
        if vias:
            for part in vias[0].split(";")[1:]:
                name, _, value = part.strip().partition("=")
                if name.lower() == "branch":
                    branch = value
        cseq = (message.get_header("CSeq") or "").split()
        return branch, cseq[-1].upper() if cseq else ""

    # --- receiving -----------------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if stop.is_set():
                    return
                time.sleep(0.05)
                continue
            self.received += 1
            try:
                self.on_datagram(data, peer)
            except Exception:  # a bug in one message's handling never stops the endpoint
                self.rejected += 1
                log.exception("gb28181.sip.handler_failed peer=%s:%d", peer[0], peer[1])

    def on_datagram(self, data: bytes, peer: tuple[str, int]) -> None:
        if not data.strip(b"\r\n"):
            return  # keepalive CRLF
        if len(data) > MAX_MESSAGE:
            self._reject(peer, f"message of {len(data)} bytes is larger than {MAX_MESSAGE}")
            return
        try:
            message = SipMessage.parse(data)
        except (ValueError, IndexError, UnicodeError) as exc:
            self._reject(peer, f"unparseable: {exc}"[:200])
            return
        if isinstance(message, SipResponse):
            key = self._key(message)
            with self._lock:
                pending = self._pending.get(key)
            if pending is not None and message.status_code >= 200:
                pending.response = message
                pending.done.set()
            return
        missing = missing_required_headers(message)
        if missing or not message.method.isalpha() or len(message.method) > 16:
            self._reject(peer, f"missing {', '.join(missing) or 'method'}")
            if not missing:
                self.send(response_to(message, 400, "Bad Request"), peer)
            return
        answer = self.handler(message, peer)
        if answer is not None:
            self.send(answer, peer)

    def _reject(self, peer: tuple[str, int], why: str) -> None:
        self.rejected += 1
        log.warning("gb28181.sip.rejected peer=%s:%d reason=%s", peer[0], peer[1], why)


@dataclass
class DialogState:
    """The state of the device's requests to the platform: dialog ids and digest."""

    call_id: str = field(default_factory=lambda: f"{new_tag()}{new_tag()}")
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 0
    sn: int = 0

    def next_cseq(self) -> int:
        self.cseq += 1
        return self.cseq

    def next_sn(self) -> int:
        self.sn += 1
        return self.sn


def granted_expiry(response: SipResponse, asked: int) -> int:
    """The registration time the registrar granted (its Expires or the contact's), at most what was asked."""
    for value in (response.get_header("Expires"), *(c.split("expires=")[-1].split(";")[0]
                                                      for c in response.headers.get("contact")
                                                      if "expires=" in c)):
        if value and value.strip().isdigit():
            return max(1, min(int(value.strip()), asked))
    return asked


def user_of(uri: str) -> str:
    """The user part of a SIP URI (a GB channel or device id), or '' when there is none."""
    match = re.match(r"^sips?:([^@;>]{1,64})@", uri)
    return match.group(1) if match else ""
