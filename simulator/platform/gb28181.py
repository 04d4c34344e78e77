"""A reference GB/T 28181 platform (the signalling and media-receiving side of WVP or LiveGBS).

It registers devices with a digest challenge (MD5, qop=auth), answers keepalives (403 to a
device it does not know, as a restarted platform does), queries the catalog, invites a
channel live or a recorded range (``Play``/``Playback``) over UDP or TCP (the platform
listening: ``setup:passive``, or connecting: ``setup:active``), receives the RTP, checks
its sequence numbers and writes the PS payload to a file that ``ffprobe`` can read, and
keeps the alarms and media status notifications devices send.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosipua import SipRequest, SipResponse, parse_auth

from agent.video.gb28181 import manscdp
from agent.video.gb28181.rtp import parse_rtp
from agent.video.gb28181.sip import SipEndpoint, new_branch, new_tag, response_to

log = logging.getLogger("simulator.gb28181")


@dataclass
class Registration:
    device_id: str
    contact: tuple[str, int]
    expires_s: int
    at: float
    keepalives: int = 0


@dataclass
class Receiver:
    """One invited stream's receiving end: RTP in, PS payload to ``path``, gaps counted."""

    path: Path
    transport: str
    ssrc: int
    sock: socket.socket | None = None
    port: int = 0
    packets: int = 0
    bytes: int = 0
    gaps: int = 0
    wrong_ssrc: int = 0
    first_packet_mono: float | None = None
    last_seq: int | None = None
    done: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)  # the file is complete
    peer_media: tuple[str, int] | None = None  # for tcp-active: the device's listening port
    conn: socket.socket | None = None  # TCP: the media connection

    def feed(self, packet: bytes, out: object) -> None:
        parsed = parse_rtp(packet)
        if parsed is None:
            return
        seq, _ts, ssrc, _marker, payload = parsed
        if ssrc != self.ssrc:
            self.wrong_ssrc += 1
            return
        if self.first_packet_mono is None:
            self.first_packet_mono = time.monotonic()
        if self.last_seq is not None and seq != (self.last_seq + 1) & 0xFFFF:
            self.gaps += 1
        self.last_seq = seq
        self.packets += 1
        self.bytes += len(payload)
        out.write(payload)  # type: ignore[attr-defined]


@dataclass
class Call:
    call_id: str
    device_id: str
    channel: str
    receiver: Receiver
    invite: SipRequest
    response: SipResponse | None
    invited_mono: float
    to_header: str = ""

    @property
    def accepted(self) -> bool:
        return self.response is not None and self.response.status_code == 200

    def first_packet_s(self) -> float | None:
        first = self.receiver.first_packet_mono
        return None if first is None else first - self.invited_mono


class GbPlatform:
    def __init__(self, server_id: str, domain: str, passwords: dict[str, str], *, host: str = "127.0.0.1",
                 port: int = 0, expires_s: int = 3600) -> None:
        self.server_id = server_id
        self.domain = domain
        self.passwords = passwords
        self.host = host
        self.port = port
        self.expires_s = expires_s
        self.realm = domain
        self.registrations: dict[str, Registration] = {}
        self.refused: list[str] = []
        self.alarms: list[manscdp.Command] = []
        self.media_status: list[manscdp.Command] = []
        self.responses: list[manscdp.Command] = []
        self.calls: dict[str, Call] = {}
        self.messages_in = 0
        self._nonces: set[str] = set()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._endpoint: SipEndpoint | None = None
        self._thread: threading.Thread | None = None
        self._sn = 0
        self._from_tag = new_tag()

    # --- life -------------------------------------------------------------------------------------

    def start(self) -> GbPlatform:
        self._stop = threading.Event()
        self._endpoint = SipEndpoint(self.host, self.port, self._on_request)
        self.port = self._endpoint.port  # a restart binds the same port
        self._thread = threading.Thread(target=self._endpoint.serve, args=(self._stop,), name="gb-platform",
                                        daemon=True)
        self._thread.start()
        log.info("gb platform listening on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop as a crash would: registrations forgotten, nothing said to the devices."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._endpoint is not None:
            self._endpoint.close()
        for call in list(self.calls.values()):
            self._close_receiver(call.receiver)
        with self._lock:
            self.registrations.clear()
            self._nonces.clear()

    # --- waiting ------------------------------------------------------------------------------------

    def wait_for(self, predicate: object, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():  # type: ignore[operator]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"gb platform: {message} not within {timeout:.0f}s")
                self._lock.wait(min(left, 0.2))

    def registered(self, device_id: str) -> Registration | None:
        with self._lock:
            return self.registrations.get(device_id)

    # --- requests from devices ------------------------------------------------------------------------

    def _on_request(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse | None:
        if request.method == "REGISTER":
            return self._on_register(request, peer)
        if request.method == "MESSAGE":
            return self._on_message(request, peer)
        if request.method == "BYE":
            call = self.calls.get(request.call_id or "")
            if call is not None:
                call.receiver.done.set()
            return response_to(request, 200, "OK")
        if request.method == "ACK":
            return None
        return response_to(request, 405, "Method Not Allowed")

    def _on_register(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse:
        device_id = _user(request.get_header("From") or "")
        authorization = request.get_header("Authorization")
        if not authorization:
            return self._challenge(request)
        credentials = parse_auth(authorization)
        p = credentials.params
        password = self.passwords.get(device_id)
        if password is None or p.get("nonce") not in self._nonces or p.get("username") != device_id:
            self.refused.append(device_id)
            return response_to(request, 403, "Forbidden")
        ha1 = _md5(f"{device_id}:{self.realm}:{password}")
        ha2 = _md5(f"REGISTER:{p.get('uri', '')}")
        if p.get("qop") == "auth":
            expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        if p.get("response") != expected:
            with self._lock:
                self.refused.append(device_id)
                self._lock.notify_all()
            log.warning("gb platform: wrong password from %s", device_id)
            return response_to(request, 403, "Forbidden")
        expires = int((request.get_header("Expires") or str(self.expires_s)).strip() or 0)
        with self._lock:
            if expires == 0:
                self.registrations.pop(device_id, None)
            else:
                self.registrations[device_id] = Registration(device_id, peer, min(expires, self.expires_s),
                                                             time.time())
            self._lock.notify_all()
        response = response_to(request, 200, "OK", to_tag=new_tag())
        response.set_header("Expires", str(min(expires, self.expires_s)))
        response.set_header("Date", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000")
        return response

    def _challenge(self, request: SipRequest) -> SipResponse:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        response = response_to(request, 401, "Unauthorized", to_tag=new_tag())
        response.set_header("WWW-Authenticate",
                            f'Digest realm="{self.realm}", nonce="{nonce}", qop="auth", algorithm=MD5')
        return response

    def _on_message(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse:
        device_id = _user(request.get_header("From") or "")
        with self._lock:
            known = device_id in self.registrations
        if not known:
            return response_to(request, 403, "Forbidden")
        try:
            command = manscdp.parse_command(request.body)
        except manscdp.BodyError:
            return response_to(request, 400, "Bad Request")
        with self._lock:
            self.messages_in += 1
            if command.cmd_type == "Keepalive":
                self.registrations[device_id].keepalives += 1
            elif command.cmd_type == "Alarm":
                self.alarms.append(command)
            elif command.cmd_type == "MediaStatus":
                self.media_status.append(command)
            elif command.root == "Response":
                self.responses.append(command)
            self._lock.notify_all()
        return response_to(request, 200, "OK")

    # --- requests to devices ----------------------------------------------------------------------------

    def _new_request(self, method: str, device_id: str, to_user: str, *, call_id: str | None = None,
                     body: bytes = b"", content_type: str = "Application/MANSCDP+xml",
                     cseq: int = 1) -> SipRequest:
        reg = self.registrations[device_id]
        request = SipRequest(method=method, uri=f"sip:{to_user}@{reg.contact[0]}:{reg.contact[1]}")
        request.add_header("Via", f"SIP/2.0/UDP {self.host}:{self.port};rport;branch={new_branch()}")
        request.set_header("From", f"<sip:{self.server_id}@{self.domain}>;tag={self._from_tag}")
        request.set_header("To", f"<sip:{to_user}@{self.domain}>")
        request.set_header("Call-ID", call_id or f"{new_tag()}{new_tag()}")
        request.set_header("CSeq", f"{cseq} {method}")
        request.set_header("Max-Forwards", "70")
        if body:
            request.body = body
            request.set_header("Content-Type", content_type)
        return request

    def query(self, device_id: str, cmd_type: str, target: str | None = None, extra: str = "",
              timeout: float = 10.0) -> manscdp.Command:
        """Send a Query and wait for the device's Response MESSAGE."""
        assert self._endpoint is not None
        self._sn += 1
        sn = self._sn
        body = manscdp.document("Query", cmd_type, sn, target or device_id, extra)
        request = self._new_request("MESSAGE", device_id, device_id, body=body)
        answer = self._endpoint.request(request, self.registrations[device_id].contact)
        if answer is None or answer.status_code != 200:
            raise RuntimeError(f"query {cmd_type}: {answer.status_code if answer else 'no answer'}")
        found: list[manscdp.Command] = []

        def arrived() -> bool:
            found[:] = [r for r in self.responses if r.cmd_type == cmd_type and r.sn == str(sn)]
            return bool(found)

        self.wait_for(arrived, timeout, f"{cmd_type} response")
        return found[0]

    def catalog(self, device_id: str) -> list[dict[str, str]]:
        response = self.query(device_id, "Catalog")
        return [{child.tag: (child.text or "") for child in item}
                for item in response.element.iter("Item")]

    def invite(self, device_id: str, channel: str, out: Path, *, transport: str = "udp", session: str = "Play",
               start: int | None = None, end: int | None = None, ssrc: int | None = None) -> Call:
        """INVITE ``channel``; ``transport``: udp, tcp-passive (the platform listens) or tcp-active."""
        assert self._endpoint is not None
        ssrc = ssrc if ssrc is not None else int(("0" if session == "Play" else "1") + f"{secrets.randbelow(10**9):09d}")
        receiver = Receiver(out, transport, ssrc)
        if transport == "udp":
            receiver.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            receiver.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            receiver.sock.bind((self.host, 0))
            receiver.port = receiver.sock.getsockname()[1]
        elif transport == "tcp-passive":
            receiver.sock = socket.create_server((self.host, 0))
            receiver.port = receiver.sock.getsockname()[1]
        proto = "RTP/AVP" if transport == "udp" else "TCP/RTP/AVP"
        setup = {"udp": "", "tcp-passive": "a=setup:passive\r\na=connection:new\r\n",
                 "tcp-active": "a=setup:active\r\na=connection:new\r\n"}[transport]
        times = f"{start} {end}" if session != "Play" else "0 0"
        sdp = (f"v=0\r\no={self.server_id} 0 0 IN IP4 {self.host}\r\ns={session}\r\nu={channel}:0\r\n"
               f"c=IN IP4 {self.host}\r\nt={times}\r\nm=video {receiver.port or 9} {proto} 96 97 98\r\n"
               f"a=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\na=rtpmap:97 MPEG4/90000\r\n"
               f"{setup}y={ssrc:010d}\r\n").encode()
        request = self._new_request("INVITE", device_id, channel, body=sdp, content_type="APPLICATION/SDP")
        request.set_header("Subject", f"{channel}:{ssrc:010d},{self.server_id}:0")
        request.set_header("Contact", f"<sip:{self.server_id}@{self.host}:{self.port}>")
        invited = time.monotonic()
        if transport != "tcp-active":
            threading.Thread(target=self._receive, args=(receiver,), daemon=True).start()
        response = self._endpoint.request(request, self.registrations[device_id].contact, timeout_s=15)
        call = Call(request.call_id or "", device_id, channel, receiver, request, response, invited)
        if response is None or response.status_code != 200:
            self._close_receiver(receiver)
            return call
        call.to_header = response.get_header("To") or ""
        ack = self._new_request("ACK", device_id, channel, call_id=call.call_id)
        ack.set_header("To", call.to_header)
        self._endpoint.send(ack, self.registrations[device_id].contact)
        self.calls[call.call_id] = call
        if transport == "tcp-active":
            port = int(next(line.split()[1] for line in response.text.splitlines() if line.startswith("m=video")))
            receiver.peer_media = (self.host, port)
            threading.Thread(target=self._receive, args=(receiver,), daemon=True).start()
        return call

    def drop_media(self, call: Call) -> None:
        """The viewer vanishes: its media socket closes without a BYE (a crashed player)."""
        receiver = call.receiver
        receiver.done.set()
        receiver.closed.wait(5)
        for sock in (receiver.sock, receiver.conn):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def bye(self, call: Call) -> int | None:
        assert self._endpoint is not None
        bye = self._new_request("BYE", call.device_id, call.channel, call_id=call.call_id, cseq=2)
        bye.set_header("To", call.to_header)
        answer = self._endpoint.request(bye, self.registrations[call.device_id].contact)
        self._close_receiver(call.receiver)
        return answer.status_code if answer is not None else None

    # --- media ----------------------------------------------------------------------------------------------

    def _receive(self, receiver: Receiver) -> None:
        with open(receiver.path, "wb") as out:
            try:
                if receiver.transport == "udp":
                    assert receiver.sock is not None
                    receiver.sock.settimeout(0.5)
                    while not receiver.done.is_set():
                        try:
                            packet = receiver.sock.recv(65536)
                        except TimeoutError:
                            continue
                        receiver.feed(packet, out)
                    return
                if receiver.transport == "tcp-passive":
                    assert receiver.sock is not None
                    receiver.sock.settimeout(15)
                    conn, _ = receiver.sock.accept()
                else:
                    assert receiver.peer_media is not None
                    conn = socket.create_connection(receiver.peer_media, timeout=15)
                receiver.conn = conn
                conn.settimeout(0.5)
                buffer = b""
                while not receiver.done.is_set():
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    buffer += data
                    while len(buffer) >= 2:
                        size = struct.unpack("!H", buffer[:2])[0]
                        if len(buffer) < 2 + size:
                            break
                        receiver.feed(buffer[2:2 + size], out)
                        buffer = buffer[2 + size:]
                conn.close()
            except OSError as exc:
                log.info("gb platform: media receive ended: %s", exc)
            finally:
                receiver.done.set()
        receiver.closed.set()

    @staticmethod
    def _close_receiver(receiver: Receiver) -> None:
        receiver.done.set()
        if receiver.sock is not None:
            try:
                receiver.sock.close()
            except OSError:
                pass


def _user(header: str) -> str:
    start = header.find("sip:")
    if start < 0:
        return ""
    rest = header[start + 4:]
    return rest.split("@", 1)[0][:64]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5 by definition
