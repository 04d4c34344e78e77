"""A device's reader: one daemon thread, started once and stopped by an event; its health, published.

Serial ports (``drivers.serial_port.SerialReader``) and keyboard-style input devices
(``drivers.hid_keyboard.HidLineReader``) read the same way: a thread of their own that
reconnects by itself, and a health change published once per change (``STARTING``
always, with the reason a device is down in a word people can be told), never raising
into whoever listens.
"""

from __future__ import annotations

import logging
import threading
from typing import ClassVar, Self

from drivers.readings import DeviceHealth, DeviceState, DownReason, HealthSink


class DeviceReader:
    """Base of a device's reader thread; a subclass reads in ``_run`` and says its ``health``."""

    thread_prefix: ClassVar[str]  # the thread's name and the health log line: "serial", "hid"
    device_id: str
    _health_sink: HealthSink

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = DeviceState.STARTING

    def start(self) -> Self:
        """Start reading (once: a started reader stays as it is)."""
        if self._thread is None:
            self._publish(DeviceState.STARTING, "starting")
            self._thread = threading.Thread(target=self._run, name=f"{self.thread_prefix}-{self.device_id}",
                                            daemon=True)
            self._thread.start()
        return self

    def _halt(self, timeout: float) -> None:
        """Ask the thread to stop and wait for it (at most ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError

    def health(self, detail: str, reason: DownReason = "") -> DeviceHealth:
        raise NotImplementedError

    def _publish(self, state: DeviceState, detail: str, reason: DownReason = "") -> None:
        if state is self.state and state is not DeviceState.STARTING:
            return
        self.state = state
        log = logging.getLogger(type(self).__module__)  # the reader's own module's logger, as before
        log.info("%s health device=%s state=%s detail=%s", self.thread_prefix, self.device_id, state.value, detail)
        try:
            self._health_sink(self.health(detail, reason))
        except Exception:
            log.exception("health sink failed device=%s", self.device_id)
