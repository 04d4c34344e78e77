"""A reconnecting serial reader: port → parser → readings, in its own thread.

The reader owns the port's life: it opens it (a /dev/ttyUSB*, a /dev/serial/by-id/
symlink or a pseudo-terminal path), feeds whatever bytes arrive to an incremental
parser, turns decoded frames into readings, and survives the cable being pulled:
the port is reported DISCONNECTED and reopened with capped exponential back-off,
without anything above it being restarted.

Health goes to the ``HealthSink`` on every state change only:
STARTING → OK (port open) ⇄ SILENT (no valid frame for ``silent_after_s``) and
any → DISCONNECTED (open failed, read failed, or the path vanished / now names
another device).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.backoff import Backoff
from drivers.config_types import FINITE, Baudrate, PositiveSeconds, Seconds
from drivers.reader_thread import DeviceReader
from drivers.readings import DeviceHealth, DeviceState, DownReason, HealthSink, Reading, ReadingSink

log = logging.getLogger(__name__)

Frame = TypeVar("Frame")
Frame_co = TypeVar("Frame_co", covariant=True)
Now = Callable[[], datetime]


def local_now() -> datetime:
    """Aware local time (the default clock of every driver)."""
    return datetime.now().astimezone()


class FrameParser(Protocol[Frame_co]):
    """An incremental decoder: any bytes in, complete valid frames out, never raises."""

    @property
    def bad_frames(self) -> int:
        """Frames dropped as invalid so far (read only: the reader reports it)."""
        ...

    def feed(self, data: bytes) -> Sequence[Frame_co]: ...

    def reset(self) -> None:
        """Forget a partial frame (called when the port is reopened)."""
        ...


class SerialDeviceSettings(BaseModel):
    """Settings shared by every serial device; subclasses add ``kind`` and ``protocol``.

    ``protocol_defaults`` maps a protocol to the line settings its devices ship with;
    they fill in whatever the config file leaves out.
    """

    model_config = ConfigDict(extra="forbid", **FINITE)
    protocol_defaults: ClassVar[dict[str, dict[str, Any]]] = {}

    id: str = Field(description="Device id used in readings and health (unique per agent).")
    port: str = Field(description="Serial device path, e.g. /dev/ttyUSB0 or a /dev/serial/by-id/ symlink.")
    baudrate: Baudrate = Field(9600, description="Bits per second (default depends on the protocol).")
    bytesize: Literal[7, 8] = Field(8, description="Data bits (default depends on the protocol).")
    parity: Literal["N", "E", "O"] = Field("N", description="N(one), E(ven) or O(dd) (default depends on the protocol).")
    stopbits: Literal[1, 2] = Field(1, description="Stop bits.")
    silent_after_s: Seconds = Field(
        5.0,
        description="Report SILENT when no valid frame arrives for this long; 0 disables "
                    "(devices that only speak when used). Default depends on the protocol.")
    reconnect_s: PositiveSeconds = Field(0.5, description="First delay before reopening a lost port.")
    reconnect_max_s: PositiveSeconds = Field(10.0, description="Longest delay between reopen attempts (back-off cap).")

    @model_validator(mode="before")
    @classmethod
    def _protocol_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            protocol = data.get("protocol", cls.model_fields["protocol"].default)
            defaults = cls.protocol_defaults.get(protocol, {})
            data = {**defaults, **data}
        return data


@dataclass(frozen=True, slots=True)
class PortSettings:
    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    @classmethod
    def of(cls, cfg: SerialDeviceSettings) -> PortSettings:
        return cls(cfg.port, cfg.baudrate, cfg.bytesize, cfg.parity, cfg.stopbits)


class PortGone(Exception):
    """The port's path vanished or now names another device (unplugged, re-enumerated)."""


class SerialReader(DeviceReader, Generic[Frame]):
    """Reads one serial device in a thread; see the module docstring for the states."""

    thread_prefix = "serial"

    def __init__(
        self,
        *,
        device_id: str,
        kind: str,
        settings: PortSettings,
        parser: FrameParser[Frame],
        to_reading: Callable[[Frame, datetime], Reading | None],
        sink: ReadingSink,
        health_sink: HealthSink,
        silent_after_s: float = 5.0,
        on_open: bytes = b"",
        backoff: Backoff | None = None,
        now: Now = local_now,
        monotonic: Callable[[], float] = time.monotonic,
        read_timeout_s: float = 0.1,
    ) -> None:
        super().__init__()
        self.device_id = device_id
        self.kind = kind
        self.settings = settings
        self.parser = parser
        self._to_reading = to_reading
        self._sink = sink
        self._health_sink = health_sink
        self.silent_after_s = silent_after_s
        self.on_open = on_open
        self.backoff = backoff or Backoff()
        self._now = now
        self._monotonic = monotonic
        self._read_timeout_s = read_timeout_s
        self._port: serial.Serial | None = None
        self._port_rdev: int | None = None
        self.good_frames = 0
        self.last_reading_at: datetime | None = None
        self._last_valid = 0.0
        self._last_path_check = 0.0

    @property
    def bad_frames(self) -> int:
        return self.parser.bad_frames

    # -- life cycle -------------------------------------------------------------------

    def stop(self, timeout: float = 2.0) -> None:
        self._halt(timeout)
        self._close()
        log.info("serial stopped device=%s good=%d bad=%d", self.device_id, self.good_frames, self.bad_frames)

    def __enter__(self) -> SerialReader[Frame]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self, detail: str = "", reason: DownReason = "") -> DeviceHealth:
        return DeviceHealth(
            device_id=self.device_id, kind=self.kind, state=self.state, at=self._now(),
            bad_frames=self.bad_frames, good_frames=self.good_frames,
            last_reading_at=self.last_reading_at, detail=detail,
            extra={"port": self.settings.port}, reason=reason,
        )

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        delays = self.backoff.delays()
        while not self._stop.is_set():
            try:
                self._open()
            except (OSError, serial.SerialException, ValueError) as exc:
                self._publish(DeviceState.DISCONNECTED, f"open failed: {exc}", "port_open_failed")
                self._stop.wait(next(delays))
                continue
            delays = self.backoff.delays()
            try:
                self._read_until_lost()
            except (OSError, serial.SerialException, PortGone) as exc:
                log.warning("serial lost device=%s port=%s error=%s", self.device_id, self.settings.port, exc)
                self._close()
                if not self._stop.is_set():
                    self._publish(DeviceState.DISCONNECTED, f"lost: {exc}", "port_lost")
                    # a re-enumerating USB adapter needs a moment: wait before the first retry
                    self._stop.wait(next(delays))
            except Exception:  # a bug in a parser or sink must not kill the device thread
                log.exception("serial reader crashed device=%s; reopening", self.device_id)
                self._close()
                self._stop.wait(next(delays))
        self._close()

    def _open(self) -> None:
        s = self.settings
        port = serial.Serial(
            s.port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
            stopbits=s.stopbits, timeout=self._read_timeout_s,
        )
        self._port = port
        self._port_rdev = _rdev_of_fd(port.fileno())
        self.parser.reset()
        log.info("serial open device=%s port=%s baud=%d", self.device_id, s.port, s.baudrate)
        if self.on_open:
            port.write(self.on_open)
        self._last_valid = self._monotonic()
        self._publish(DeviceState.OK, "port open")

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _read_until_lost(self) -> None:
        port = self._port
        assert port is not None
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting))
            if data:
                self._handle(data)
            self._check_silence(port)
            self._check_path()

    def _handle(self, data: bytes) -> None:
        frames = self.parser.feed(data)
        if not frames:
            return
        self.good_frames += len(frames)
        self._last_valid = self._monotonic()
        if self.state is not DeviceState.OK:
            self._publish(DeviceState.OK, "frames again")
        for frame in frames:
            at = self._now()
            reading = self._to_reading(frame, at)
            if reading is None:
                continue
            self.last_reading_at = at
            try:
                self._sink(reading)
            except Exception:
                log.exception("reading sink failed device=%s", self.device_id)

    def _check_silence(self, port: serial.Serial) -> None:
        if self.silent_after_s <= 0 or self.state is not DeviceState.OK:
            return
        if self._monotonic() - self._last_valid >= self.silent_after_s:
            self._publish(DeviceState.SILENT, f"no valid frame for {self.silent_after_s:g} s", "no_data")
            if self.on_open:
                # the module may have been power-cycled behind an adapter: ask again
                port.write(self.on_open)

    def _check_path(self) -> None:
        """A vanished or re-pointed path means the device we hold is gone (twice a second)."""
        t = self._monotonic()
        if t - self._last_path_check < 0.5:
            return
        self._last_path_check = t
        try:
            rdev = os.stat(self.settings.port).st_rdev
        except FileNotFoundError as exc:
            raise PortGone(f"{self.settings.port} vanished") from exc
        if self._port_rdev is not None and rdev != self._port_rdev:
            raise PortGone(f"{self.settings.port} now names another device")



def _rdev_of_fd(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_rdev
    except OSError:
        return None
