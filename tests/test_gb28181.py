"""The agent as a GB/T 28181 device against the reference GB platform (simulator/platform/gb28181.py).

Real parts throughout: the simulated RTSP camera (GStreamer, H.264 320x240), FFmpeg (live)
and GStreamer's mpegpsmux (playback) for the PS, FFmpeg's recorder filling the ring, a real store and Recorder for the
alarm, ffprobe judging what the platform received. The device is the component the agent
runs (``GbDevice.run``), on free ports.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config.video import Gb28181Config
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.store import Store
from agent.video.gb28181.device import GbDevice
from agent.video.gb28181.settings import GbCamera, GbSettings
from agent.video.gb28181.status import REFUSED, REGISTERED
from agent.video.recorder import CameraRecorder
from agent.video.ring import SegmentRing
from drivers.backoff import Backoff
from simulator.devices.cameras import RtspCamera
from simulator.platform.gb28181 import GbPlatform
from tests.conftest import make_config
from tests.fixtures_mqtt import wait_until
from tests.fixtures_video import ffprobe

SERVER_ID = "51010400002000000001"
DOMAIN = "5101040000"
DEVICE_ID = "51010400001180000001"
CHANNELS = {"kitchen": "51010400001320000001", "store": "51010400001320000002"}
PASSWORD = "s3cret-gb"


def gb_config(port: int, password: str = PASSWORD, **overrides: object) -> GbSettings:
    """The settings the wiring makes of ``video.gb28181`` (validated by the config model first)."""
    cfg = Gb28181Config.model_validate({
        "enabled": True, "server_id": SERVER_ID, "domain": DOMAIN, "server_host": "127.0.0.1",
        "server_port": port, "device_id": DEVICE_ID, "password": password, "local_port": 0,
        "local_host": "127.0.0.1", "register_s": 60, "keepalive_s": 1, "keepalive_misses": 2, **overrides})
    return GbSettings(cfg.server_id, cfg.domain, cfg.server_host, cfg.server_port, cfg.device_id, cfg.password,
                      cfg.local_port, cfg.local_host, cfg.register_s, cfg.keepalive_s, cfg.keepalive_misses,
                      cfg.max_viewers, cfg.name, "test")


class Running:
    """A GbDevice component in its own thread, stopped at the end."""

    def __init__(self, device: GbDevice) -> None:
        self.device = device
        self.stop = threading.Event()
        self.thread = threading.Thread(target=device.run, args=(self.stop,), daemon=True)
        self.thread.start()
        assert device.ready.wait(5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def camera() -> Iterator[RtspCamera]:
    cam = RtspCamera(width=320, height=240, fps=10).start()
    yield cam
    cam.stop()


@pytest.fixture
def platform() -> Iterator[GbPlatform]:
    gb = GbPlatform(SERVER_ID, DOMAIN, {DEVICE_ID: PASSWORD}).start()
    yield gb
    gb.stop()


def device_for(platform: GbPlatform, camera: RtspCamera, *, ring: SegmentRing | None = None,
               store: Store | None = None, password: str = PASSWORD) -> GbDevice:
    cameras = [GbCamera(name, channel, camera.url) for name, channel in CHANNELS.items()]
    return GbDevice(gb_config(platform.port, password), cameras, ring=ring, alarms=store, tz=UTC,
                    backoff=Backoff(0.2, 1.0))


def registered(platform: GbPlatform, device: GbDevice, timeout: float = 10.0) -> None:
    platform.wait_for(lambda: platform.registered(DEVICE_ID) is not None, timeout, "registration")
    wait_until(lambda: device.status.state == REGISTERED, timeout=timeout)


def test_register_with_digest_catalog_and_queries(platform: GbPlatform, camera: RtspCamera) -> None:
    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        assert device.status.clock_offset_s is not None and abs(device.status.clock_offset_s) < 2
        platform.wait_for(lambda: platform.registrations[DEVICE_ID].keepalives >= 1, 5, "a keepalive")
        catalog = platform.catalog(DEVICE_ID)
        assert sorted(item["DeviceID"] for item in catalog) == sorted(CHANNELS.values())
        assert all(item["ParentID"] == DEVICE_ID and item["Status"] == "ON" for item in catalog)
        info = platform.query(DEVICE_ID, "DeviceInfo")
        assert info.text("Result") == "OK" and info.text("Channel") == "2"
        assert platform.query(DEVICE_ID, "DeviceStatus").text("Online") == "ONLINE"
        assert platform.query(DEVICE_ID, "ConfigDownload", extra="<ConfigType>BasicParam</ConfigType>"
                              ).text("BasicParam/HeartBeatInterval") == "1"
    finally:
        run.close()
    # unregistered on stop
    assert platform.registered(DEVICE_ID) is None


def test_wrong_password_refused_with_a_clear_log_line(platform: GbPlatform, camera: RtspCamera,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    device = device_for(platform, camera, password="wrong-password")
    run = Running(device)
    try:
        wait_until(lambda: device.status.state == REFUSED, timeout=10)
        assert platform.registered(DEVICE_ID) is None and DEVICE_ID in platform.refused
        assert "video.gb28181.password" in device.status.detail
    finally:
        run.close()
    lines = [r.getMessage() for r in caplog.records if "gb28181.register.refused" in r.getMessage()]
    assert lines and "fix=check video.gb28181.password" in lines[0]
    assert "wrong-password" not in caplog.text  # the password never reaches the log


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
def test_live_stream_decodes_as_h264_at_the_camera_size(platform: GbPlatform, camera: RtspCamera,
                                                        tmp_path: Path, transport: str) -> None:
    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        call = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "live.ps", transport=transport)
        assert call.accepted, call.response
        wait_until(lambda: call.receiver.packets >= 40, timeout=15)
        assert platform.bye(call) == 200
        assert call.receiver.closed.wait(5)
        wait_until(lambda: not device.sessions, timeout=5)
    finally:
        run.close()
    probed = ffprobe(tmp_path / "live.ps")
    assert (probed["codec"], probed["width"], probed["height"]) == ("h264", 320, 240)
    assert call.receiver.gaps == 0 and call.receiver.wrong_ssrc == 0
    # every complete frame decodes cleanly: the BYE cuts the live stream wherever a pack ends
    # (FFmpeg's packs are of one size, not a frame each), so the last frame may be cut short
    frames = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                                 "stream=nb_read_packets", "-of", "csv=p=0", str(tmp_path / "live.ps")],
                                capture_output=True, text=True, timeout=60, check=True).stdout.strip())
    assert frames >= 10
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-threads", "1", "-i", str(tmp_path / "live.ps"),
                              "-frames:v", str(frames - 1),
                              "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr


@pytest.mark.parametrize("transport", ["udp", "tcp-passive"])
def test_a_viewer_gone_without_bye_ends_its_stream(platform: GbPlatform, camera: RtspCamera, tmp_path: Path,
                                                   transport: str) -> None:
    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        call = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "gone.ps", transport=transport)
        assert call.accepted
        wait_until(lambda: call.receiver.packets >= 10, timeout=15)
        platform.drop_media(call)  # the viewer's media socket closes, no BYE
        wait_until(lambda: not device.sessions, timeout=15)
        assert device.finished[-1]["state"] == "ended"
        wait_until(lambda: device.live.snapshot() == {}, timeout=5)  # the camera connection closed too
    finally:
        run.close()


def test_two_viewers_share_one_camera_connection(platform: GbPlatform, camera: RtspCamera, tmp_path: Path) -> None:
    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        first = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "v0.ps")
        assert first.accepted
        wait_until(lambda: first.receiver.packets >= 20, timeout=15)
        # the second joins the running stream: it starts at a key frame, with the stream map
        second = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "v1.ps", transport="tcp-passive")
        assert second.accepted
        wait_until(lambda: second.receiver.packets >= 20, timeout=15)
        assert device.live.snapshot() == {"kitchen": 2}
        for c in (first, second):
            platform.bye(c)
            assert c.receiver.closed.wait(5)
        wait_until(lambda: device.live.snapshot() == {}, timeout=5)
    finally:
        run.close()
    joined = (tmp_path / "v1.ps").read_bytes()
    assert joined.startswith(b"\x00\x00\x01\xba") or joined.startswith(b"\x00\x00\x01\xbc")
    assert b"\x00\x00\x01\xbc" in joined[:4096]
    probed = ffprobe(tmp_path / "v1.ps")
    assert (probed["codec"], probed["width"], probed["height"]) == ("h264", 320, 240)


def test_playback_of_a_range_the_ring_holds(platform: GbPlatform, camera: RtspCamera, tmp_path: Path) -> None:
    ring = SegmentRing(tmp_path / "ring", retention_days=1, budget_bytes=10**9, min_free_bytes=0)
    recorder = CameraRecorder("kitchen", camera.url, ring, segment_s=2, io_timeout_s=3, backoff=Backoff(0.5, 2),
                              stall_s=8)
    stop_rec = threading.Event()
    rec_thread = threading.Thread(target=recorder.run, args=(stop_rec,), daemon=True)
    rec_thread.start()
    device = device_for(platform, camera, ring=ring)
    run = Running(device)
    try:
        wait_until(lambda: len(ring.segments("kitchen")) >= 3, timeout=30)
        registered(platform, device)
        segments = ring.segments("kitchen")
        start, end = int(segments[0].end.timestamp()), int(segments[-2].end.timestamp())
        listing = platform.query(DEVICE_ID, "RecordInfo", target=CHANNELS["kitchen"],
                                 extra="<StartTime>2000-01-01T00:00:00</StartTime><EndTime>2100-01-01T00:00:00"
                                       "</EndTime><Type>all</Type>")
        assert int(listing.text("SumNum")) >= 1
        call = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "playback.ps", session="Playback",
                               start=start, end=end)
        assert call.accepted, call.response
        assert call.response is not None and f"t={start} " in call.response.text  # the range the ring covers
        platform.wait_for(lambda: platform.media_status, 20, "MediaStatus 121 at the range's end")
        assert platform.media_status[0].text("NotifyType") == "121"
        platform.bye(call)
        assert call.receiver.closed.wait(5)
        gone = platform.invite(DEVICE_ID, CHANNELS["kitchen"], tmp_path / "gone.ps", session="Playback",
                               start=start - 86400, end=start - 86000)
        assert gone.response is not None and gone.response.status_code == 404
    finally:
        run.close()
        stop_rec.set()
        rec_thread.join(10)
    probed = ffprobe(tmp_path / "playback.ps")
    assert (probed["codec"], probed["width"], probed["height"]) == ("h264", 320, 240)
    assert probed["duration_s"] >= (end - start) - 1.5


def test_vision_violation_arrives_as_a_gb_alarm_on_its_channel(platform: GbPlatform, camera: RtspCamera,
                                                               tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store = Store(config.store.path, config.store.media_dir)
    recorder = Recorder(config, store, ManualClock(datetime.now(UTC)))
    device = device_for(platform, camera, store=store)
    run = Running(device)
    try:
        registered(platform, device)
        wait_until(lambda: device.new_alarms.primed, timeout=5)
        recorder.raise_alarm("no_mask", {"camera_id": "store", "track_id": "3"},
                             "未戴口罩 / no mask on camera store", severity="minor")
        platform.wait_for(lambda: platform.alarms, 10, "the alarm")
        alarm = platform.alarms[0]
        assert alarm.device_id == CHANNELS["store"]
        # the operator reads the kind's Chinese title, not its identifier
        assert alarm.text("AlarmMethod") == "5" and alarm.text("AlarmDescription").startswith("未戴口罩")
        assert "no_mask" not in alarm.text("AlarmDescription")
    finally:
        run.close()
        store.close()


def test_registers_again_after_the_platform_restarts(platform: GbPlatform, camera: RtspCamera) -> None:
    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        before = device.status.registrations
        platform.stop()
        time.sleep(0.5)  # the platform is down for a while
        platform.start()
        restarted = time.monotonic()
        platform.wait_for(lambda: platform.registered(DEVICE_ID) is not None, 60, "re-registration")
        assert time.monotonic() - restarted < device.cfg.register_s  # within one register interval
        wait_until(lambda: device.status.registrations == before + 1 and device.status.state == REGISTERED,
                   timeout=5)
    finally:
        run.close()


def _hostile_messages(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    head = (f"MESSAGE sip:{DEVICE_ID}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK{{n}}\r\n"
            f"From: <sip:{SERVER_ID}@{DOMAIN}>;tag=a\r\nTo: <sip:{DEVICE_ID}@{DOMAIN}>\r\nCall-ID: f{{n}}\r\n"
            "CSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\n")
    bodies = [
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<Query><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>&b;</DeviceID></Query>",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Query><CmdType>&e;</CmdType></Query>',
        b"<Query>" * 5000 + b"</Query>" * 5000,
        b'<?xml version="1.0" encoding="GB2312"?><Query><CmdType>Catalog</CmdType><SN>x</SN></Query>',
        b"<Query><CmdType>Catalog</CmdType><SN>1",
        b"\xff\xfe\x00<\x00Q",
        "<?xml version='1.0' encoding='GB2312'?><Query><CmdType>目录</CmdType><SN>1</SN></Query>".encode("gb2312"),
        b"<Query><CmdType>RecordInfo</CmdType><SN>9</SN><DeviceID>1</DeviceID><StartTime>x</StartTime></Query>",
        b"A" * 70000,
    ]
    out: list[bytes] = []
    for n in range(count):
        kind = n % 6
        if kind == 0:
            body = rng.choice(bodies)
            out.append(head.replace("{n}", str(n)).encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif kind == 1:  # random bytes
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1500))))
        elif kind == 2:  # a valid message with bytes flipped
            raw = bytearray(head.replace("{n}", str(n)).encode() + b"Content-Length: 0\r\n\r\n")
            for _ in range(rng.randrange(1, 8)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            out.append(bytes(raw))
        elif kind == 3:  # hostile INVITEs: bad SDP, unknown channel, huge headers
            sdp = rng.choice([b"v=0\r\ns=Play\r\nc=IN IP4 evil\r\nm=video 1 RTP/AVP 96\r\ny=1\r\n",
                              b"v=0\r\ns=Playback\r\nc=IN IP4 127.0.0.1\r\nt=9 1\r\nm=video 0 TCP/RTP/AVP 96\r\n",
                              b"m=" + b"9" * 3000])
            target = rng.choice([CHANNELS["kitchen"], "1" * 20, "../../etc"])
            out.append(head.replace("MESSAGE", "INVITE").replace(f"sip:{DEVICE_ID}@", f"sip:{target}@")
                       .replace("{n}", str(n)).encode() + f"Content-Length: {len(sdp)}\r\n\r\n".encode() + sdp)
        elif kind == 4:  # header floods and injections
            out.append(b"OPTIONS sip:x SIP/2.0\r\n" + b"X-A: b\r\n" * rng.randrange(200, 400) + b"\r\n")
        else:  # responses nobody asked for, BYEs for unknown calls
            out.append(rng.choice([b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nCSeq: 1 REGISTER"
                                   b"\r\n\r\n", head.replace("MESSAGE", "BYE").replace("{n}", str(n)).encode() +
                                   b"Content-Length: 0\r\n\r\n", b"SIP/2.0 abc\r\n\r\n"]))
    return out


def test_fuzzed_sip_and_xml_leave_it_registered(platform: GbPlatform, camera: RtspCamera) -> None:
    import socket

    device = device_for(platform, camera)
    run = Running(device)
    try:
        registered(platform, device)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.05)
        messages = _hostile_messages(1000, seed=28181)
        endpoint = device._endpoint
        assert endpoint is not None
        start = endpoint.received
        for i, message in enumerate(messages):
            sock.sendto(message[:65000], ("127.0.0.1", device.port))
            if i % 25 == 24:  # let the socket drain: the test is about parsing, not flooding
                deadline = time.monotonic() + 5
                while endpoint.received - start < i - 5 and time.monotonic() < deadline:
                    time.sleep(0.005)
        sock.close()
        wait_until(lambda: endpoint.received - start >= 990, timeout=20)
        keepalives = platform.registrations[DEVICE_ID].keepalives
        platform.wait_for(lambda: platform.registrations[DEVICE_ID].keepalives >= keepalives + 2, 10,
                          "keepalives after the fuzz")
        assert device.status.state == REGISTERED and run.thread.is_alive()
        assert not device.sessions  # nothing hostile started a stream
        assert platform.catalog(DEVICE_ID)  # still answering
        json.dumps(device.snapshot())
    finally:
        run.close()


def test_doctor_rows_registered_and_refused(platform: GbPlatform, camera: RtspCamera) -> None:
    from agent.ops.doctor.gb28181 import live_rows, probe_registration

    def config(password: str) -> Gb28181Config:
        return Gb28181Config.model_validate({
            "enabled": True, "server_id": SERVER_ID, "domain": DOMAIN, "server_host": "127.0.0.1",
            "server_port": platform.port, "device_id": DEVICE_ID, "password": password})

    good = probe_registration(config(PASSWORD))
    assert good.status == "OK" and DEVICE_ID in good.detail
    assert platform.registered(DEVICE_ID) is None  # the doctor left no binding behind
    bad = probe_registration(config("wrong-password"))
    assert bad.status == "FAIL" and "refused the password" in bad.detail
    assert "video.gb28181.password" in bad.fix
    # beside the running agent: its own state, never a second registration
    device = device_for(platform, camera, password="wrong-password")
    run = Running(device)
    try:
        wait_until(lambda: device.status.state == REFUSED, timeout=10)
        rows = live_rows(device.snapshot())
        assert rows[0].status == "FAIL" and "video.gb28181.password" in rows[0].fix
        assert {r.name for r in rows} >= {f"GB/T 28181 channel {c}" for c in CHANNELS.values()}
    finally:
        run.close()
