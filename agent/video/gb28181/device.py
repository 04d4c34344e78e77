"""The agent as a GB/T 28181 device: registration, keepalive, queries, streams, alarms.

A component (``run(stop)``). It registers with digest authentication, refreshes before the
registration expires, sends a keepalive every ``keepalive_s`` and registers afresh when
``keepalive_misses`` go unanswered or the platform refuses one (a restarted platform
forgets its devices), with the agent's bounded back-off between failed attempts. Queries
(Catalog, DeviceInfo, DeviceStatus, RecordInfo, ConfigDownload) are answered with a 200
and then a MESSAGE carrying the response. An INVITE starts a stream (``session``); alarms
committed to the store are sent as GB alarm notifications on the camera's channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosipua import (
    SipDigestAuth,
    SipRequest,
    SipResponse,
    build_credentials,
    parse_auth,
    stringify_auth,
)

from agent.redact import redact_text
from agent.video.anchor import anchor_starts
from agent.video.cut import CutPlan, RangeUnavailable, cut, plan_cut
from agent.video.gb28181 import manscdp
from agent.video.gb28181.alarms import (
    SEVERITY_PRIORITY,
    AlarmSource,
    NewAlarms,
    alarm_description,
    channel_of,
)
from agent.video.gb28181.media import LiveSources, PsSource, file_pipeline, gst_command
from agent.video.gb28181.sdp import SdpError, answer, parse_offer
from agent.video.gb28181.session import Session, make_sink
from agent.video.gb28181.settings import GbCamera, GbSettings
from agent.video.gb28181.sip import (
    DialogState,
    SipEndpoint,
    granted_expiry,
    new_branch,
    new_tag,
    response_to,
    user_of,
)
from agent.video.gb28181.status import (
    REFUSED,
    REGISTERED,
    REGISTERING,
    STOPPED,
    UNREACHABLE,
    RegistrationStatus,
    parse_gb_date,
)
from agent.video.ring import SegmentRing
from drivers.backoff import Backoff

log = logging.getLogger("agent.video.gb28181")

ACK_TIMEOUT_S = 10.0
CLOCK_REPORTED_S = 2.0


class GbDevice:
    name = "video-gb28181"

    def __init__(self, config: GbSettings, cameras: list[GbCamera], *, ring: SegmentRing | None,
                 alarms: AlarmSource | None, tz: ZoneInfo, io_timeout_s: float = 5.0,
                 backoff: Backoff | None = None, recorder_online: Callable[[str], bool] | None = None) -> None:
        self.cfg = config
        self.cameras = {c.channel_id: c for c in cameras}
        self.ring = ring
        self.alarms = alarms
        self.tz = tz
        self.backoff = backoff or Backoff(1.0, 60.0)
        self.recorder_online = recorder_online or (lambda camera: True)
        self.live = LiveSources({c.camera: c.url for c in cameras}, io_timeout_s, config.muxer)
        self.status = RegistrationStatus()
        self.sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self._client = DialogState()
        self._endpoint: SipEndpoint | None = None
        self.new_alarms = NewAlarms()
        self.alarms_sent = 0
        self.finished: list[dict[str, object]] = []
        self._wake = threading.Event()
        self.ready = threading.Event()  # the SIP socket is bound (tests read ``port``)

    # --- the component --------------------------------------------------------------------------

    @property
    def server(self) -> tuple[str, int]:
        return self.cfg.server_host, self.cfg.server_port

    @property
    def port(self) -> int:
        return self._endpoint.port if self._endpoint is not None else 0

    def local_host(self) -> str:
        if self.cfg.local_host:
            return self.cfg.local_host
        assert self._endpoint is not None
        return self._endpoint.local_host_for(self.server)

    def run(self, stop: threading.Event) -> None:
        self._endpoint = SipEndpoint("0.0.0.0", self.cfg.local_port, self._on_request)
        serving = threading.Event()  # stopped after the unregistration (whose answer it receives)
        serve = threading.Thread(target=self._endpoint.serve, args=(serving,), name="gb28181-sip", daemon=True)
        serve.start()
        self.ready.set()
        log.info("gb28181.start device=%s server=%s@%s:%d channels=%d port=%d", self.cfg.device_id,
                 self.cfg.server_id, self.cfg.server_host, self.cfg.server_port, len(self.cameras), self.port)
        try:
            self._loop(stop)
        finally:
            self._stop_sessions("device stopping")
            if self.status.state == REGISTERED:
                done = self._register(expires=0)
                log.info("gb28181.unregistered device=%s answered=%s", self.cfg.device_id, done)
            self.status.state, self.status.detail = STOPPED, "stopped"
            self.live.stop_all()
            serving.set()
            serve.join(2)
            self._endpoint.close()

    def _loop(self, stop: threading.Event) -> None:
        attempt = 0
        next_keepalive = next_refresh = 0.0
        while not stop.is_set():
            if self.status.state != REGISTERED:
                if self._register(self.cfg.register_s):
                    attempt = 0
                    now = time.monotonic()
                    next_keepalive = now + self.cfg.keepalive_s
                    next_refresh = now + max(5.0, min(self.status.expires_s * 0.8, self.status.expires_s - 30))
                else:
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    log.info("gb28181.register.retry in_s=%.1f state=%s", delay, self.status.state)
                    self._wait(stop, delay)
                    continue
            now = time.monotonic()
            if now >= next_refresh:
                self.status.state = REGISTERING  # refresh before expiry
                continue
            if now >= next_keepalive:
                next_keepalive = now + self.cfg.keepalive_s
                self._keepalive()
            self._send_alarms()
            self._wait(stop, min(0.5, max(0.0, min(next_keepalive, next_refresh) - time.monotonic())))

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < end:
            if self._wake.wait(min(0.25, max(0.0, end - time.monotonic()))):
                self._wake.clear()
                return

    # --- registration -----------------------------------------------------------------------------

    def _uri(self) -> str:
        return f"sip:{self.cfg.server_id}@{self.cfg.domain}"

    def _request(self, method: str, uri: str, to_uri: str, *, call_id: str | None = None,
                 body: bytes = b"", content_type: str = "Application/MANSCDP+xml",
                 extra: dict[str, str] | None = None) -> SipRequest:
        assert self._endpoint is not None
        host = self.local_host()
        request = SipRequest(method=method, uri=uri)
        request.add_header("Via", f"SIP/2.0/UDP {host}:{self.port};rport;branch={new_branch()}")
        request.set_header("From", f"<sip:{self.cfg.device_id}@{self.cfg.domain}>;tag={self._client.from_tag}")
        request.set_header("To", f"<{to_uri}>")
        request.set_header("Call-ID", call_id or f"{new_tag()}{new_tag()}@{host}")
        request.set_header("CSeq", f"{self._client.next_cseq()} {method}")
        request.set_header("Max-Forwards", "70")
        request.set_header("User-Agent", "canteen-agent GB/T 28181")
        for name, value in (extra or {}).items():
            request.set_header(name, value)
        if body:
            request.body = body
            request.set_header("Content-Type", content_type)
        return request

    def _register(self, expires: int) -> bool:
        assert self._endpoint is not None
        device_uri = f"sip:{self.cfg.device_id}@{self.cfg.domain}"
        extra = {"Contact": f"<sip:{self.cfg.device_id}@{self.local_host()}:{self.port}>", "Expires": str(expires)}
        request = self._request("REGISTER", f"sip:{self.cfg.server_id}@{self.cfg.domain}", device_uri,
                                call_id=self._client.call_id, extra=extra)
        if expires:
            self.status.state = REGISTERING
        response = self._endpoint.request(request, self.server)
        if response is not None and response.status_code in (401, 407):
            header = "WWW-Authenticate" if response.status_code == 401 else "Proxy-Authenticate"
            challenge = response.get_header(header)
            credentials = build_credentials(SipDigestAuth(self.cfg.device_id, self.cfg.password),
                                            parse_auth(challenge), "REGISTER", request.uri) if challenge else None
            if credentials is None:
                return self._refused(response, "the platform's challenge cannot be answered (not MD5/SHA-256 digest)")
            request = self._request("REGISTER", request.uri, device_uri, call_id=self._client.call_id, extra=extra)
            request.set_header("Authorization" if response.status_code == 401 else "Proxy-Authorization",
                               stringify_auth(credentials))
            response = self._endpoint.request(request, self.server)
        if not expires:
            return response is not None and response.status_code == 200
        if response is None:
            self.status.state = UNREACHABLE
            self.status.detail = (f"no answer from {self.cfg.server_host}:{self.cfg.server_port}: check "
                                  "video.gb28181.server_host/server_port and the network")
            log.warning("gb28181.register.no_answer server=%s:%d", *self.server)
            return False
        if response.status_code in (401, 403, 407):
            return self._refused(response, "password or device id refused")
        if response.status_code != 200:
            self.status.state = UNREACHABLE
            self.status.detail = f"platform answered {response.status_code} {response.reason_phrase[:60]}"
            log.warning("gb28181.register.failed status=%d reason=%s", response.status_code,
                        redact_text(response.reason_phrase[:60]))
            return False
        granted = granted_expiry(response, expires)
        self.status.state, self.status.expires_s = REGISTERED, granted
        self.status.detail = f"registered with {self.cfg.server_id} for {granted}s"
        self.status.registered_at = time.time()
        self.status.keepalive_misses = 0
        self.status.registrations += 1
        self._note_clock(response)
        log.info("gb28181.registered server=%s expires_s=%d", self.cfg.server_id, granted)
        return True

    def _refused(self, response: SipResponse, why: str) -> bool:
        self.status.state = REFUSED
        self.status.refusals += 1
        self.status.detail = (f"the platform refused the registration ({response.status_code}): {why}; check "
                              "video.gb28181.password and device_id against the platform's device entry")
        log.error("gb28181.register.refused server=%s status=%d reason=%s fix=check video.gb28181.password and "
                  "device_id", self.cfg.server_id, response.status_code, why)
        return False

    def _note_clock(self, response: SipResponse) -> None:
        platform = parse_gb_date(response.get_header("Date"))
        if platform is None:
            return
        if platform.tzinfo is None:
            platform = platform.replace(tzinfo=self.tz)
        offset = (platform - datetime.now(UTC)).total_seconds()
        self.status.clock_offset_s = round(offset, 3)
        if abs(offset) > CLOCK_REPORTED_S:
            log.warning("gb28181.clock.offset seconds=%.1f note=the platform's time differs; the clock is not "
                        "stepped (sync it with NTP)", offset)

    def _keepalive(self) -> None:
        assert self._endpoint is not None
        body = manscdp.keepalive(self._client.next_sn(), self.cfg.device_id)
        response = self._endpoint.request(self._request("MESSAGE", self._uri(), self._uri(), body=body),
                                          self.server, timeout_s=min(8.0, self.cfg.keepalive_s * 2))
        if response is not None and response.status_code == 200:
            self.status.last_keepalive_ok, self.status.keepalive_misses = time.time(), 0
            return
        if response is not None:  # a platform that forgot us (restart) says so: register now
            log.warning("gb28181.keepalive.refused status=%d: registering again", response.status_code)
            self.status.state, self.status.detail = REGISTERING, f"keepalive refused ({response.status_code})"
            return
        self.status.keepalive_misses += 1
        log.warning("gb28181.keepalive.missed count=%d", self.status.keepalive_misses)
        if self.status.keepalive_misses >= self.cfg.keepalive_misses:
            self.status.state, self.status.detail = REGISTERING, "keepalives unanswered"

    def _send_message(self, body: bytes) -> int | None:
        if self._endpoint is None:
            return None
        response = self._endpoint.request(self._request("MESSAGE", self._uri(), self._uri(), body=body), self.server)
        return response.status_code if response is not None else None

    # --- requests from the platform -----------------------------------------------------------------

    def _on_request(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse | None:
        method = request.method.upper()
        if method == "MESSAGE":
            return self._on_message(request, peer)
        if method == "INVITE":
            return self._on_invite(request, peer)
        if method == "ACK":
            session = self.sessions.get(request.call_id or "")
            if session is not None and session.state == "invited":
                session.state = "starting"
                session.start()
            return None
        if method in ("BYE", "CANCEL"):
            session = self.sessions.get(request.call_id or "")
            if session is None:
                return response_to(request, 481, "Call/Transaction Does Not Exist")
            session.stop(f"{method} from the platform")
            return response_to(request, 200, "OK")
        if method == "OPTIONS":
            return response_to(request, 200, "OK")
        return response_to(request, 405, "Method Not Allowed")

    def _on_message(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse:
        try:
            command = manscdp.parse_command(request.body)
        except manscdp.BodyError as exc:
            log.warning("gb28181.message.refused peer=%s:%d reason=%s", peer[0], peer[1], str(exc)[:120])
            return response_to(request, 400, "Bad Request")
        if command.root != "Query":
            return response_to(request, 200, "OK")
        answer_body = self._answer_query(command)
        if answer_body is None:
            log.info("gb28181.query.unsupported cmd=%s", command.cmd_type)
            return response_to(request, 200, "OK")
        threading.Thread(target=self._send_message, args=(answer_body,), daemon=True).start()
        log.info("gb28181.query cmd=%s sn=%s", command.cmd_type, command.sn)
        return response_to(request, 200, "OK")

    def channels(self) -> list[manscdp.Channel]:
        return [manscdp.Channel(c.channel_id, c.camera, self.recorder_online(c.camera))
                for c in self.cameras.values()]

    def _answer_query(self, command: manscdp.Command) -> bytes | None:
        cmd, sn, dev = command.cmd_type, command.sn, self.cfg.device_id
        if cmd == "Catalog":
            return manscdp.catalog(sn, dev, self.cfg.domain[:10], self.channels())
        if cmd == "DeviceInfo":
            return manscdp.device_info(sn, dev, self.cfg.name, self.cfg.firmware, len(self.cameras))
        if cmd == "DeviceStatus":
            return manscdp.device_status(sn, dev, True, self._local_text(datetime.now(UTC)))
        if cmd == "ConfigDownload":
            return manscdp.config_download(sn, dev, self.cfg.name, self.cfg.register_s, self.cfg.keepalive_s,
                                           self.cfg.keepalive_misses)
        if cmd == "RecordInfo":
            channel = self.cameras.get(command.device_id)
            if channel is None:
                return manscdp.record_info(sn, command.device_id if command.device_id.isdigit() else dev, "", [])
            start = self._parse_local(command.text("StartTime"))
            end = self._parse_local(command.text("EndTime"))
            return manscdp.record_info(sn, channel.channel_id, channel.camera,
                                       self._record_ranges(channel.camera, start, end))
        return None

    def _local_text(self, at: datetime) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M:%S")

    def _parse_local(self, text: str) -> datetime | None:
        try:
            return datetime.fromisoformat(text[:19]).replace(tzinfo=self.tz)
        except ValueError:
            return None

    def _record_ranges(self, camera: str, start: datetime | None, end: datetime | None) -> list[tuple[str, str]]:
        if self.ring is None:
            return []
        ranges: list[list[datetime]] = []
        for segment in self.ring.segments(camera):
            if (start and segment.end <= start) or (end and segment.start >= end):
                continue
            if ranges and (segment.start - ranges[-1][1]) <= timedelta(seconds=3):
                ranges[-1][1] = max(ranges[-1][1], segment.end)
            else:
                ranges.append([segment.start, segment.end])
        return [(self._local_text(a), self._local_text(b)) for a, b in ranges[:100]]

    # --- streams --------------------------------------------------------------------------------------

    def _on_invite(self, request: SipRequest, peer: tuple[str, int]) -> SipResponse | None:
        call_id = request.call_id or ""
        existing = self.sessions.get(call_id)
        if existing is not None:  # a retransmitted INVITE (our answer was lost): the same answer again
            return existing.answer if isinstance(existing.answer, SipResponse) else None
        channel_id = user_of(request.uri)
        camera = self.cameras.get(channel_id)
        if camera is None:
            return response_to(request, 404, "Not Found")
        try:
            offer = parse_offer(request.body)
        except SdpError as exc:
            log.warning("gb28181.invite.refused channel=%s reason=%s", channel_id, exc)
            return response_to(request, 488, "Not Acceptable Here")
        with self._sessions_lock:
            if len([s for s in self.sessions.values() if s.state != "ended"]) >= self.cfg.max_viewers:
                return response_to(request, 486, "Busy Here")
            try:
                sink = make_sink(offer)
            except OSError as exc:
                log.warning("gb28181.invite.media_failed channel=%s error=%s", channel_id, exc)
                return response_to(request, 500, "Server Internal Error")
            session = Session(call_id, camera.camera, channel_id, offer, sink, self._ended,
                              live=self.live if offer.session == "Play" else None)
            self.sessions[call_id] = session
        tag = new_tag()
        if offer.session == "Play":
            return self._accept(request, session, tag, peer)
        threading.Thread(target=self._prepare_playback, args=(request, session, tag, peer), daemon=True).start()
        return response_to(request, 100, "Trying")

    def _accept(self, request: SipRequest, session: Session, tag: str, peer: tuple[str, int]) -> SipResponse:
        body = answer(session.offer, self.cfg.device_id, self.local_host(), session.local_port or 15060,
                      session.covered)
        response = response_to(request, 200, "OK", to_tag=tag, body=body, content_type="application/sdp")
        response.set_header("Contact", f"<sip:{self.cfg.device_id}@{self.local_host()}:{self.port}>")
        session.answer = response
        threading.Thread(target=self._expect_ack, args=(session,), daemon=True).start()
        log.info("gb28181.invite channel=%s kind=%s transport=%s to=%s:%d", session.channel, session.offer.session,
                 session.offer.transport, session.offer.host, session.offer.port)
        return response

    def _expect_ack(self, session: Session) -> None:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while time.monotonic() < deadline and session.state == "invited":
            time.sleep(0.1)
        if session.state == "invited":
            session.stop("no ACK from the platform")

    def _prepare_playback(self, request: SipRequest, session: Session, tag: str, peer: tuple[str, int]) -> None:
        assert self._endpoint is not None and session.offer.start is not None and session.offer.end is not None
        try:
            path, plan = self._cut(session.camera, datetime.fromtimestamp(session.offer.start, UTC),
                                   datetime.fromtimestamp(session.offer.end, UTC))
        except RangeUnavailable as exc:
            log.warning("gb28181.playback.unavailable channel=%s reason=%s", session.channel, exc)
            session.stop(f"range unavailable: {exc}")
            self._endpoint.send(response_to(request, 404, "Not Found", to_tag=tag), peer)
            return
        session.cut_path = path
        session.covered = (int(plan.covered_from.timestamp()), int(plan.covered_to.timestamp() + 0.999))
        log.info("gb28181.playback channel=%s asked=%d-%d covered=%s-%s gaps=%d", session.channel,
                 session.offer.start, session.offer.end, plan.covered_from.isoformat(),
                 plan.covered_to.isoformat(), len(plan.gaps))
        session.source = PsSource(f"playback-{session.channel}", gst_command(file_pipeline(path)))
        self._endpoint.send(self._accept(request, session, tag, peer), peer)

    def _cut(self, camera: str, start: datetime, end: datetime) -> tuple[Path, CutPlan]:
        if self.ring is None:
            raise RangeUnavailable("this agent keeps no recording")
        work = self.ring.root / ".cuts"
        work.mkdir(parents=True, exist_ok=True)
        with self.ring.lock:
            plan = plan_cut(camera, anchor_starts(self.ring.segments(camera), start, end), start, end)
            out = work / f"gb-{new_tag()}{new_tag()}.mp4"
            return cut(plan, out), plan

    def _ended(self, session: Session, reason: str) -> None:
        with self._sessions_lock:
            if self.sessions.get(session.call_id) is session:
                del self.sessions[session.call_id]
            self.finished = [*self.finished[-9:], session.snapshot()]
        if session.offer.session != "Play" and reason == "range sent":
            self._send_message(manscdp.media_status(self._client.next_sn(), self.cfg.device_id))

    def _stop_sessions(self, reason: str) -> None:
        with self._sessions_lock:
            sessions = list(self.sessions.values())
        for session in sessions:
            session.stop(reason)

    # --- alarms -----------------------------------------------------------------------------------------

    def _send_alarms(self) -> None:
        if self.alarms is not None:
            for row in self.new_alarms.take(self.alarms):
                self._send_alarm(row)

    def _send_alarm(self, row: dict[str, Any]) -> None:
        channel = channel_of(row, {c.camera: c.channel_id for c in self.cameras.values()})
        method, alarm_type = (5, 2) if channel else (2, 1)  # video alarm / device alarm
        try:
            at = datetime.fromisoformat(str(row["raised_at"]))
        except ValueError:
            at = datetime.now(UTC)
        body = manscdp.alarm(self._client.next_sn(), channel or self.cfg.device_id,
                             priority=SEVERITY_PRIORITY.get(str(row.get("severity")), 3), method=method,
                             alarm_type=alarm_type, time_text=self._local_text(at),
                             description=alarm_description(str(row.get("kind") or ""), str(row.get("message") or "")))
        status = self._send_message(body)
        self.alarms_sent += 1
        log.info("gb28181.alarm kind=%s channel=%s answered=%s", row.get("kind"), channel or self.cfg.device_id,
                 status)

    # --- status ---------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        s = self.status
        with self._sessions_lock:
            streams = [x.snapshot() for x in self.sessions.values()]
        return {"state": s.state, "detail": s.detail, "server": f"{self.cfg.server_id}@{self.cfg.server_host}:"
                f"{self.cfg.server_port}", "device_id": self.cfg.device_id, "expires_s": s.expires_s,
                "registered_at": s.registered_at, "last_keepalive_ok": s.last_keepalive_ok,
                "keepalive_misses": s.keepalive_misses, "clock_offset_s": s.clock_offset_s,
                "channels": [{"channel": c.channel_id, "camera": c.camera, "online": c.online}
                             for c in self.channels()],
                "streams": streams, "alarms_sent": self.alarms_sent,
                "rejected_messages": self._endpoint.rejected if self._endpoint else 0}
