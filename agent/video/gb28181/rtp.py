"""RTP for GB/T 28181 media: MPEG-PS packs cut into RTP packets (RFC 3550), over UDP or TCP.

No standard tool packs a program stream into RTP the way GB/T 28181 wants it (payload type
96 ``PS/90000``, a pack split across packets of at most ``MAX_PAYLOAD`` bytes, the marker
on the last packet of a pack, the timestamp the pack's SCR), so this one small part is the
project's own. Over TCP each packet goes with the RFC 4571 two-byte length in front.
"""

from __future__ import annotations

import re
import socket
import struct
import threading

PS_PAYLOAD_TYPE = 96
MAX_PAYLOAD = 1400  # stays under a 1500-byte MTU with IP, UDP and RTP headers


def pes_pts(pes: bytes) -> int | None:
    """The 33-bit presentation time stamp (90 kHz) of an MPEG-2 PES packet, None if it has none."""
    if len(pes) < 14 or (pes[6] & 0xC0) != 0x80 or not pes[7] & 0x80:
        return None
    b9, b10, b11, b12, b13 = pes[9:14]
    return ((b9 >> 1) & 7) << 30 | b10 << 22 | (b11 >> 1) << 15 | b12 << 7 | b13 >> 1


# an H.264 IDR slice or sequence parameter set (nal_ref_idc 1-3) just after a start code
_KEY_NAL = re.compile(rb"\x00\x00\x01[\x25\x45\x65\x27\x47\x67]")


class PsSplitter:
    """Cuts a program stream into the units RTP carries: whatever pack header, system header
    and stream map precede a PES packet, with that packet (a video PES is one frame, or part of
    a large one). Each unit comes out once complete (PES lengths are read, nothing waits for
    the next start code), with its PTS as the timestamp and whether it opens a key frame (an
    IDR slice or SPS in the PES). GB/T 28181 wants the program stream map before every key
    frame, and a viewer joining a running stream needs one; mpegpsmux writes it at the start
    only, so its map is kept and repeated, byte for byte, before each key frame's PES. Bytes
    that are not a PS structure are skipped up to the next start code."""

    MAX_BUFFER = 4 * 1024 * 1024

    def __init__(self) -> None:
        self.buffer = bytearray()
        self._unit = bytearray()
        self._has_psm = False
        self.psm: bytes | None = None
        self.ts = 0
        self.skipped = 0

    def feed(self, chunk: bytes) -> list[tuple[bytes, int, bool]]:
        self.buffer += chunk
        out: list[tuple[bytes, int, bool]] = []
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 6:
            if buf[pos:pos + 3] != b"\x00\x00\x01" or buf[pos + 3] < 0xB9:
                found = buf.find(b"\x00\x00\x01", pos + 1)
                while found >= 0 and found + 3 < len(buf) and buf[found + 3] < 0xB9:
                    found = buf.find(b"\x00\x00\x01", found + 1)
                nxt = found if found >= 0 else max(pos, len(buf) - 3)
                self.skipped += nxt - pos
                pos = nxt
                continue
            code = buf[pos + 3]
            if code == 0xB9:  # program end
                size = 4
            elif code == 0xBA:
                if len(buf) - pos < 14:
                    break
                size = 14 + (buf[pos + 13] & 0x07) if (buf[pos + 4] & 0xC0) == 0x40 else 12
            else:
                size = 6 + (buf[pos + 4] << 8 | buf[pos + 5])
            if len(buf) - pos < size:
                break
            item = bytes(buf[pos:pos + size])
            pos += size
            if code == 0xBC:
                self.psm, self._has_psm = item, True
            if 0xE0 <= code <= 0xEF:
                pts = pes_pts(item)
                if pts is not None:
                    self.ts = pts
                key = _KEY_NAL.search(item, 9, 9 + 9 + item[8] + 64) is not None if len(item) > 9 else False
                if key and not self._has_psm and self.psm is not None:
                    self._unit += self.psm
                self._unit += item
                out.append((bytes(self._unit), self.ts, key))
                self._unit.clear()
                self._has_psm = False
            else:
                self._unit += item
        del buf[:pos]
        if len(buf) > self.MAX_BUFFER:  # a length that never completes: start afresh
            self.skipped += len(buf)
            buf.clear()
            self._unit.clear()
        return out


class RtpPacketiser:
    """One RTP stream: its SSRC, sequence numbers and timestamps."""

    def __init__(self, ssrc: int, payload_type: int = PS_PAYLOAD_TYPE, first_seq: int = 0) -> None:
        self.ssrc = ssrc & 0xFFFFFFFF
        self.payload_type = payload_type & 0x7F
        self.seq = first_seq & 0xFFFF
        self.packets = 0
        self.octets = 0

    def packets_for(self, pack: bytes, timestamp: int) -> list[bytes]:
        """The RTP packets carrying one pack (the marker on its last)."""
        out: list[bytes] = []
        ts = timestamp & 0xFFFFFFFF
        for offset in range(0, len(pack), MAX_PAYLOAD):
            chunk = pack[offset:offset + MAX_PAYLOAD]
            last = offset + MAX_PAYLOAD >= len(pack)
            header = struct.pack("!BBHII", 0x80, (0x80 if last else 0) | self.payload_type, self.seq, ts, self.ssrc)
            out.append(header + chunk)
            self.seq = (self.seq + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(chunk)
        return out


def parse_rtp(packet: bytes) -> tuple[int, int, int, bool, bytes] | None:
    """(sequence, timestamp, ssrc, marker, payload) of an RTP packet, None if it is not one."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    count = packet[0] & 0x0F
    start = 12 + 4 * count
    if packet[0] & 0x10:  # header extension
        if len(packet) < start + 4:
            return None
        start += 4 + 4 * struct.unpack("!H", packet[start + 2:start + 4])[0]
    end = len(packet)
    if packet[0] & 0x20:  # padding
        end -= packet[-1]
    if start > end:
        return None
    seq, ts, ssrc = struct.unpack("!HII", packet[2:12])
    return seq, ts, ssrc, bool(packet[1] & 0x80), packet[start:end]


class RtpSink:
    """Where one viewer's packets go: ``send`` a pack, ``close`` at the end."""

    def send(self, packets: list[bytes]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class UdpSink(RtpSink):
    def __init__(self, host: str, port: int, local_port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("", local_port))
        self.target = (host, port)
        # connected: the kernel reports the platform's ICMP port unreachable to send(), so a
        # viewer that went away without a BYE ends the stream
        self.sock.connect(self.target)

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, packets: list[bytes]) -> None:
        for packet in packets:
            try:
                self.sock.send(packet)
            except BlockingIOError:
                continue  # the socket buffer is full: this packet is lost, as on the network
            except OSError as exc:  # ICMP port unreachable from an earlier datagram: the peer is gone
                raise ConnectionError(f"udp send to {self.target[0]}:{self.target[1]} failed: {exc}") from exc

    def close(self) -> None:
        self.sock.close()


class TcpSink(RtpSink):
    """RFC 4571 framing. ``active``: the agent connects to the platform's port; passive: the
    agent listens on ``local_port`` and the platform connects (within ``accept_timeout_s``)."""

    def __init__(self, host: str, port: int, *, active: bool, local_port: int = 0,
                 accept_timeout_s: float = 10.0, send_timeout_s: float = 5.0) -> None:
        self.active = active
        self.send_timeout_s = send_timeout_s
        self.conn: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._ready = threading.Event()
        self.target = (host, port)
        self.accept_timeout_s = accept_timeout_s
        if not active:
            self._listener = socket.create_server(("", local_port))
            self._listener.settimeout(accept_timeout_s)

    @property
    def local_port(self) -> int:
        return int(self._listener.getsockname()[1]) if self._listener is not None else 0

    def open(self) -> None:
        """Connect (active) or accept the platform's connection (passive)."""
        if self.active:
            self.conn = socket.create_connection(self.target, timeout=self.accept_timeout_s)
        else:
            assert self._listener is not None
            try:
                self.conn, _ = self._listener.accept()
            except TimeoutError as exc:
                raise ConnectionError("the platform did not connect for the TCP media") from exc
            finally:
                self._listener.close()
                self._listener = None
        self.conn.settimeout(self.send_timeout_s)
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, packets: list[bytes]) -> None:
        if self.conn is None:
            raise ConnectionError("tcp media not connected")
        framed = b"".join(struct.pack("!H", len(p)) + p for p in packets)
        try:
            self.conn.sendall(framed)
        except OSError as exc:
            raise ConnectionError(f"tcp media send failed: {exc}") from exc

    def close(self) -> None:
        for sock in (self.conn, self._listener):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
