"""One stream to the platform: an INVITE's PS over RTP, live or a playback of the ring."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.video.gb28181.media import LiveSources, PsSource, Unit
from agent.video.gb28181.rtp import RtpPacketiser, RtpSink, TcpSink, UdpSink
from agent.video.gb28181.sdp import Offer

log = logging.getLogger("agent.video.gb28181.session")


@dataclass
class Session:
    """``call_id``'s stream of ``camera`` (channel ``channel``) to the offer's address."""

    call_id: str
    camera: str
    channel: str
    offer: Offer
    sink: RtpSink
    on_end: Callable[[Session, str], None]
    live: LiveSources | None = None  # live: the shared source; playback: ``source`` below
    source: PsSource | None = None
    cut_path: Path | None = None
    covered: tuple[int, int] | None = None  # playback: the range the ring really holds (Unix s)
    answer: Any = None  # the final response sent to the INVITE (sent again if the INVITE is)
    started_mono: float = field(default_factory=time.monotonic)
    first_packet_mono: float | None = None
    state: str = "invited"
    reason: str = ""

    def __post_init__(self) -> None:
        self.rtp = RtpPacketiser(self.offer.ssrc)
        self._token: int | None = None
        self._lock = threading.Lock()
        self._source: PsSource | None = None
        self._closing = False

    @property
    def local_port(self) -> int:
        return int(getattr(self.sink, "local_port", 0))

    def start(self) -> None:
        """After the ACK: open the media connection (TCP) and start sending."""
        threading.Thread(target=self._start, name=f"gb-session-{self.channel}", daemon=True).start()

    def _start(self) -> None:
        try:
            if isinstance(self.sink, TcpSink):
                self.sink.open()
            if self.live is not None:
                self._source, self._token = self.live.subscribe(self.camera, self._send)
            else:
                assert self.source is not None
                self._source = self.source
                self._token = self.source.subscribe(self._send)
                self.source.on_end = lambda _s: self.stop("range sent")
                self.source.start()
            self.state = "streaming"
            log.info("gb28181.stream.start call=%s channel=%s kind=%s transport=%s ssrc=%d", self.call_id[:32],
                     self.channel, self.offer.session, self._transport(), self.offer.ssrc)
            if self._source is not None and self.live is not None:
                threading.Thread(target=self._watch_source, daemon=True).start()
        except (OSError, ConnectionError, FileNotFoundError) as exc:
            self.stop(f"media failed: {exc}")

    def _watch_source(self) -> None:
        source = self._source
        assert source is not None
        source.ended.wait()
        self.stop(f"camera stream ended: {source.error or 'gst-launch exited'}")

    def _transport(self) -> str:
        if not self.offer.tcp:
            return "udp"
        return "tcp-active" if getattr(self.sink, "active", False) else "tcp-passive"

    def _send(self, units: list[Unit]) -> None:
        if self._closing:
            return
        try:
            self.sink.send(self.rtp.packets_for_units(units))
        except ConnectionError as exc:
            threading.Thread(target=self.stop, args=(f"peer lost: {exc}",), daemon=True).start()
            return
        if self.first_packet_mono is None:
            self.first_packet_mono = time.monotonic()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self.state, self.reason = "ended", reason
        source, token = self._source, self._token
        if source is not None and token is not None:
            if self.live is not None:
                self.live.unsubscribe(self.camera, source, token)
            else:
                source.unsubscribe(token)
                if threading.current_thread().name != f"gb-ps-{source.name}":
                    source.stop()
        self.sink.close()
        if self.cut_path is not None:
            self.cut_path.unlink(missing_ok=True)
        log.info("gb28181.stream.end call=%s channel=%s kind=%s packets=%d reason=%s", self.call_id[:32],
                 self.channel, self.offer.session, self.rtp.packets, reason)
        self.on_end(self, reason)

    def snapshot(self) -> dict[str, object]:
        return {"channel": self.channel, "camera": self.camera, "kind": self.offer.session,
                "transport": self._transport(), "state": self.state, "packets": self.rtp.packets,
                "bytes": self.rtp.octets, "to": f"{self.offer.host}:{self.offer.port}"}


def make_sink(offer: Offer) -> RtpSink:
    """UDP to the offer's port; TCP: the platform listening (setup:passive) -> the device
    connects; the platform connecting (setup:active) -> the device listens on a free port."""
    if not offer.tcp:
        return UdpSink(offer.host, offer.port)
    return TcpSink(offer.host, offer.port, active=offer.setup == "passive")
