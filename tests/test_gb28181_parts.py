"""The GB/T 28181 parts on their own: the RTP packing of PS (the one piece no standard tool
does), the PS splitter on GStreamer's and FFmpeg's real output, the hardened MANSCDP reader, the SDP offer."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from agent.config.video import VideoConfig
from agent.video.gb28181 import manscdp
from agent.video.gb28181.rtp import MAX_PAYLOAD, PsSplitter, RtpPacketiser, parse_rtp, pes_pts
from agent.video.gb28181.sdp import SdpError, answer, parse_offer


def test_a_unit_is_cut_into_packets_with_the_marker_on_its_last() -> None:
    rtp = RtpPacketiser(ssrc=123456789, first_seq=65534)
    unit = bytes(range(256)) * 12  # 3072 bytes: three packets
    packets = rtp.packets_for(unit, 90000 * 5)
    parsed = [parse_rtp(p) for p in packets]
    assert [p[0] for p in parsed if p] == [65534, 65535, 0]  # the sequence wraps
    assert [p[3] for p in parsed if p] == [False, False, True]
    assert all(p is not None and p[1] == 450000 and p[2] == 123456789 for p in parsed)
    assert b"".join(p[4] for p in parsed if p) == unit
    assert all(len(p) <= 12 + MAX_PAYLOAD for p in packets)
    assert packets[0][1] & 0x7F == 96


def test_parse_rtp_refuses_what_is_not_rtp() -> None:
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(b"\x80\x60") is None  # too short
    padded = struct.pack("!BBHII", 0xA0, 96, 1, 2, 3) + b"abc" + b"\x00\x02"
    assert parse_rtp(padded) == (1, 2, 3, False, b"abc")


def _pes(payload: bytes, pts: int | None) -> bytes:
    header = b""
    flags = 0
    if pts is not None:
        flags = 0x80
        header = bytes([0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, 0x01 | ((pts >> 14) & 0xFE),
                        (pts >> 7) & 0xFF, 0x01 | ((pts << 1) & 0xFE)])
    body = bytes([0x80, flags, len(header)]) + header + payload
    return b"\x00\x00\x01\xe0" + struct.pack("!H", len(body)) + body


def test_the_splitter_cuts_at_pes_ends_and_reads_pts() -> None:
    pack = b"\x00\x00\x01\xba" + bytes([0x44, 0, 4, 0, 4, 1, 1, 0x89, 0xC3, 0xF8])
    psm = b"\x00\x00\x01\xbc" + struct.pack("!H", 4) + b"\xe0\xff\x00\x00"
    stream = (b"junk" + pack + psm + _pes(b"\x00\x00\x00\x01\x65key", 3600) + _pes(b"\x00\x00\x01\x41p", 7200)
              + _pes(b"\x00\x00\x01\x67sps\x00\x00\x01\x65idr", 10800))
    assert pes_pts(_pes(b"x", 2**33 - 1)) == 2**33 - 1
    splitter = PsSplitter()
    units = []
    for i in range(0, len(stream), 7):  # fed in small pieces, as a pipe delivers
        units += splitter.feed(stream[i:i + 7])
    assert [(ts, key) for _, ts, key in units] == [(3600, True), (7200, False), (10800, True)]
    assert units[0][0].startswith(pack + psm) and splitter.skipped == 4
    assert units[2][0].startswith(psm)  # the map repeated before the next key frame


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer not installed")
def test_the_splitter_on_mpegpsmux_output_gives_one_unit_a_frame() -> None:
    done = subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=30", "!",
                           "video/x-raw,width=160,height=120,framerate=10/1", "!", "x264enc", "key-int-max=10", "!",
                           "h264parse", "!", "mpegpsmux", "!", "fdsink", "fd=1"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    units = PsSplitter().feed(done.stdout)
    assert len(units) == 30
    assert sum(1 for _, _, key in units if key) == 3  # key-int-max=10
    # the stream map before every key frame (mpegpsmux writes it once: the splitter repeats it)
    assert all((b"\x00\x00\x01\xbc" in unit) == key for unit, _, key in units)
    stamps = sorted(ts for _, ts, _ in units)  # presentation times (B-frames come in decode order)
    assert all(b - a == 9000 for a, b in zip(stamps, stamps[1:], strict=False))  # 10 fps at 90 kHz


def test_manscdp_reads_gb2312_and_utf8() -> None:
    gb = '<?xml version="1.0" encoding="GB2312"?><Query><CmdType>Catalog</CmdType><SN>7</SN>' \
         "<DeviceID>34020000001320000001</DeviceID><Name>后厨</Name></Query>"
    command = manscdp.parse_command(gb.encode("gb2312"))
    assert (command.cmd_type, command.sn, command.text("Name")) == ("Catalog", "7", "后厨")
    assert manscdp.parse_command(gb.replace("GB2312", "UTF-8").encode()).text("Name") == "后厨"


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE q [<!ENTITY a "x">]><Query><CmdType>&a;</CmdType><SN>1</SN></Query>',
    b"<Query><CmdType>Catalog</CmdType><SN>1</SN><X>&unknown;</X></Query>",
    b"<a>" * 20 + b"</a>" * 20,
    b"<Query><CmdType>Catalog</CmdType></Query>",
    b"<Query>" + b"x" * 70000 + b"</Query>",
    b"<Other><CmdType>Catalog</CmdType><SN>1</SN></Other>",
])
def test_manscdp_refuses_hostile_or_malformed_bodies(body: bytes) -> None:
    with pytest.raises(manscdp.BodyError):
        manscdp.parse_command(body)


OFFER = ("v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.9\r\ns=Playback\r\nu=34020000001320000001:0\r\n"
         "c=IN IP4 10.0.0.9\r\nt=1796000000 1796000060\r\nm=video 30000 TCP/RTP/AVP 96 98\r\na=recvonly\r\n"
         "a=rtpmap:96 PS/90000\r\na=setup:passive\r\na=connection:new\r\ny=1100000001\r\n")


def test_sdp_offer_and_answer() -> None:
    offer = parse_offer(OFFER.encode())
    assert (offer.session, offer.host, offer.port, offer.tcp, offer.setup, offer.ssrc, offer.start, offer.end) == \
        ("Playback", "10.0.0.9", 30000, True, "passive", 1100000001, 1796000000, 1796000060)
    text = answer(offer, "34020000001180000001", "10.0.0.2", 0).decode()
    assert "y=1100000001" in text and "a=setup:active" in text and "TCP/RTP/AVP 96" in text


@pytest.mark.parametrize("broken", [OFFER.replace("y=1100000001", "y=abc"), OFFER.replace("10.0.0.9", "evil.host"),
                                    OFFER.replace("t=1796000000 1796000060", "t=5 1"),
                                    OFFER.replace("96 98", "98"), OFFER.replace("a=setup:passive\r\n", "")])
def test_sdp_offers_that_cannot_be_served(broken: str) -> None:
    with pytest.raises(SdpError):
        parse_offer(broken.encode())


def test_config_refuses_duplicate_channels() -> None:
    camera = {"id": "a", "url": "rtsp://x/1", "gb_channel_id": "34020000001320000001"}
    with pytest.raises(ValueError, match="gb_channel_id"):
        VideoConfig.model_validate({"cameras": [camera, {**camera, "id": "b"}]})


def test_alarm_description_gives_the_kinds_chinese_title_not_its_identifier() -> None:
    from agent.video.gb28181.alarms import alarm_description

    assert alarm_description("cold_chain_high", "fridge 1 at 9.5 °C") == "冷链温度过高：fridge 1 at 9.5 °C"
    assert alarm_description("no_mask", "未戴口罩 / no mask on camera store") == "未戴口罩 / no mask on camera store"
    assert "cold_chain_high" not in alarm_description("cold_chain_high", "")


def test_program_stream_map_names_h264_with_a_valid_crc() -> None:
    from agent.video.gb28181.rtp import mpeg_crc32, program_stream_map

    psm = program_stream_map(0xE2)
    assert psm[:4] == b"\x00\x00\x01\xbc" and struct.unpack("!H", psm[4:6])[0] == len(psm) - 6
    assert psm[12:14] == b"\x1b\xe2"  # stream_type H.264, stream id
    assert mpeg_crc32(psm) == 0  # the CRC over the whole map, its own CRC included, is 0


def test_udp_sink_sends_runs_of_one_size_in_one_call_each_packet_its_own_datagram() -> None:
    from agent.video.gb28181.rtp import UdpSink

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    sink = UdpSink("127.0.0.1", receiver.getsockname()[1])
    rtp = RtpPacketiser(7)
    packets = rtp.packets_for(bytes(range(256)) * 40, 1) + rtp.packets_for(b"k" * 1380, 2) + rtp.packets_for(b"s", 3)
    try:
        sink.send(packets)
        got = [receiver.recv(2048) for _ in packets]
    finally:
        sink.close()
        receiver.close()
    assert got == packets  # the same datagrams, in order
    assert [parse_rtp(p)[0] for p in got] == list(range(len(packets)))  # type: ignore[index]
    if sink.gso:  # the kernel offloads: a pack's packets in one call
        assert sink.sends < len(packets)


def test_the_splitter_on_ffmpeg_packs_gives_one_rtp_payload_each_with_our_map_before_key_frames(
        tmp_path: Path) -> None:
    from agent.video.gb28181.media import FFMPEG_PACK, PSM

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "3",
                    "-c:v", "libx264", "-g", "10", "-profile:v", "baseline", "-pix_fmt", "yuv420p", str(clip)],
                   check=True, timeout=120)
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-c", "copy", "-bsf:v", "h264_mp4toannexb",
                           "-f", "vob", "-packetsize", str(FFMPEG_PACK), "pipe:1"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    fast = PsSplitter(PSM, key_anywhere=True, pack_size=FFMPEG_PACK)
    units = []
    for i in range(0, len(done.stdout), 5000):  # fed as a pipe delivers
        units += fast.feed(done.stdout[i:i + 5000])
    assert units == PsSplitter(PSM, key_anywhere=True).feed(done.stdout)  # the same as the general reading
    assert all(len(u) <= MAX_PAYLOAD for u, _, _ in units)  # a pack (and the map) is one RTP payload
    assert sum(1 for _, _, key in units if key) == 3 and all((PSM in u) == key for u, _, key in units)
    assert [ts for _, ts, _ in units] == sorted(ts for _, ts, _ in units)
    joined = tmp_path / "joined.ps"  # a viewer joining at the second key frame
    second = [i for i, (_, _, key) in enumerate(units) if key][1]
    joined.write_bytes(b"".join(u for u, _, _ in units[second:]))
    probed = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                             "-of", "csv=p=0", str(joined)], capture_output=True, text=True, timeout=60)
    assert probed.stdout.strip() == "h264,320,240"
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(joined), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr


def test_packets_for_units_is_packets_for_each_in_order() -> None:
    units = [(bytes([n % 251]) * n, ts, False) for n, ts in [(100, 1), (1400, 2), (3000, 3), (1401, 4), (5, 2**33 - 1)]]
    one, many = RtpPacketiser(9, first_seq=65530), RtpPacketiser(9, first_seq=65530)
    expected = [p for unit, ts, _ in units for p in one.packets_for(unit, ts)]
    assert many.packets_for_units(units) == expected
    assert (many.seq, many.packets, many.octets) == (one.seq, one.packets, one.octets) == (2, 8, 5906)
