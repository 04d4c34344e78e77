"""The SDP of a GB/T 28181 INVITE: where the platform wants the PS stream, and the answer.

A GB offer is plain SDP plus the GB lines: ``s=`` Play, Playback or Download, ``u=`` the
channel, ``t=`` the range (Unix seconds) for playback, ``y=`` the SSRC (decimal, 10
digits), ``a=setup:active|passive`` with ``TCP/RTP/AVP`` for media over TCP, and for
download ``a=downloadspeed:``. aiosipua's SDP model does not keep the ``y=`` line, and the
offer is a dozen lines: it is read here, bounded.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_SDP = 4096
SESSIONS = ("Play", "Playback", "Download")


class SdpError(ValueError):
    """An offer the device cannot answer (488 Not Acceptable Here)."""


@dataclass(frozen=True)
class Offer:
    session: str  # Play, Playback, Download
    host: str
    port: int
    transport: str  # udp, tcp-active (the platform connects? no: see setup), tcp-passive
    setup: str | None  # the platform's a=setup: "passive" -> the device connects; "active" -> the device listens
    ssrc: int
    start: int | None  # playback range, Unix seconds
    end: int | None
    channel: str | None
    payload_types: tuple[int, ...]

    @property
    def tcp(self) -> bool:
        return self.transport == "tcp"


def parse_offer(body: bytes) -> Offer:
    if len(body) > MAX_SDP:
        raise SdpError("SDP too large")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise SdpError("SDP is not ASCII") from None
    session, host, port, proto, setup, ssrc, channel = "", "", 0, "", None, "", None
    start = end = None
    payloads: tuple[int, ...] = ()
    media_host = ""
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:].strip()
        if key == "s":
            session = value
        elif key == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN":
                raise SdpError("bad c= line")
            if proto:
                media_host = parts[2]
            else:
                host = parts[2]
        elif key == "u":
            channel = value.split(":")[0][:20]
        elif key == "t":
            match = re.fullmatch(r"(\d{1,12})\s+(\d{1,12})", value)
            if not match:
                raise SdpError("bad t= line")
            start, end = int(match.group(1)), int(match.group(2))
        elif key == "m" and not proto:
            match = re.fullmatch(r"video\s+(\d{1,5})\s+(RTP/AVP|TCP/RTP/AVP|RTP/AVP/TCP)\s+([\d ]+)", value)
            if not match:
                raise SdpError("no video m= line with RTP/AVP or TCP/RTP/AVP")
            port, proto = int(match.group(1)), match.group(2)
            payloads = tuple(int(p) for p in match.group(3).split()[:16])
        elif key == "a" and value.startswith("setup:"):
            setup = value.split(":", 1)[1].strip().lower()
        elif key == "y":
            ssrc = value
    if session not in SESSIONS:
        raise SdpError(f"session {session[:16]!r} is not one of {', '.join(SESSIONS)}")
    host = media_host or host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise SdpError("the offer's address is not an IP address") from None
    if not proto:
        raise SdpError("no video m= line")
    tcp = proto != "RTP/AVP"
    if tcp and setup not in ("active", "passive"):
        raise SdpError("TCP media needs a=setup:active or a=setup:passive")
    if not tcp and not 1 <= port <= 65535:
        raise SdpError("bad media port")
    if tcp and setup == "passive" and not 1 <= port <= 65535:
        raise SdpError("bad media port")
    if 96 not in payloads:
        raise SdpError("the offer has no payload type 96 (PS)")
    if not re.fullmatch(r"\d{1,10}", ssrc) or int(ssrc) > 0xFFFFFFFF:
        raise SdpError("missing or bad y= SSRC")
    if session != "Play" and (start is None or end is None or end <= start):
        raise SdpError("a playback needs t= with a start before its end")
    return Offer(session, host, port, "tcp" if tcp else "udp", setup if tcp else None, int(ssrc),
                 start if session != "Play" else None, end if session != "Play" else None, channel, payloads)


def answer(offer: Offer, device_id: str, local_host: str, local_port: int,
           covered: tuple[int, int] | None = None) -> bytes:
    """The 200 OK's SDP: the device sends only (``sendonly``), PS at 96, the same SSRC; for a
    playback ``t=`` is the range the recording really covers (``covered``)."""
    proto = "TCP/RTP/AVP" if offer.tcp else "RTP/AVP"
    setup = ""
    if offer.tcp:  # the platform listens (passive) -> the device connects (active), and the reverse
        setup = "a=setup:active\r\na=connection:new\r\n" if offer.setup == "passive" else \
            "a=setup:passive\r\na=connection:new\r\n"
    times = f"{offer.start} {offer.end}" if offer.start is not None else "0 0"
    if covered is not None:
        times = f"{covered[0]} {covered[1]}"
    lines = (f"v=0\r\no={device_id} 0 0 IN IP4 {local_host}\r\ns={offer.session}\r\nc=IN IP4 {local_host}\r\n"
             f"t={times}\r\nm=video {local_port} {proto} 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\n"
             f"{setup}y={offer.ssrc:010d}\r\nf=\r\n")
    return lines.encode("ascii")
