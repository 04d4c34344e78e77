"""RTP for GB/T 28181 media: MPEG-PS packs cut into RTP packets (RFC 3550), over UDP or TCP.

No standard tool packs a program stream into RTP the way GB/T 28181 wants it (payload type
96 ``PS/90000``, a pack split across packets of at most ``MAX_PAYLOAD`` bytes, the marker
on the last packet of a pack, the timestamp the pack's SCR), so this one small part is the
project's own. Over TCP each packet goes with the RFC 4571 two-byte length in front.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
import threading

PS_PAYLOAD_TYPE = 96
_RTP_HEADER = struct.Struct("!BBHII")
MAX_PAYLOAD = 1400  # stays under a 1500-byte MTU with IP, UDP and RTP headers


def pes_pts(pes: bytes) -> int | None:
    """The 33-bit presentation time stamp (90 kHz) of an MPEG-2 PES packet, None if it has none."""
    if len(pes) < 14 or (pes[6] & 0xC0) != 0x80 or not pes[7] & 0x80:
        return None
    b9, b10, b11, b12, b13 = pes[9:14]
    return ((b9 >> 1) & 7) << 30 | b10 << 22 | (b11 >> 1) << 15 | b12 << 7 | b13 >> 1


# an H.264 IDR slice or sequence parameter set (nal_ref_idc 1-3) just after a start code
_KEY_NAL = re.compile(rb"\x00\x00\x01[\x25\x45\x65\x27\x47\x67]")
H264_STREAM_TYPE = 0x1B
PADDING_STREAM = 0xBE


def mpeg_crc32(data: bytes) -> int:
    """The MPEG-2 systems CRC (polynomial 0x04C11DB7, not reflected, start 0xFFFFFFFF)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def program_stream_map(stream_id: int, stream_type: int = H264_STREAM_TYPE) -> bytes:
    """A program stream map (ISO/IEC 13818-1 2.5.4) naming one elementary stream: what a GB/T
    28181 platform reads to know that PES ``stream_id`` carries H.264 (stream_type 0x1B)."""
    entries = bytes([stream_type, stream_id, 0, 0])
    body = bytes([0x80 | 0x60, 0xFF]) + struct.pack("!HH", 0, len(entries)) + entries  # current, version 0
    head = b"\x00\x00\x01\xbc" + struct.pack("!H", len(body) + 4) + body
    return head + struct.pack("!I", mpeg_crc32(head))


class PsSplitter:
    """Cuts a program stream into the units RTP carries: whatever pack header, system header
    and stream map precede a PES packet, with that packet (a video PES is one frame, or part of
    a large one). Each unit comes out once complete (PES lengths are read, nothing waits for
    the next start code), with its PTS as the timestamp and whether it opens a key frame (an
    IDR slice or SPS in the PES). GB/T 28181 wants the program stream map before every key
    frame, and a viewer joining a running stream needs one; mpegpsmux writes it at the start
    only, so its map is kept and repeated, byte for byte, before each key frame's PES. A muxer
    that writes no map at all (FFmpeg) gets ``psm``, the project's own. FFmpeg's packs are of a
    fixed size, not a frame each: ``key_anywhere`` looks for a key frame's start in the whole
    PES, not only at its beginning. Padding packets are dropped (nothing on the wire needs
    them). Bytes that are not a PS structure are skipped up to the next start code."""

    MAX_BUFFER = 4 * 1024 * 1024

    def __init__(self, psm: bytes | None = None, *, key_anywhere: bool = False, pack_size: int = 0) -> None:
        self.pack_size = pack_size  # FFmpeg's packs, all of this size: read a pack at a time
        self.buffer = bytearray()
        self._unit = bytearray()
        self._has_psm = False
        self.key_anywhere = key_anywhere
        self.psm: bytes | None = psm
        self.ts = 0
        self.skipped = 0

    def feed(self, chunk: bytes) -> list[tuple[bytes, int, bool]]:
        self.buffer += chunk
        out: list[tuple[bytes, int, bool]] = []
        buf = self.buffer
        pos = self._whole_packs(buf, out) if self.pack_size and not self._unit else 0
        while len(buf) - pos >= 6:
            if self.pack_size and not self._unit and buf[pos + 3] == 0xBA:
                after = self._whole_packs(buf, out, pos)
                if after != pos:
                    pos = after
                    continue
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
            if code == PADDING_STREAM:
                pos += size
                continue
            item = bytes(buf[pos:pos + size])
            pos += size
            if code == 0xBC:
                self.psm, self._has_psm = item, True
            if 0xE0 <= code <= 0xEF:
                pts = pes_pts(item)
                if pts is not None:
                    self.ts = pts
                if len(item) <= 9:
                    key = False
                elif self.key_anywhere:
                    key = _KEY_NAL.search(item, 9 + item[8]) is not None
                else:
                    key = _KEY_NAL.search(item, 9, 9 + 9 + item[8] + 64) is not None
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


    def _whole_packs(self, buf: bytearray, out: list[tuple[bytes, int, bool]], pos: int = 0) -> int:
        """Packs of ``pack_size`` (pack header, a system header perhaps, one PES, padding
        perhaps) taken whole, a few checks each; the position of the first that is not one."""
        size, psm, end_of_data = self.pack_size, self.psm, len(buf)
        while end_of_data - pos >= size and buf[pos:pos + 4] == b"\x00\x00\x01\xba":
            end = pos + size
            at = pos + 14 + (buf[pos + 13] & 0x07)
            if buf[at + 3] == 0xBB:
                at += 6 + (buf[at + 4] << 8 | buf[at + 5])
            if at + 14 > end or buf[at:at + 3] != b"\x00\x00\x01" or not 0xE0 <= buf[at + 3] <= 0xEF:
                break
            pes_end = at + 6 + (buf[at + 4] << 8 | buf[at + 5])
            if pes_end != end and not (pes_end + 6 <= end and buf[pes_end:pes_end + 4] == b"\x00\x00\x01\xbe"
                                       and pes_end + 6 + (buf[pes_end + 4] << 8 | buf[pes_end + 5]) == end):
                break
            if buf[at + 7] & 0x80 and (buf[at + 6] & 0xC0) == 0x80:
                b9, b10, b11, b12, b13 = buf[at + 9:at + 14]
                self.ts = ((b9 >> 1) & 7) << 30 | b10 << 22 | (b11 >> 1) << 15 | b12 << 7 | b13 >> 1
            key = _KEY_NAL.search(buf, at + 9 + buf[at + 8], pes_end) is not None
            if key and psm is not None:
                out.append((bytes(buf[pos:at]) + psm + bytes(buf[at:pes_end]), self.ts, True))
            else:
                out.append((bytes(buf[pos:pes_end]), self.ts, key))
            pos = end
        return pos


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


    def packets_for_units(self, units: list[tuple[bytes, int, bool]]) -> list[bytes]:
        """The RTP packets of several packs in order (``packets_for`` each, a pack that fits
        one packet taken without slicing)."""
        out: list[bytes] = []
        pack_header = _RTP_HEADER.pack
        marked, ssrc = 0x80 | self.payload_type, self.ssrc
        seq, octets = self.seq, 0
        for pack, timestamp, _key in units:
            if len(pack) <= MAX_PAYLOAD:
                out.append(pack_header(0x80, marked, seq, timestamp & 0xFFFFFFFF, ssrc) + pack)
                seq = (seq + 1) & 0xFFFF
                octets += len(pack)
                continue
            self.seq = seq
            more = self.packets_for(pack, timestamp)
            self.packets -= len(more)
            self.octets -= len(pack)
            out += more
            seq, octets = self.seq, octets + len(pack)
        self.seq = seq
        self.packets += len(out)
        self.octets += octets
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


UDP_SEGMENT = 103  # Linux >= 4.18 (include/uapi/linux/udp.h): segmentation offload of one send
GSO_MAX_SEGMENTS = 64
GSO_MAX_BYTES = 65000


class UdpSink(RtpSink):
    """RTP over UDP. A run of packets of one size (a pack cut at ``MAX_PAYLOAD``, FFmpeg's
    packs of one size) goes in one ``sendmsg`` with UDP segmentation offload: the kernel
    sends each packet as its own datagram, as before, for one system call instead of one a
    packet. Where the kernel has no offload, each packet is sent alone."""

    def __init__(self, host: str, port: int, local_port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("", local_port))
        self.target = (host, port)
        # connected: the kernel reports the platform's ICMP port unreachable to send(), so a
        # viewer that went away without a BYE ends the stream
        self.sock.connect(self.target)
        self.gso = True
        self.sends = 0

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, packets: list[bytes]) -> None:
        if not self.gso:
            for packet in packets:
                self._send_one(packet)
            return
        i, n = 0, len(packets)
        while i < n:
            size = len(packets[i])
            j, total = i + 1, size
            # equal sizes; the last of a run may be shorter (the kernel cuts at ``size``)
            while j < n and j - i < GSO_MAX_SEGMENTS and total + len(packets[j]) <= GSO_MAX_BYTES:
                length = len(packets[j])
                if length > size:
                    break
                total += length
                j += 1
                if length < size:
                    break
            if j - i == 1:
                self._send_one(packets[i])
            else:
                self._send_run(packets[i:j], size)
            i = j

    def _send_run(self, run: list[bytes], size: int) -> None:
        try:
            self.sock.sendmsg([b"".join(run)], [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))])
            self.sends += 1
        except BlockingIOError:
            return  # the socket buffer is full: these packets are lost, as on the network
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOPROTOOPT, errno.EIO, errno.EOPNOTSUPP):
                self.gso = False  # no offload here (kernel, route): one packet at a time from now on
                for packet in run:
                    self._send_one(packet)
                return
            raise ConnectionError(f"udp send to {self.target[0]}:{self.target[1]} failed: {exc}") from exc

    def _send_one(self, packet: bytes) -> None:
        try:
            self.sock.send(packet)
            self.sends += 1
        except BlockingIOError:
            return  # the socket buffer is full: this packet is lost, as on the network
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
