"""Virtual serial devices on real pseudo-terminals, scriptable from tests and the demo.

Each device owns a pty; the driver opens ``path``: with ``link_path`` a symlink that
survives ``unplug()`` / ``replug()`` (like a /dev/serial/by-id/ name), else the pty
slave itself. A device runs in its own thread, answers commands written by the driver
and streams or prints frames as the real device does.

    thermo = GyThermometerSim(link_path=tmp / "thermo").start()
    thermo.present(36.5)             # someone in front of the sensor
    scale = ScaleSim("ad_ascii", link_path=tmp / "scale").start()
    scale.place(131.0)               # settles (unstable frames), then stable
    badge = SerialBadgeSim(link_path=tmp / "badge").start()
    badge.scan("0004212345")
    dev.unplug(); dev.replug(); dev.inject_garbage(40); dev.mute(); dev.unmute(); dev.stop()
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import threading
from pathlib import Path

from drivers.scale import GRAMS_PER_UNIT, mettler_frame, yaohua_frame
from drivers.thermometer import GY_START_COMMAND, gy_frame
from simulator.devices.pty_port import close_fds, open_raw_pty, point_link, remove_link

log = logging.getLogger(__name__)


class PtySerialDevice:
    """Base: the pty, the device thread, unplug/replug, garbage and mute.

    Subclasses override ``on_bytes`` (commands from the driver) and ``next_frame``
    (called every ``period_s``; returns bytes to stream or ``b""``).
    """

    #: bytes noise is drawn from: none can start or complete a frame of this device
    garbage_alphabet: bytes = bytes(range(0x80, 0x100))
    #: appended to a noise burst (line devices: noise arrives as a bad line)
    garbage_suffix: bytes = b""

    def __init__(self, link_path: Path | str | None = None, period_s: float = 0.05, seed: int = 0) -> None:
        self.link_path = Path(link_path) if link_path else None
        self.period_s = period_s
        self.received = bytearray()
        self.muted = False
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return str(self.link_path) if self.link_path else self._slave_name

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # -- scripting API ---------------------------------------------------------------------

    def start(self):
        with self._lock:
            self._open_pty()
        self._thread = threading.Thread(target=self._run, name=f"sim-{type(self).__name__}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            self._close_pty()

    def unplug(self) -> None:
        """The cable is pulled: the driver's fd fails and the path vanishes."""
        with self._lock:
            self._close_pty()
            self._pending.clear()
            self.on_unplug()
        log.info("serial sim unplugged path=%s", self.path)

    def replug(self) -> str:
        """The cable is back: a new pty behind the same symlink (the device restarts)."""
        with self._lock:
            self._close_pty()
            self._open_pty()
        log.info("serial sim replugged path=%s", self.path)
        return self.path

    def inject_garbage(self, n: int = 32) -> None:
        noise = bytes(self._rng.choice(self.garbage_alphabet) for _ in range(n))
        self.write(noise + self.garbage_suffix)

    def mute(self) -> None:
        """The device stops talking (hung firmware) while the port stays open."""
        self.muted = True

    def unmute(self) -> None:
        self.muted = False

    def write(self, data: bytes) -> None:
        """Queue bytes for the driver, in order with the device's own stream."""
        with self._lock:
            self._pending.append(data)

    # -- subclass hooks -----------------------------------------------------------------------

    def on_bytes(self, data: bytes) -> None:
        """Bytes the driver wrote (called in the device thread, lock held)."""

    def next_frame(self) -> bytes:
        return b""

    def on_unplug(self) -> None:
        """The device loses power with the cable (lock held)."""

    # -- pty and thread --------------------------------------------------------------------------

    def _open_pty(self) -> None:
        self._master, self._slave, self._slave_name = open_raw_pty()
        if self.link_path:
            point_link(self.link_path, self._slave_name)

    def _close_pty(self) -> None:
        remove_link(self.link_path)
        close_fds(self._master, self._slave)
        self._master = self._slave = None

    def _run(self) -> None:
        while not self._stop.is_set():
            fd = self._master
            if fd is None:
                self._stop.wait(self.period_s)
                continue
            try:
                readable, _, _ = select.select([fd], [], [], self.period_s)
            except (OSError, ValueError):
                continue  # unplugged while waiting
            with self._lock:
                if self._master != fd:
                    continue
                if readable:
                    with contextlib.suppress(OSError):
                        data = os.read(fd, 1024)
                        self.received += data
                        self.on_bytes(data)
                out = b"".join(self._pending)
                self._pending.clear()
                if not self.muted:
                    out += self.next_frame()
                if out and not self.muted:
                    # nobody reading: the pty buffer fills and the bytes are lost, as on a wire
                    with contextlib.suppress(OSError):
                        os.write(fd, out)


class GyThermometerSim(PtySerialDevice):
    """GY-MCU90615-type module: silent until ``A5 45 EA``, then a frame every ``period_s``."""

    garbage_alphabet = bytes(b for b in range(256) if b != 0x5A)

    def __init__(self, link_path: Path | str | None = None, period_s: float = 0.05,
                 ambient_c: float = 25.0, seed: int = 0) -> None:
        super().__init__(link_path, period_s, seed)
        self.ambient_c = ambient_c
        self.object_c = ambient_c
        self.streaming = False
        self._bad_checksums = 0

    def present(self, object_c: float) -> None:
        self.object_c = object_c

    def away(self) -> None:
        self.object_c = self.ambient_c

    def inject_bad_checksums(self, n: int = 1) -> None:
        self._bad_checksums += n

    def on_bytes(self, data: bytes) -> None:
        if GY_START_COMMAND in self.received:
            self.streaming = True
            self.received.clear()

    def on_unplug(self) -> None:
        self.streaming = False  # power lost: the module waits for the start command again

    def next_frame(self) -> bytes:
        if not self.streaming:
            return b""
        frame = bytearray(gy_frame(self.object_c, self.ambient_c))
        if self._bad_checksums:
            self._bad_checksums -= 1
            frame[8] ^= 0xFF
        return bytes(frame)


class LineSerialDevice(PtySerialDevice):
    """A device that prints a line when something happens; noise arrives as a bad line."""

    garbage_alphabet = b"GHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz!#$%&*?@^~"
    garbage_suffix = b"\r\n"


class AsciiThermometerSim(LineSerialDevice):
    def __init__(self, link_path: Path | str | None = None, line_format: str = "{:.1f}\r\n",
                 seed: int = 0) -> None:
        super().__init__(link_path, 0.02, seed)
        self.line_format = line_format

    def present(self, object_c: float) -> None:
        self.write(self.line_format.format(object_c).encode("ascii"))


class SerialBadgeSim(LineSerialDevice):
    def __init__(self, link_path: Path | str | None = None, stx_etx: bool = False, seed: int = 0) -> None:
        super().__init__(link_path, 0.02, seed)
        self.stx_etx = stx_etx

    def scan(self, card: str) -> None:
        body = card.encode("ascii")
        if self.stx_etx:
            body = b"\x02" + body + b"\x03"
        self.write(body + b"\r\n")


def _even_parity(data: bytes) -> bytes:
    """Set bit 7 so each byte has even parity: what a 7E1 line carries."""
    return bytes(b | (0x80 if bin(b).count("1") % 2 else 0) for b in data)


class ScaleSim(PtySerialDevice):
    """A scale streaming its display every ``period_s`` in one of the four formats.

    ``place(grams)`` puts a load on the pan: ``settle_frames`` unstable frames approach
    it, then stable frames repeat it. ``clear()`` empties the pan the same way.
    """

    def __init__(self, protocol: str = "ad_ascii", link_path: Path | str | None = None, *,
                 unit: str = "g", decimals: int | None = None, period_s: float = 0.05,
                 settle_frames: int = 4, checksum: bool = False, seed: int = 0) -> None:
        super().__init__(link_path, period_s, seed)
        if protocol == "mettler_continuous" and unit not in ("kg", "lb"):
            raise ValueError("the Mettler continuous format knows kg and lb only")
        self.protocol = protocol
        self.unit = unit
        self.decimals = decimals if decimals is not None else (3 if unit == "kg" else 2 if unit == "g" else 1)
        self.settle_frames = settle_frames
        self.checksum = checksum
        self.load_g = 0.0
        self.overloaded = False
        self._shown_g = 0.0
        self._settling: list[float] = []
        if protocol in ("ad_ascii", "indicator_ascii"):
            self.garbage_alphabet = LineSerialDevice.garbage_alphabet.replace(b"S", b"").replace(b"U", b"")
            self.garbage_suffix = b"\r\n"
        else:
            self.garbage_alphabet = bytes(b for b in range(256) if b & 0x7F not in (0x02, 0x03))

    def place(self, grams: float) -> None:
        """Set the load on the pan (grams); the display settles over a few frames."""
        with self._lock:
            start = self._shown_g
            steps = self.settle_frames
            # overshoot and wobble, like a real pan: distinct values, never the target
            self._settling = [grams + (start - grams) * (0.5 ** (k + 1)) * (-1) ** k for k in range(steps)]
            self.load_g = grams

    def clear(self) -> None:
        self.place(0.0)

    def overload(self, on: bool = True) -> None:
        self.overloaded = on

    def next_frame(self) -> bytes:
        if self._settling:
            shown, stable = self._settling.pop(0), False
        else:
            shown, stable = self.load_g, True
        self._shown_g = shown
        value = round(shown / GRAMS_PER_UNIT[self.unit], self.decimals)
        return self.encode(value, stable)

    def encode(self, value: float, stable: bool) -> bytes:
        sign = "-" if value < 0 else "+"
        head = "ST" if stable else "US"
        if self.protocol == "ad_ascii":
            if self.overloaded:
                return b"OL,+9999999E+19\r\n"
            return f"{head},{sign}{abs(value):08.{self.decimals}f}{self.unit:>3}\r\n".encode()
        if self.protocol == "indicator_ascii":
            head = "OL" if self.overloaded else head
            return f"{head},GS,{sign}{abs(value):>8.{self.decimals}f}{self.unit}\r\n".encode()
        if self.protocol == "mettler_continuous":
            frame = mettler_frame(value, decimals=self.decimals, unit=self.unit, motion=not stable,
                                  overload=self.overloaded, checksum=self.checksum)
            return _even_parity(frame)
        if self.protocol == "yaohua_a9":
            return yaohua_frame(value, self.decimals)
        raise ValueError(f"unknown scale protocol {self.protocol}")
