"""The GB/T 28181 rows: does the video platform accept the agent's registration?

Alone (the agent stopped), the doctor registers once itself, from a port of its own, with
the configured device id and password (digest, as the agent does) and unregisters at once:
a refused password is a FAIL with the fix. Beside a running agent it never registers (that
would move the agent's binding): the rows are the agent's own state (registration, last
keepalive answer, each channel's stream).
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

from aiosipua import (
    SipDigestAuth,
    SipMessage,
    SipRequest,
    SipResponse,
    build_credentials,
    parse_auth,
    stringify_auth,
)

from agent.config.video import Gb28181Config
from agent.ops.doctor.checks import Check

NAME = "GB/T 28181"
PASSWORD_FIX = ("check video.gb28181.password and device_id against the device entry on the GB platform "
                "(the platform's 'device password' / 设备密码)")


def _register(cfg: Gb28181Config, sock: socket.socket, expires: int, auth: str | None, cseq: int,
              call_id: str, tag: str, timeout_s: float) -> SipResponse | None:
    host, port = sock.getsockname()[:2]
    request = SipRequest(method="REGISTER", uri=f"sip:{cfg.server_id}@{cfg.domain}")
    request.add_header("Via", f"SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{secrets.token_hex(8)}")
    request.set_header("From", f"<sip:{cfg.device_id}@{cfg.domain}>;tag={tag}")
    request.set_header("To", f"<sip:{cfg.device_id}@{cfg.domain}>")
    request.set_header("Call-ID", call_id)
    request.set_header("CSeq", f"{cseq} REGISTER")
    request.set_header("Max-Forwards", "70")
    request.set_header("Contact", f"<sip:{cfg.device_id}@{host}:{port}>")
    request.set_header("Expires", str(expires))
    if auth:
        request.set_header("Authorization", auth)
    deadline = time.monotonic() + timeout_s
    sock.sendto(bytes(request), (cfg.server_host, cfg.server_port))
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            break
        try:
            message = SipMessage.parse(data)
        except ValueError:
            continue
        if isinstance(message, SipResponse) and message.status_code >= 200 and message.call_id == call_id:
            return message
    return None


def probe_registration(cfg: Gb28181Config, timeout_s: float = 5.0) -> Check:
    """Register once with digest and unregister: OK, refused (FAIL with the fix) or unreachable."""
    where = f"{cfg.server_id}@{cfg.server_host}:{cfg.server_port}"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((cfg.server_host, cfg.server_port))
            local = sock.getsockname()[0]
            sock.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((local, 0))
            call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
            answer = _register(cfg, sock, 60, None, 1, call_id, tag, timeout_s)
            auth = None
            if answer is not None and answer.status_code == 401:
                challenge = answer.get_header("WWW-Authenticate")
                credentials = build_credentials(SipDigestAuth(cfg.device_id, cfg.password), parse_auth(challenge),
                                                "REGISTER", f"sip:{cfg.server_id}@{cfg.domain}") if challenge else None
                if credentials is None:
                    return Check(f"{NAME} registration", False, f"{where}: the platform's challenge is not a digest "
                                 "the agent can answer", "ask the platform for MD5 digest authentication")
                auth = stringify_auth(credentials)
                answer = _register(cfg, sock, 60, auth, 2, call_id, tag, timeout_s)
            if answer is None:
                return Check(f"{NAME} registration", False, f"no answer from {where} within {timeout_s:.0f} s",
                             "check video.gb28181.server_host and server_port, and that the platform's SIP port "
                             "is reachable (firewall, UDP)")
            if answer.status_code in (401, 403, 407):
                return Check(f"{NAME} registration", False, f"{where} refused the password or device id "
                             f"({answer.status_code} {answer.reason_phrase[:40]})", PASSWORD_FIX)
            if answer.status_code != 200:
                return Check(f"{NAME} registration", False, f"{where} answered {answer.status_code} "
                             f"{answer.reason_phrase[:40]}", "see the platform's log for this device id")
            _register(cfg, sock, 0, auth, 3, call_id, tag, timeout_s)  # leave no binding behind
            return Check(f"{NAME} registration", True, f"{where} accepted device {cfg.device_id} (digest)")
    except OSError as exc:
        return Check(f"{NAME} registration", False, f"cannot reach {where}: {exc}",
                     "check video.gb28181.server_host and the network")


def live_rows(snapshot: Mapping[str, Any]) -> list[Check]:
    """The running agent's GB device: registration, last keepalive answer, channels and streams."""
    state = str(snapshot.get("state"))
    detail = str(snapshot.get("detail") or state)
    rows = [Check(f"{NAME} registration", state == "registered", detail,
                  "" if state == "registered" else PASSWORD_FIX if state == "refused" else
                  "check video.gb28181.server_host/server_port and the network")]
    last = snapshot.get("last_keepalive_ok")
    if isinstance(last, int | float):
        rows.append(Check(f"{NAME} keepalive", True, f"last answered {time.time() - last:.0f} s ago"))
    else:
        rows.append(Check(f"{NAME} keepalive", state != "registered", "no keepalive answered yet", warn=True))
    streams = snapshot.get("streams") or []
    for channel in snapshot.get("channels") or []:
        mine = [s for s in streams if s.get("channel") == channel.get("channel")]
        text = ", ".join(f"{s.get('kind')} {s.get('transport')} to {s.get('to')} ({s.get('state')})" for s in mine)
        rows.append(Check(f"{NAME} channel {channel.get('channel')}", bool(channel.get("online")),
                          f"camera {channel.get('camera')}: {text or 'no stream now'}",
                          "" if channel.get("online") else "the camera's recording is down: see the cameras row"))
    return rows


def gb28181_checks(video_gb: Gb28181Config | None, live: Mapping[str, Any] | None, beside: bool) -> list[Check]:
    if video_gb is None or not video_gb.enabled:
        return []
    if live is not None:
        return live_rows(live)
    if beside:
        return [Check(f"{NAME} registration", True, "the running agent holds the registration; the console's "
                      "installer doctor shows its state", warn=True)]
    return [probe_registration(video_gb)]
