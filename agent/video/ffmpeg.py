"""One FFmpeg child process under supervision: start, watch, stop, reconnect with back-off.

``FfmpegJob.run(stop)`` starts ``ffmpeg`` with the arguments its ``build_args`` gives
(asked again before every attempt, so a relay's remaining duration shrinks), reads
``-progress`` from the child's stdout and its log from stderr, and turns both into a
few clear states:

  connecting      the child is opening the camera and the target
  streaming       media is flowing (progress advances)
  source_lost     the camera could not be opened, or stopped sending
  target_refused  the target (media server, disk) refused or dropped the stream
  ended           the requested duration is over (not restarted)
  stopped         stopped on request (not restarted)

After ``source_lost`` or ``target_refused`` the job waits with exponential back-off
(reset once a run has streamed for a while) and starts a fresh child. A child whose
progress stalls is killed: an RTSP camera that vanishes without closing its socket
would otherwise hold the relay in ``streaming`` for ever.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from agent.redact import redact_text
from drivers.backoff import Backoff

log = logging.getLogger("agent.video.ffmpeg")

CONNECTING, STREAMING, SOURCE_LOST, TARGET_REFUSED, ENDED, STOPPED = (
    "connecting", "streaming", "source_lost", "target_refused", "ended", "stopped")
STATES = (CONNECTING, STREAMING, SOURCE_LOST, TARGET_REFUSED, ENDED, STOPPED)
FAILED = (SOURCE_LOST, TARGET_REFUSED)

STDERR_KEPT_LINES = 40
STOP_GRACE_S = 5.0  # SIGTERM lets FFmpeg finish the file (MP4 index) before we kill it
PROBE_US = 1_000_000
HEALTHY_RUN_S = 10.0
MEDIA_SLACK_S = 0.3  # FFmpeg's -t stops on the packet at or after the limit  # a run that streamed this long resets the back-off
# FFmpeg's own words for a failing output; anything else after the input opened is the source
_TARGET_WORDS = re.compile(
    r"Error opening output|Could not write header|av_interleaved_write_frame|Error writing trailer|"
    r"Error muxing|Broken pipe|No space left|Permission denied|Server error|"
    r"Connection to tcp://\S+ failed", re.IGNORECASE)


def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if not found:
        raise FileNotFoundError("ffmpeg not found on PATH: install it "
                                "(Debian/Raspberry Pi OS: sudo apt-get install ffmpeg)")
    return found


def input_args(url: str, timeout_s: float) -> list[str]:
    """Options that make FFmpeg give up on a silent camera instead of waiting for ever."""
    micros = str(int(timeout_s * 1_000_000))
    if url.startswith(("rtsp://", "rtsps://")):
        # a short probe: the camera's SDP already names the codec, and every second probed
        # arrives as a burst that puts the segments' wall-clock names behind their content
        return ["-rtsp_transport", "tcp", "-timeout", micros, "-analyzeduration", str(PROBE_US), "-i", url]
    if url.startswith(("http://", "https://", "rtmp://", "rtmps://")):
        return ["-rw_timeout", micros, "-i", url]
    return ["-re", "-i", url]  # a file (simulator, tests): play it at its own pace


@dataclass
class Progress:
    """What ``-progress`` reported last, and a bitrate from the bytes between reports."""

    total_bytes: int = 0  # across every run of the job
    out_time_s: float = 0.0  # media time of the current run
    bitrate_bps: float | None = None
    updated_mono: float | None = None
    _run_bytes: int = 0
    _rate_from: tuple[float, int] | None = None

    def new_run(self) -> None:
        self._run_bytes, self.out_time_s, self._rate_from = 0, 0.0, None
        self.updated_mono = time.monotonic()

    def block(self, values: dict[str, str], now_mono: float) -> bool:
        """Apply one progress block; True if media advanced."""
        out_time = _number(values.get("out_time_us"))
        size = _number(values.get("total_size"))
        advanced = False
        if out_time is not None and out_time / 1e6 > self.out_time_s:
            self.out_time_s, advanced = out_time / 1e6, True
        if size is not None and size > self._run_bytes:
            self.total_bytes += int(size) - self._run_bytes
            self._run_bytes, advanced = int(size), True
            self._update_rate(now_mono)
        if advanced:
            self.updated_mono = now_mono
        return advanced

    def _update_rate(self, now_mono: float) -> None:
        if self._rate_from is None:
            self._rate_from = (now_mono, self._run_bytes)
            return
        t0, b0 = self._rate_from
        if now_mono - t0 >= 2.0:  # a steadier figure than one 0.5 s report
            self.bitrate_bps = 8 * (self._run_bytes - b0) / (now_mono - t0)
            self._rate_from = (now_mono, self._run_bytes)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None  # "N/A" before the first packet, or for outputs without a byte count


@dataclass
class RunOutcome:
    """How one child ended, for the state and the log."""

    state: str
    detail: str
    streamed_s: float


def classify_exit(code: int | None, lines: list[str], opened_input: bool, streamed: bool,
                  target_hint: str) -> tuple[str, str]:
    """Which side failed, from FFmpeg's log: the source until the input opened, else by its words."""
    errors = [line for line in lines if not line.startswith(("Input #", "Output #", "Stream #", "  "))]
    detail = redact_text(errors[-1] if errors else f"ffmpeg exited with {code}")
    if not opened_input:
        return SOURCE_LOST, detail
    blames_target = any(_TARGET_WORDS.search(line) or (target_hint and target_hint in line) for line in errors)
    if blames_target or not streamed:
        return TARGET_REFUSED, detail
    return SOURCE_LOST, detail


StateListener = Callable[[str, str], None]


@dataclass
class FfmpegJob:
    """A supervised FFmpeg command: ``run(stop)`` until stopped, the deadline, or ``stop_job``.

    ``target_hint`` (host:port or a directory) lets a log line naming it blame the target.
    ``media_s``: the job ends (state ``ended``) once this many seconds of media went out,
    counted over every run (``remaining_media_s`` is what the next run asks FFmpeg for).
    ``deadline_mono``: the job ends at this monotonic time whatever was sent (a camera
    that stays down does not keep a relay trying for ever).
    """

    name: str
    build_args: Callable[[], list[str]]
    target_hint: str = ""
    deadline_mono: float | None = None
    media_s: float | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    stall_s: float = 15.0
    on_state: StateListener | None = None
    state: str = CONNECTING
    detail: str = ""
    restarts: int = 0
    progress: Progress = field(default_factory=Progress)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_KEPT_LINES))

    def __post_init__(self) -> None:
        self._halt = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self.retry_at_mono: float | None = None
        self.media_done_s = 0.0  # media seconds sent by the runs before the current one
        self._attempt = 0  # failed runs since the last good one (the back-off's step)

    # --- control -----------------------------------------------------------------------

    def stop_job(self) -> None:
        """Stop this job from any thread (the supervisor's ``stop`` stops every job)."""
        self._halt.set()

    @property
    def halted(self) -> bool:
        """``stop_job`` was called (the child may still be finishing)."""
        return self._halt.is_set()

    def remaining_s(self) -> float | None:
        return None if self.deadline_mono is None else self.deadline_mono - time.monotonic()

    def remaining_media_s(self) -> float | None:
        if self.media_s is None:
            return None
        return self.media_s - self.media_done_s - self.progress.out_time_s

    def _media_complete(self) -> bool:
        remaining = self.remaining_media_s()
        return remaining is not None and remaining <= MEDIA_SLACK_S

    def run(self, stop: threading.Event) -> None:
        while not self._done(stop):
            outcome = self._run_once(stop)
            self.media_done_s += self.progress.out_time_s
            self.progress.out_time_s = 0.0
            if self._done(stop):
                break
            self._set_state(outcome.state, outcome.detail)
            if outcome.streamed_s >= HEALTHY_RUN_S:
                self._attempt = 0  # a good run: the next failure starts the back-off afresh
            delay = self.backoff.delay(self._attempt)
            self._attempt += 1
            remaining = self.remaining_s()
            if remaining is not None:
                delay = min(delay, max(0.0, remaining))
            self.retry_at_mono = time.monotonic() + delay
            log.warning("video.ffmpeg.retry job=%s state=%s retry_in_s=%.1f detail=%s",
                        self.name, outcome.state, delay, outcome.detail)
            self._wait(stop, delay)
            self.restarts += 1
        self.retry_at_mono = None
        ended = (self._deadline_passed() or self._media_complete()) and not self._halt.is_set()
        self._set_state(ENDED if ended else STOPPED, "duration reached" if ended else "stopped on request")

    def _done(self, stop: threading.Event) -> bool:
        return self._cut_short(stop) or self._media_complete()

    def _cut_short(self, stop: threading.Event) -> bool:
        """Stop now, whatever the child is doing (it ends by itself when its -t is reached)."""
        return stop.is_set() or self._halt.is_set() or self._deadline_passed()

    def _deadline_passed(self) -> bool:
        remaining = self.remaining_s()
        return remaining is not None and remaining <= 0

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._done(stop) and time.monotonic() < end:
            stop.wait(min(0.2, max(0.0, end - time.monotonic())))

    # --- one child -----------------------------------------------------------------------

    def _run_once(self, stop: threading.Event) -> RunOutcome:
        args = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1",
                *self.build_args()]
        self._set_state(CONNECTING, "starting ffmpeg")
        self.stderr_tail.clear()
        self.progress.new_run()
        self.retry_at_mono = None
        opened = threading.Event()
        streaming_since: list[float] = []
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True,
                                    env={**os.environ, "TZ": "UTC"})  # segment names in UTC
        except OSError as exc:
            return RunOutcome(TARGET_REFUSED, f"cannot start ffmpeg: {exc}", 0.0)
        self._proc = proc
        readers = [threading.Thread(target=self._read_progress, args=(proc.stdout, streaming_since),
                                    name=f"{self.name}-progress", daemon=True),
                   threading.Thread(target=self._read_log, args=(proc.stderr, opened),
                                    name=f"{self.name}-log", daemon=True)]
        for reader in readers:
            reader.start()
        stalled = self._watch(proc, stop)
        code = self._finish(proc)
        for reader in readers:
            reader.join(2)
        self._proc = None
        streamed_s = time.monotonic() - streaming_since[0] if streaming_since else 0.0
        if stalled:
            return RunOutcome(SOURCE_LOST, f"no media for {self.stall_s:.0f}s", streamed_s)
        if self._done(stop):
            return RunOutcome(STOPPED, "stopped", streamed_s)
        state, detail = classify_exit(code, list(self.stderr_tail), opened.is_set(),
                                      bool(streaming_since), self.target_hint)
        return RunOutcome(state, detail, streamed_s)

    def _watch(self, proc: subprocess.Popen[bytes], stop: threading.Event) -> bool:
        """Wait for the child to end; end it on stop, at the deadline or when it stalls."""
        while proc.poll() is None:
            if self._cut_short(stop):
                return False
            last = self.progress.updated_mono or time.monotonic()
            if time.monotonic() - last > self.stall_s:
                log.warning("video.ffmpeg.stalled job=%s seconds=%.0f", self.name, self.stall_s)
                return True
            stop.wait(0.2)
        return False

    def _finish(self, proc: subprocess.Popen[bytes]) -> int | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def _read_progress(self, out: IO[bytes] | None, streaming_since: list[float]) -> None:
        values: dict[str, str] = {}
        assert out is not None
        for raw in out:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            values[key] = value
            if key != "progress":
                continue
            now = time.monotonic()
            if self.progress.block(values, now) and not streaming_since:
                streaming_since.append(now)
                self._set_state(STREAMING, "media flowing")
            values = {}

    def _read_log(self, err: IO[bytes] | None, opened: threading.Event) -> None:
        assert err is not None
        for raw in err:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            if line.startswith("Input #"):
                opened.set()
            self.stderr_tail.append(line)
            log.debug("video.ffmpeg.log job=%s line=%s", self.name, redact_text(line))

    def _set_state(self, state: str, detail: str) -> None:
        if state == self.state and detail == self.detail:
            return
        changed = state != self.state
        self.state, self.detail = state, detail
        if changed:
            level = logging.INFO if state in (CONNECTING, STREAMING, ENDED, STOPPED) else logging.WARNING
            log.log(level, "video.ffmpeg.state job=%s state=%s detail=%s", self.name, state, redact_text(detail))
        if self.on_state is not None:
            self.on_state(state, detail)

    def snapshot(self) -> dict[str, object]:
        """State and figures for the status."""
        bitrate = self.progress.bitrate_bps if self.state == STREAMING else None
        retry_in = None if self.retry_at_mono is None else max(0.0, self.retry_at_mono - time.monotonic())
        remaining = self.remaining_media_s() if self.media_s is not None else self.remaining_s()
        return {"state": self.state, "detail": redact_text(self.detail), "restarts": self.restarts,
                "bytes": self.progress.total_bytes,
                "bitrate_kbps": None if bitrate is None else round(bitrate / 1000, 1),
                "retry_in_s": None if retry_in is None else round(retry_in, 1),
                "remaining_s": None if remaining is None else round(max(0.0, remaining), 1)}
