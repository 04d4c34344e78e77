"""Keyboard-style (HID) readers: badge readers and barcode scanners that "type" a line.

``KeySequenceDecoder`` is pure: Linux key events (code, value, time) in, a finished line
out when Enter arrives. ``HidLineReader`` is the thin evdev wrapper: it opens the input
device, *grabs* it (so a card number is never typed into another program), feeds the
decoder, and reopens the device with back-off when it disappears (USB unplugged).
"""

from __future__ import annotations

import contextlib
import logging
import select
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from drivers.backoff import Backoff
from drivers.reader_thread import DeviceReader
from drivers.readings import DeviceHealth, DeviceState, DownReason, HealthSink, Reading, ReadingSink
from drivers.serial_port import Now, local_now

log = logging.getLogger(__name__)

KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class KeyCodes:
    """evdev's key codes this decoder needs (loaded on first use: evdev costs ~10 MB resident)."""

    keymap: dict[int, tuple[str, str]]  # key code -> (plain, shifted) character
    shift: frozenset[int]
    enter: frozenset[int]
    ev_key: int


@cache
def key_codes() -> KeyCodes:
    """US layout (what readers emulate)."""
    from evdev import ecodes

    keys: dict[int, tuple[str, str]] = {}
    for plain, shifted in zip("1234567890", "!@#$%^&*()", strict=True):
        keys[getattr(ecodes, f"KEY_{plain}")] = (plain, shifted)
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        keys[getattr(ecodes, f"KEY_{letter}")] = (letter.lower(), letter)
    for name, pair in {
        "MINUS": ("-", "_"), "EQUAL": ("=", "+"), "SPACE": (" ", " "), "DOT": (".", ">"),
        "COMMA": (",", "<"), "SLASH": ("/", "?"), "SEMICOLON": (";", ":"), "APOSTROPHE": ("'", '"'),
        "LEFTBRACE": ("[", "{"), "RIGHTBRACE": ("]", "}"), "BACKSLASH": ("\\", "|"), "GRAVE": ("`", "~"),
    }.items():
        keys[getattr(ecodes, f"KEY_{name}")] = pair
    for digit in "0123456789":  # keypad digits: some readers use them
        keys[getattr(ecodes, f"KEY_KP{digit}")] = (digit, digit)
    keys[ecodes.KEY_KPMINUS] = ("-", "-")
    keys[ecodes.KEY_KPDOT] = (".", ".")
    return KeyCodes(keys, frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}),
                    frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER}), ecodes.EV_KEY)


def __getattr__(name: str) -> Any:
    """``KEYMAP`` (key code -> characters) for tests and tools, built on first use."""
    if name == "KEYMAP":
        return key_codes().keymap
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class KeySequenceDecoder:
    """Key events → lines. A gap longer than ``gap_s`` between keys drops the partial line
    (a reader types a card in milliseconds; a stale half line is noise)."""

    def __init__(self, max_len: int = 64, gap_s: float = 1.0) -> None:
        self.max_len = max_len
        self.gap_s = gap_s
        self.bad_frames = 0
        self._chars: list[str] = []
        self._shift = False
        self._last_t: float | None = None
        self._codes = key_codes()

    def reset(self) -> None:
        self._chars.clear()
        self._shift = False
        self._last_t = None

    def feed(self, code: int, value: int, t: float = 0.0) -> str | None:
        if code in self._codes.shift:
            self._shift = value != KEY_UP
            return None
        if value != KEY_DOWN:
            return None  # releases and auto-repeat carry no new character
        if self._chars and self._last_t is not None and t - self._last_t > self.gap_s:
            self.bad_frames += 1
            self._chars.clear()
        self._last_t = t
        if code in self._codes.enter:
            line, self._chars = "".join(self._chars), []
            return line or None
        pair = self._codes.keymap.get(code)
        if pair is None:
            return None  # Tab, function keys...: ignore
        self._chars.append(pair[1] if self._shift else pair[0])
        if len(self._chars) > self.max_len:
            self.bad_frames += 1
            self._chars.clear()
        return None


def open_input_device(path: str) -> Any:
    from evdev import InputDevice

    return InputDevice(path)


class HidLineReader(DeviceReader):
    """Reads one grabbed input device in a thread; each decoded line goes to ``to_reading``.

    ``to_reading(line, at)`` returns a reading or None (a line that is not a valid card).
    """

    thread_prefix = "hid"

    def __init__(
        self,
        *,
        device_id: str,
        kind: str,
        path: str,
        to_reading: Callable[[str, datetime], Reading | None],
        sink: ReadingSink,
        health_sink: HealthSink,
        decoder: KeySequenceDecoder | None = None,
        backoff: Backoff | None = None,
        now: Now = local_now,
        open_device: Callable[[str], Any] | None = None,
        grab: bool = True,
    ) -> None:
        super().__init__()
        self.device_id, self.kind, self.path = device_id, kind, path
        self._to_reading = to_reading
        self._sink, self._health_sink = sink, health_sink
        self.decoder = decoder or KeySequenceDecoder()
        self.backoff = backoff or Backoff()
        self._now = now
        self._open_device = open_device
        self._grab = grab
        self.good_frames = 0
        self.rejected = 0
        self.last_reading_at: datetime | None = None

    @property
    def bad_frames(self) -> int:
        return self.decoder.bad_frames + self.rejected

    def stop(self, timeout: float = 2.0) -> None:
        self._halt(timeout)

    def _run(self) -> None:
        delays = self.backoff.delays()
        while not self._stop.is_set():
            try:
                device = (self._open_device or open_input_device)(self.path)
            except OSError as exc:
                self._publish(DeviceState.DISCONNECTED, f"open failed: {exc}", "port_open_failed")
                self._stop.wait(next(delays))
                continue
            delays = self.backoff.delays()
            try:
                if self._grab:
                    device.grab()
                self.decoder.reset()
                self._publish(DeviceState.OK, "input device open")
                self._read_events(device)
            except OSError as exc:  # ENODEV when the USB device is pulled
                log.warning("hid lost device=%s path=%s error=%s", self.device_id, self.path, exc)
                if not self._stop.is_set():
                    self._publish(DeviceState.DISCONNECTED, f"lost: {exc}", "port_lost")
                    self._stop.wait(next(delays))
            finally:
                with contextlib.suppress(Exception):
                    device.close()

    def _read_events(self, device: Any) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([device], [], [], 0.2)
            if not ready:
                continue
            try:
                events = list(device.read())
            except BlockingIOError:
                continue
            for event in events:
                if event.type != key_codes().ev_key:
                    continue
                line = self.decoder.feed(event.code, event.value, event.timestamp())
                if line is not None:
                    self._emit(line)

    def _emit(self, line: str) -> None:
        at = self._now()
        reading = self._to_reading(line, at)
        if reading is None:
            self.rejected += 1
            return
        self.good_frames += 1
        self.last_reading_at = at
        try:
            self._sink(reading)
        except Exception:
            log.exception("reading sink failed device=%s", self.device_id)

    def health(self, detail: str, reason: DownReason = "") -> DeviceHealth:
        return DeviceHealth(
            device_id=self.device_id, kind=self.kind, state=self.state, at=self._now(),
            bad_frames=self.bad_frames, good_frames=self.good_frames,
            last_reading_at=self.last_reading_at, detail=detail, extra={"port": self.path}, reason=reason,
        )
