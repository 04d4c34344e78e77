"""MPEG-PS from FFmpeg or GStreamer: the camera's H.264 copied (never decoded) into a program stream.

A live source is one child per camera, shared by all the viewers of its camera (one camera
connection); a new viewer starts at a key frame. Two muxers (``GbSettings.muxer``):

- ``ffmpeg`` (default, the cheaper: ``./dev.sh bench gb28181``): ``ffmpeg -c copy -f vob``
  with packs of ``FFMPEG_PACK`` bytes, so that one pack, with the program stream map the
  project writes itself before a key frame (FFmpeg writes none), is one RTP packet;
- ``gstreamer``: ``rtspsrc`` -> ``h264parse`` -> ``mpegpsmux`` (a pack a frame, its map
  repeated before each key frame by the splitter).

A playback range cut from the ring goes through GStreamer (``filesrc ! qtdemux``), played at
its own pace. The packs read back are handed to every subscriber, a read's worth at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.redact import redact_text
from agent.video.ffmpeg import ffmpeg_binary, input_args
from agent.video.gb28181.rtp import MAX_PAYLOAD, PsSplitter, program_stream_map

log = logging.getLogger("agent.video.gb28181.media")

READ_BYTES = 262144
# a live source's reader lets the pipe fill this long between reads: ten reads a second, not
# one a pack or a frame (each costs a wake-up, a system call and the Python around it; the
# packets of a read go out in a few system calls), for at most this much added delay
GATHER_S = 0.1
Unit = tuple[bytes, int, bool]  # (pack, 90 kHz timestamp, starts a key frame)
PackListener = Callable[[list[Unit]], None]  # the units of one read, in order
MUXERS = ("ffmpeg", "gstreamer")
FFMPEG_H264_ID = 0xE2  # the PES stream id FFmpeg's PS muxer gives H.264
PSM = program_stream_map(FFMPEG_H264_ID)
FFMPEG_PACK = MAX_PAYLOAD - 2 * len(PSM)  # a pack and the map before it fit one RTP payload
# FFmpeg's DVD buffer model complains about every large key frame; nothing is wrong with the stream
_FFMPEG_NOISE = ("buffer underflow", "packet too large")
MUX = ["h264parse", "config-interval=-1", "!", "video/x-h264,stream-format=byte-stream,alignment=au", "!",
       "mpegpsmux", "!"]


def gst_binary() -> str:
    found = shutil.which("gst-launch-1.0")
    if not found:
        raise FileNotFoundError("gst-launch-1.0 not found: install GStreamer (Debian/Raspberry Pi OS: sudo apt-get "
                                "install gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")
    return found


def live_pipeline(url: str, timeout_s: float) -> list[str]:
    # buffer-mode=none: the camera's own RTP timestamps, not smoothed by arrival times (which a busy
    # box would make non-monotonic once rounded to frames)
    return ["rtspsrc", f"location={url}", "protocols=tcp", "latency=0", "buffer-mode=none",
            f"tcp-timeout={int(timeout_s * 1e6)}",
            "!", "rtph264depay", "!", *MUX, "fdsink", "fd=1", "sync=false"]


def file_pipeline(path: Path) -> list[str]:
    """A cut played at its own pace (the sink waits for each pack's time)."""
    return ["filesrc", f"location={path}", "!", "qtdemux", "!", *MUX, "fdsink", "fd=1", "sync=true"]


def gst_command(pipeline: list[str]) -> list[str]:
    return [gst_binary(), "-q", *pipeline]


def ffmpeg_live_command(url: str, timeout_s: float) -> list[str]:
    """The camera's H.264 copied into MPEG-2 PS packs of ``FFMPEG_PACK`` bytes on stdout.

    No probing of the stream (the camera's SDP names the codec and carries its parameter
    sets; the PS muxer needs nothing more), and each pack written out at once: the first
    RTP packet leaves within a fraction of a second of the INVITE."""
    source = input_args(url, timeout_s)
    if "-analyzeduration" in source:
        at = source.index("-analyzeduration")
        source[at:at + 2] = ["-analyzeduration", "0", "-probesize", "32"]
    return [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", *source,
            "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-an", "-f", "vob",
            "-packetsize", str(FFMPEG_PACK), "-flush_packets", "1", "pipe:1"]


class PsSource:
    """A muxer child (GStreamer or FFmpeg) whose packs go to the subscribers; ``ended`` once it exits."""

    def __init__(self, name: str, command: list[str], on_end: Callable[[PsSource], None] | None = None, *,
                 splitter: Callable[[], PsSplitter] = PsSplitter, gather_s: float = 0.0) -> None:
        self.name = name
        self.command = command
        self.splitter = splitter
        self.gather_s = gather_s
        self.on_end = on_end
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[PackListener, list[bool]]] = {}
        self._next = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.ended = threading.Event()
        self.error = ""
        self.packs = 0

    def start(self) -> PsSource:
        self._proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._read, name=f"gb-ps-{self.name}", daemon=True).start()
        threading.Thread(target=self._read_log, name=f"gb-ps-log-{self.name}", daemon=True).start()
        log.info("gb28181.media.start source=%s pid=%d", self.name, self._proc.pid)
        return self

    def subscribe(self, listener: PackListener) -> int:
        """Packs from the next key frame on go to ``listener``; the id unsubscribes."""
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = (listener, [False])
            return self._next

    def unsubscribe(self, token: int) -> int:
        with self._lock:
            self._subscribers.pop(token, None)
            return len(self._subscribers)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        splitter = self.splitter()
        try:
            while True:
                chunk = os.read(fd, READ_BYTES)
                if not chunk:
                    break
                units = splitter.feed(chunk)
                if units:
                    self._deliver(units)
                if self.gather_s and len(chunk) < READ_BYTES:
                    time.sleep(self.gather_s)
        finally:
            code = self._proc.wait()
            if code not in (0, None, -signal.SIGTERM, 255):  # FFmpeg answers SIGTERM with 255
                self.error = self.error or f"{Path(self.command[0]).name} exited with {code}"
            log.info("gb28181.media.end source=%s code=%s packs=%d", self.name, code, self.packs)
            self.ended.set()
            if self.on_end is not None:
                self.on_end(self)

    def _deliver(self, units: list[Unit]) -> None:
        self.packs += len(units)
        with self._lock:
            subscribers = list(self._subscribers.items())
        for token, (listener, started) in subscribers:
            batch = units
            if not started[0]:
                first = next((i for i, (_, _, key) in enumerate(units) if key), None)
                if first is None:
                    continue
                started[0] = True
                batch = units[first:]
            try:
                listener(batch)
            except Exception:  # one viewer's failure never reaches the others
                log.exception("gb28181.media.listener_failed source=%s", self.name)
                self.unsubscribe(token)

    def _read_log(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = redact_text(raw.decode("utf-8", "replace").rstrip())
            if line and not any(noise in line for noise in _FFMPEG_NOISE):
                self.error = line[:300]
                log.warning("gb28181.media.log source=%s line=%s", self.name, line[:300])

    def stop(self, wait_s: float = 3.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        self.ended.wait(wait_s)


class LiveSources:
    """One shared live source per camera, started by its first viewer, stopped after its last."""

    def __init__(self, urls: dict[str, str], timeout_s: float, muxer: str = "ffmpeg") -> None:
        if muxer not in MUXERS:
            raise ValueError(f"unknown PS muxer {muxer!r} (one of {', '.join(MUXERS)})")
        self.urls = urls
        self.timeout_s = timeout_s
        self.muxer = muxer
        self._lock = threading.Lock()
        self._sources: dict[str, PsSource] = {}

    def subscribe(self, camera: str, listener: PackListener) -> tuple[PsSource, int]:
        with self._lock:
            source = self._sources.get(camera)
            if source is None or source.ended.is_set():
                source = self._source(camera).start()
                self._sources[camera] = source
            return source, source.subscribe(listener)

    def _source(self, camera: str) -> PsSource:
        url = self.urls[camera]
        if self.muxer == "gstreamer":
            return PsSource(f"live-{camera}", gst_command(live_pipeline(url, self.timeout_s)), on_end=self._forget,
                            gather_s=GATHER_S)
        return PsSource(f"live-{camera}", ffmpeg_live_command(url, self.timeout_s), on_end=self._forget,
                        splitter=lambda: PsSplitter(PSM, key_anywhere=True, pack_size=FFMPEG_PACK), gather_s=GATHER_S)

    def unsubscribe(self, camera: str, source: PsSource, token: int) -> None:
        with self._lock:
            left = source.unsubscribe(token)
            if left == 0 and self._sources.get(camera) is source:
                del self._sources[camera]
            else:
                return
        source.stop()

    def _forget(self, source: PsSource) -> None:
        with self._lock:
            for camera, known in list(self._sources.items()):
                if known is source:
                    del self._sources[camera]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {camera: s.subscribers for camera, s in self._sources.items()}

    def stop_all(self) -> None:
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.stop()
