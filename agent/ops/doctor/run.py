"""``canteen-agent doctor``: is this box ready to run the agent? One table, each failure with its fix.

Checks, in order: the config file; each serial port (exists, is a device, readable and
writable by this user, the owning group such as dialout); each Modbus device answering
one read of its profile; each camera opening and its frame rate; the broker (TCP, TLS
verified against the configured CA, a real MQTT CONNECT); the console's port; the clock; disk space
against the store's budget; the vision models' sha256 against the manifest.

Each check is a small function returning ``Check`` rows; nothing here changes the
box. Beside a running agent only what cannot disturb it runs: ports are looked at but not
opened, Modbus devices are not polled and cameras not opened, the broker is reached over TCP
and TLS without an MQTT CONNECT (it would take over the agent's session). The rows for those
are the agent's own health: its live states on the console's installer page
(``DoctorOptions.live_devices``), the offline alarms open in its store from the command line
(``DoctorOptions.stored_health``; ``agent.cli.doctor`` finds the running agent by its lock,
``agent.ops.lock``). The full CONNECT, when the agent is stopped, never starts a clean
session (``_mqtt_connect``). Run it as the service user (``sudo -u canteen canteen-agent
doctor``) so the permission checks answer for the agent, or as root, which also checks the
service user's groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
import pwd
import shutil
import socket
import sqlite3
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from paho.mqtt.reasoncodes import ReasonCode

from agent.config.devices import CameraConfig
from agent.config.loader import ConfigError, load_config
from agent.config.model import AgentConfig
from agent.config.tls import broker_tls_context
from agent.redact import redact_text, redact_url
from drivers.readings import Reading, RegisterSample

if TYPE_CHECKING:
    from drivers.modbus.bus import BusConfig
    from drivers.modbus.profiles import DeviceProfile

SERVICE_USER = "canteen"
log = logging.getLogger("agent.doctor")
Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # passes, but deserves a look

    @property
    def status(self) -> Status:
        if not self.ok:
            return "FAIL"
        return "WARN" if self.warn else "OK"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status}


@dataclass
class DoctorOptions:
    camera_seconds: float = 2.0
    broker_timeout_s: float = 5.0
    modbus_timeout_s: float | None = None  # None: each bus's own reply timeout
    service_user: str = SERVICE_USER
    # Set when the agent is running (the console's installer page): its serial ports, Modbus
    # buses and cameras are its own (a second Modbus master on one RS-485 line garbles both).
    # Ports are then only looked at, never opened; the Modbus devices' and cameras' rows are
    # the running agent's live states (device id -> ``DeviceRegistry`` entry) instead.
    live_devices: Mapping[str, Mapping[str, Any]] | None = None
    # ... and the broker gets no MQTT CONNECT from the doctor: the shipped brokers make the user
    # name the client id, so a CONNECT with the agent's credentials would throw the agent off and
    # take over its session. The row is the agent's own connection (None: not known).
    agent_connected: bool | None = None
    # Beside a running agent from the command line (``canteen-agent doctor`` while the service
    # runs): the same restraint, but the agent's in-memory device states are out of reach; what
    # its store says (``StoredHealth``: its open offline alarms) stands in for them.
    stored_health: StoredHealth | None = None


@dataclass(frozen=True)
class StoredHealth:
    """A running agent's device health as another process can read it: the ``device_offline`` /
    ``camera_offline`` alarms open in its store (device or camera id -> raised at). ``error``:
    the store could not be read, and the rows say so."""

    offline_since: Mapping[str, str]
    error: str = ""

    @classmethod
    def from_open_alarms(cls, alarms: Iterable[Mapping[str, Any]]) -> StoredHealth:
        offline: dict[str, str] = {}
        for alarm in alarms:
            if alarm["kind"] in ("device_offline", "camera_offline"):
                subject = json.loads(alarm["subject"])
                device = subject.get("device_id") or subject.get("camera_id")
                if device:
                    offline[str(device)] = str(alarm["raised_at"])
        return cls(offline)


# --- config --------------------------------------------------------------------------


def check_config(path: str | Path | AgentConfig) -> tuple[Check, AgentConfig | None]:
    if isinstance(path, AgentConfig):  # a running agent started without a file (tests, embedding)
        return Check("config", True, f"the running agent's config (no file): agent {path.identity.agent_id} "
                                     f"({_counts(path)})"), path
    try:
        config = load_config(path)
    except ConfigError as exc:
        first = str(exc).strip().splitlines()
        return Check("config", False, " / ".join(first[:3]),
                     f"fix {path} (canteen-agent check-config {path} shows every error)"), None
    return Check("config", True, f"{path}: valid, agent {config.identity.agent_id} ({_counts(config)})"), config


def _counts(config: AgentConfig) -> str:
    return (f"{len(config.devices)} serial, {sum(len(b.devices) for b in config.modbus)} Modbus, "
            f"{len(config.cameras)} cameras")


# --- serial ports (and HID input devices) ---------------------------------------------------


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user_groups(user: str) -> set[int] | None:
    """Group ids of ``user`` (primary + supplementary), None if no such user."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}


def check_device_path(name: str, path: str, service_user: str = SERVICE_USER) -> Check:
    """Exists, is a character device, and this user (or the service user, when run as
    root) may open it read-write through its owning group."""
    if not os.path.exists(path):
        hint = ("ls -l /dev/input/by-id/ and plug the reader in" if path.startswith("/dev/input")
                else "plug the adapter in, or correct the path (ls -l /dev/serial/by-id/)")
        return Check(name, False, f"{path} does not exist", hint)
    real = os.path.realpath(path)
    info = os.stat(real)
    if not stat.S_ISCHR(info.st_mode):
        return Check(name, False, f"{path} -> {real} is not a character device", "point port at the device node")
    group = _group_name(info.st_gid)
    where = f"{path}" + (f" -> {real}" if real != path else "") + f" (group {group})"
    if os.geteuid() == 0:
        groups = _user_groups(service_user)
        if groups is None:  # one "service user" row says so (check_service_user), not one per port
            return Check(name, True, f"{where}; running as root: no user {service_user!r} whose access to check")
        if info.st_gid not in groups and info.st_mode & 0o006 != 0o006:
            return Check(name, False, f"{where}: user {service_user} is not in group {group}",
                         f"sudo usermod -aG {group} {service_user} && sudo systemctl restart canteen-agent")
        return Check(name, True, f"{where}: {service_user} may open it")
    if not os.access(real, os.R_OK | os.W_OK):
        member = info.st_gid in os.getgroups() or info.st_gid == os.getegid()
        fix = (f"sudo usermod -aG {group} $USER, then log in again" if not member
               else f"check the mode of {real} (ls -l {real}); a udev rule may be needed")
        return Check(name, False, f"{where}: no read/write permission for this user", fix)
    return Check(name, True, f"{where}: readable and writable")


def check_service_user(service_user: str = SERVICE_USER) -> list[Check]:
    """Run as root, the port checks answer for the service user: say once if it is missing."""
    if os.geteuid() != 0 or _user_groups(service_user) is not None:
        return []
    return [Check("service user", True, f"running as root and there is no user {service_user!r}: "
                                        "port permissions are not checked for the agent",
                  "install the service (sudo systemd/install.sh install) to create it, or pass --user", warn=True)]


def _reason(exc: BaseException) -> str:
    """An exception as a person reads it: the OS's words, else the message, never a repr."""
    root = exc
    for _ in range(5):  # wrapped errors (LinkLost from ConnectionRefusedError ...): the cause speaks
        if root.__cause__ is None:
            break
        root = root.__cause__
    if isinstance(root, ssl.SSLError):  # its errno is OpenSSL's, not the OS's
        return str(root.reason or root.strerror or type(root).__name__)
    if isinstance(root, OSError) and root.errno:
        return os.strerror(root.errno)
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_serial_ports(config: AgentConfig, service_user: str = SERVICE_USER) -> list[Check]:
    return [check_device_path(f"serial {d.id}", d.port, service_user) for d in config.devices]


# --- Modbus ---------------------------------------------------------------------------


def check_modbus(config: AgentConfig, config_dir: Path | None, options: DoctorOptions) -> list[Check]:
    """Read each configured device's whole profile once (one poll, the bus's retries)."""
    from drivers.modbus.config import ModbusRtuBusConfig
    from drivers.modbus.profiles import ProfileError, load_profiles

    if not config.modbus:
        return []
    try:
        profiles = load_profiles()  # what run loads: the built-in (installed) profiles
    except ProfileError as exc:
        return [Check("modbus profiles", False, str(exc), "fix or remove the profile file")]
    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            port_check = check_device_path(f"modbus {bus.id} port", bus.port, options.service_user)
            checks.append(port_check)
            if not port_check.ok:
                checks += [Check(f"modbus {d.id}", False, f"not polled: port {bus.port} unusable",
                                 "fix the bus port first") for d in bus.devices]
                continue
        missing = [d for d in bus.devices if d.profile not in profiles]
        checks += [Check(f"modbus {d.id}", False, f"unknown profile {d.profile!r}",
                         f"use one of {sorted(profiles)} or add config/profiles/{d.profile}.yaml")
                   for d in missing]
        known = bus.model_copy(update={"devices": [d for d in bus.devices if d.profile in profiles]})
        if known.devices:
            checks += _run_async(_poll_bus_once(known, profiles, options.modbus_timeout_s))
    return checks


async def _poll_bus_once(bus: BusConfig, profiles: Mapping[str, DeviceProfile],
                         timeout_s: float | None) -> list[Check]:
    from drivers.modbus.bus import BusWorker
    from drivers.modbus.config import ModbusRtuBusConfig
    from drivers.modbus.links import LinkLost

    readings: dict[str, dict[str, float]] = {}

    def keep(reading: Reading) -> None:
        if isinstance(reading, RegisterSample):
            readings[reading.device_id] = reading.values

    worker = BusWorker(bus, profiles, on_reading=keep, on_health=lambda _h: None)
    serial_line = isinstance(bus, ModbusRtuBusConfig)
    where = bus.port if isinstance(bus, ModbusRtuBusConfig) else f"{bus.host}:{bus.port}"
    try:
        await worker.link.open()
    except (LinkLost, OSError) as exc:
        fix = ("check the gateway's address and that it is powered" if not isinstance(bus, ModbusRtuBusConfig)
               else "check the adapter and the port path")
        return [Check(f"modbus {d.id}", False, f"cannot open {where}: {_reason(exc)}", fix) for d in bus.devices]
    checks = []
    try:
        for device in worker.devices:
            if timeout_s is not None:
                device.timeout_s = timeout_s
            try:
                ok = await worker.poll(device)
            except (LinkLost, OSError) as exc:
                fix = ("a serial line has one master: stop the agent first "
                       "(sudo systemctl stop canteen-agent), then check the adapter"
                       if serial_line else "check the gateway's network link and power")
                checks.append(Check(f"modbus {device.id}", False,
                                    f"{where} failed while polling: {_reason(exc)}", fix))
                continue
            counters = device.counters
            name = f"modbus {device.id}"
            if ok:
                values = ", ".join(f"{k}={v:g}" for k, v in list(readings.get(device.id, {}).items())[:3])
                checks.append(Check(name, True, f"slave {device.config.slave} on {where} answered "
                                                f"({device.profile.id}){': ' + values if values else ''}"))
            elif counters.exceptions:
                checks.append(Check(name, False, f"slave {device.config.slave} on {where} answered with a "
                                                 f"Modbus exception: its register map is not {device.profile.id}",
                                    "check the profile (canteen-agent probe --port ...)"))
            else:
                line = (f" at {bus.baudrate} 8{bus.parity}{bus.stopbits}"
                        if isinstance(bus, ModbusRtuBusConfig) else "")
                fix = ("check power, wiring (A/B), slave id and line settings; "
                       "canteen-agent probe --port ... finds what answers" if serial_line else
                       "check the device's power and slave id, and the gateway's serial settings toward it "
                       "(baud rate, parity); canteen-agent probe --port tcp://HOST:PORT finds what answers")
                checks.append(Check(name, False, f"slave {device.config.slave} on {where}{line}: no valid reply "
                                                 f"({counters.timeouts} timeouts, {counters.crc_errors} bad frames)",
                                    fix))
    finally:
        worker.link.close()
    return checks


def _run_async(coro: Coroutine[Any, Any, list[Check]]) -> list[Check]:
    """asyncio.run, also when called from a thread that already runs a loop (tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[list[Check]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    return result[0]


# --- cameras ------------------------------------------------------------------------------


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """FFmpeg inside OpenCV writes its errors ("[tcp @ 0x…] Connection … failed") straight to
    file descriptor 2, between the doctor's rows; the row says it in words. Its log level is
    fixed when OpenCV first opens a stream, so the descriptor is pointed at /dev/null instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_camera(camera: CameraConfig, seconds: float) -> Check:
    with _native_stderr_silenced():
        return _check_camera(camera, seconds)


def _check_camera(camera: CameraConfig, seconds: float) -> Check:
    import cv2

    name = f"camera {camera.id}"
    source: str | int = camera.url
    shown = redact_url(camera.url)
    capture = cv2.VideoCapture(source)
    try:
        if not capture.isOpened():
            return Check(name, False, f"cannot open {shown}",
                         "check the URL / credentials / device path (and group video for /dev/video*)")
        file_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        frames, started = 0, time.monotonic()
        size = (0, 0)
        while time.monotonic() - started < seconds:
            ok, frame = capture.read()
            if not ok:
                break
            frames += 1
            size = frame.shape[1], frame.shape[0]
        elapsed = max(time.monotonic() - started, 1e-6)
    finally:
        capture.release()
    if frames == 0:
        return Check(name, False, f"{shown} opened but gave no frame",
                     "check the stream (another client holding the device? wrong stream path?)")
    fps = frames / elapsed
    detail = f"{shown}: {frames} frames in {elapsed:.1f}s = {fps:.1f} fps at {size[0]}x{size[1]}"
    if os.path.isfile(camera.url):  # a file decodes as fast as the CPU goes: its own rate is what counts
        fps = file_fps
        detail = f"{shown}: video file, {frames} frames decoded, {fps:g} fps at {size[0]}x{size[1]}"
    if fps < camera.analyse_fps:
        return Check(name, True, detail + f" (below analyse_fps {camera.analyse_fps:g})",
                     "raise the camera's frame rate or lower analyse_fps", warn=True)
    return Check(name, True, detail)


def check_cameras(config: AgentConfig, seconds: float) -> list[Check]:
    return [check_camera(camera, seconds) for camera in config.cameras]


# --- beside a running agent: its own live states ---------------------------------------------

LIVE = "live from the running agent, not opened by the doctor"


def live_row(name: str, entry: Mapping[str, Any] | None, fix: str) -> Check:
    """One device's row from the running agent's device registry."""
    if entry is None:
        return Check(name, True, f"{LIVE}: no state reported yet", "open the page again in a minute", warn=True)
    state = str(entry.get("state", "?"))
    since = str(entry.get("since") or "")[:19].replace("T", " ")
    detail = f"{LIVE}: {state}" + (f" since {since}" if since else "")
    extra = [str(entry[k]) for k in ("detail",) if entry.get(k)]
    if entry.get("last_reading_at"):
        extra.append(f"last reading {str(entry['last_reading_at'])[:19].replace('T', ' ')}")
    if entry.get("analysed_fps") is not None:
        extra.append(f"{entry['analysed_fps']} fps analysed")
    detail += (" (" + "; ".join(extra) + ")") if extra else ""
    if state == "ok":
        return Check(name, True, detail)
    if state == "starting":
        return Check(name, True, detail, "wait for the first reading", warn=True)
    return Check(name, False, detail, fix)


def live_modbus_checks(config: AgentConfig, live: Mapping[str, Mapping[str, Any]],
                       service_user: str = SERVICE_USER) -> list[Check]:
    """Each RS-485 port looked at (exists, permissions) and each device's live state; nothing polled."""
    from drivers.modbus.config import ModbusRtuBusConfig

    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            checks.append(check_device_path(f"modbus {bus.id} port", bus.port, service_user))
        checks += [live_row(f"modbus {d.id}", live.get(d.id),
                            "check power, wiring (A/B), slave id and line settings; to poll it with the "
                            "doctor, stop the agent first (a line has one master)") for d in bus.devices]
    return checks


def live_camera_checks(config: AgentConfig, live: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    if not config.vision.enabled:  # nobody in the agent decodes them: no live state to show
        return [Check(f"camera {c.id}", True, "vision is off: the agent does not read this camera, and the doctor "
                                              "does not open it beside the agent",
                      "to test the stream, run canteen-agent doctor with the agent stopped", warn=True)
                for c in config.cameras]
    fix = "check the camera's power, network and URL / credentials in the config"
    return [live_row(f"camera {c.id}", live.get(c.id), fix) for c in config.cameras]


def stored_row(name: str, device_id: str, health: StoredHealth, alarm: str, fix: str) -> Check:
    """One device's row from the running agent's store (the command line cannot see its live states)."""
    stored = ("not polled" if alarm == "device_offline" else "not opened") + " beside the running agent"
    if health.error:
        return Check(name, True, f"{stored}; its health cannot be read here: {health.error}",
                     "the console's installer pages show the agent's live device states", warn=True)
    since = health.offline_since.get(device_id)
    if since is not None:
        return Check(name, False, f"{stored}: the agent has it offline ({alarm} alarm open since "
                                  f"{since[:19].replace('T', ' ')})", fix)
    return Check(name, True, f"{stored}: the agent has no {alarm} alarm open for it")


def stored_modbus_checks(config: AgentConfig, health: StoredHealth,
                         service_user: str = SERVICE_USER) -> list[Check]:
    """Each RS-485 port looked at and each device's health from the agent's store; nothing polled."""
    from drivers.modbus.config import ModbusRtuBusConfig

    fix = ("check power, wiring (A/B), slave id and line settings; to poll it with the doctor, "
           "stop the agent first (sudo systemctl stop canteen-agent: a line has one master)")
    checks: list[Check] = []
    for bus in config.modbus:
        if isinstance(bus, ModbusRtuBusConfig):
            checks.append(check_device_path(f"modbus {bus.id} port", bus.port, service_user))
        checks += [stored_row(f"modbus {d.id}", d.id, health, "device_offline", fix) for d in bus.devices]
    return checks


def stored_camera_checks(config: AgentConfig, health: StoredHealth) -> list[Check]:
    if not config.vision.enabled:
        return live_camera_checks(config, {})  # the agent does not read them either: says so
    fix = "check the camera's power, network and URL / credentials in the config"
    return [stored_row(f"camera {c.id}", c.id, health, "camera_offline", fix) for c in config.cameras]


# --- broker ---------------------------------------------------------------------------------


def check_broker(config: AgentConfig, timeout_s: float, mqtt_connect: bool = True) -> list[Check]:
    """TCP, TLS (verified) and, unless ``mqtt_connect`` is false, a real MQTT CONNECT."""
    broker = config.broker
    where = f"{broker.host}:{broker.port}"
    try:
        raw = socket.create_connection((broker.host, broker.port), timeout=timeout_s)
    except OSError as exc:
        return [Check("broker", False, f"{where} unreachable: {_reason(exc)}",
                      "check broker.host/port, that the broker runs, and the network/firewall")]
    checks = [Check("broker tcp", True, f"{where} accepts connections")]
    if broker.tls is not None:
        try:
            with broker_tls_context(broker.tls).wrap_socket(raw, server_hostname=broker.host) as tls_sock:
                cert: dict[str, Any] = tls_sock.getpeercert() or {}
                subject = dict(x[0] for x in cert.get("subject", ()))
                checks.append(Check("broker tls", True, f"certificate of {subject.get('commonName', '?')} verified, "
                                                         f"valid until {cert.get('notAfter', '?')}, {tls_sock.version()}"))
        except ssl.SSLCertVerificationError as exc:
            return checks + [Check("broker tls", False, f"certificate not trusted: {exc.verify_message}",
                                   "broker.tls.ca_file must be the CA that signed the broker's certificate; "
                                   "server_name must match its name")]
        except (ssl.SSLError, OSError) as exc:
            return checks + [Check("broker tls", False, f"TLS handshake failed: {_reason(exc)}",
                                   "is this a TLS listener? check the port and the client certificate/key")]
    else:
        raw.close()
    if mqtt_connect:
        checks.append(_mqtt_connect(config, timeout_s))
    return checks


def live_mqtt_row(connected: bool | None, unknown_fix: str = "") -> Check:
    """Beside the running agent: its own MQTT session instead of a second CONNECT."""
    why = "no CONNECT from the doctor beside the running agent: it would take over the agent's session"
    if connected is None:
        return Check("broker mqtt", True, f"{why}; the agent's connection state is not known", unknown_fix,
                     warn=True)
    if connected:
        return Check("broker mqtt", True, f"the running agent's own MQTT session is connected ({why})")
    return Check("broker mqtt", False, f"the running agent is not connected to the broker ({why})",
                 "see the tcp/tls rows; check broker.username/password_file or the client certificate and "
                 "the broker's ACL; the agent's log says why it is refused")


def _mqtt_connect(config: AgentConfig, timeout_s: float) -> Check:
    """A real CONNECT with the agent's credentials that leaves the agent's broker session as it was.

    The doctor asks for a client id of its own (``<agent_id>-doctor``), but the shipped brokers
    set ``use_username_as_clientid``: with the agent's user name (or certificate) the broker
    gives the doctor the agent's own client id, whatever it asks for. So the CONNECT is shaped to
    be harmless on the agent's session too:

    - never a clean session / clean start: that would discard the agent's subscriptions and the
      acks and commands the broker holds for it while it is stopped; the session is resumed;
    - MQTT 5: the agent's own session expiry (an expiry of 0 would end the session when the
      doctor disconnects);
    - nothing queued is acknowledged (manual acks, none sent): what the broker delivers to the
      resumed session stays unacknowledged in it and goes to the agent when it reconnects;
    - no subscription, no will, no publish.

    Where the broker does keep the doctor's own id, this leaves an empty session under it
    (no subscriptions, so nothing queues there; with MQTT 5 it expires with the agent's expiry).
    Beside a running agent no CONNECT is made at all: the broker would still throw the agent
    off (``live_mqtt_row``)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    broker = config.broker
    protocol = mqtt.MQTTv311 if broker.protocol == "mqtt311" else mqtt.MQTTv5
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{config.identity.agent_id}-doctor",
                         protocol=protocol, clean_session=False if protocol == mqtt.MQTTv311 else None,
                         manual_ack=True)
    properties: Properties | None = None
    if protocol == mqtt.MQTTv5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = broker.session_expiry_s
    if broker.username:
        client.username_pw_set(broker.username, broker.password.get_secret_value() if broker.password else None)
    if broker.tls is not None:
        client.tls_set_context(broker_tls_context(broker.tls))  # the same context the uplink uses
    answer: dict[str, ReasonCode] = {}
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        answer["reason"] = reason
        done.set()

    client.on_connect = on_connect
    try:
        if properties is None:  # MQTT 3.1.1: clean_session=False above says it
            client.connect(broker.host, broker.port, keepalive=10)
        else:
            client.connect(broker.host, broker.port, keepalive=10, clean_start=False, properties=properties)
    except (OSError, ssl.SSLError) as exc:
        return Check("broker mqtt", False, f"CONNECT not sent: {_reason(exc)}", "see the tcp/tls rows above")
    client.loop_start()
    try:
        answered = done.wait(timeout_s)
    finally:
        if answered and not answer["reason"].is_failure:
            client.disconnect()
        client.loop_stop()
    if not answered:
        return Check("broker mqtt", False, f"no CONNACK within {timeout_s:g}s", "is this an MQTT listener?")
    reason = answer["reason"]
    if reason.is_failure:
        return Check("broker mqtt", False, f"CONNECT refused: {reason}",
                     "check broker.username/password_file or the client certificate, and the broker's ACL")
    return Check("broker mqtt", True, f"MQTT {'5' if protocol == mqtt.MQTTv5 else '3.1.1'} CONNECT accepted")


# --- clock, disk, models ------------------------------------------------------------------------


def check_console(config: AgentConfig, beside: bool, timeout_s: float = 2.0) -> Check:
    """The console's port: free for the agent to listen on, or (beside a running agent)
    answered by the agent's console. A port another program holds is named here."""
    cfg = config.console
    if not cfg.enabled:
        return Check("console", True, "disabled (console.enabled: false): no station screens, no manager pages",
                     warn=True)
    if cfg.port == 0:
        return Check("console", True, f"any free port on {cfg.host} (console.port: 0): the agent's log names it")
    where = f"{cfg.host}:{cfg.port}"
    who = f"ss -ltnp 'sport = :{cfg.port}' shows which program holds it"
    if beside:
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "") else "::1" if cfg.host == "::" else cfg.host
        try:
            socket.create_connection((host, cfg.port), timeout=timeout_s).close()
        except OSError as exc:
            return Check("console", False, f"nothing answers on {where} ({_reason(exc)}): the agent could not "
                                           "listen there", f"{who}; stop it or set console.port, then restart")
        return Check("console", True, f"the agent's console answers on http://{where}/")
    try:
        with socket.create_server((cfg.host, cfg.port)):
            pass
    except OSError as exc:
        return Check("console", False, f"{where}: {_reason(exc)}: another program listens there",
                     f"{who}; stop it or set console.port in the config")
    return Check("console", True, f"{where} is free for the console (station screens, manager pages)")


def check_clock() -> Check:
    from agent.core.timeutil import clock_synced

    synced, source = clock_synced()
    if synced:
        return Check("clock", True, f"synchronised ({source})")
    return Check("clock", True, f"not synchronised ({source}): records will say clock.synced=false",
                 "enable NTP (sudo timedatectl set-ntp true) or fit an RTC module", warn=True)


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_disk(config: AgentConfig) -> list[Check]:
    store = config.store
    directory = store.path.parent
    base = _existing_parent(directory)
    checks = []
    if not os.access(base, os.W_OK):
        checks.append(Check("store dir", False, f"{directory} (or {base}) is not writable by this user",
                            f"sudo install -d -o {SERVICE_USER} -g {SERVICE_USER} -m 0750 {directory}"))
    used = sum(_tree_bytes(p) for p in (store.path, Path(f"{store.path}-wal"), store.media_dir))
    budget = int(store.disk_budget_mb * 1024 * 1024)
    free = shutil.disk_usage(base).free
    detail = (f"{base}: {free / 2**20:.0f} MB free; store uses {used / 2**20:.1f} MB "
              f"of a {store.disk_budget_mb:g} MB budget")
    if free + used < budget:
        checks.append(Check("disk", False, detail + f": the budget cannot be met ({(budget - used - free) / 2**20:.0f} MB short)",
                            "lower store.disk_budget_mb, free space, or use a larger card/disk"))
    elif used > 0.9 * budget:
        checks.append(Check("disk", True, detail + ": over 90% of the budget (oldest media and telemetry go first)",
                            "raise store.disk_budget_mb if space allows", warn=True))
    else:
        checks.append(Check("disk", True, detail))
    return checks


def check_models(config: AgentConfig) -> list[Check]:
    from agent.vision.models import (
        ModelIntegrityError,
        load_manifest,
        resolve_models_dir,
        verified_model_path,
    )

    if not config.vision.enabled or not config.cameras:
        return [Check("models", True, "vision off or no cameras: models not needed")]
    directory = resolve_models_dir(config.vision.models_dir)
    try:
        manifest = load_manifest(directory)
    except (OSError, ValueError) as exc:
        return [Check("models", False, f"no valid manifest in {directory}: {str(exc).splitlines()[0]}",
                      "reinstall (systemd/install.sh upgrade) or set vision.models_dir")]
    checks = []
    for name, entry in manifest.models.items():
        try:
            path = verified_model_path(directory, entry)
            checks.append(Check(f"model {name}", True, f"{path.name} sha256 {entry.sha256[:12]}… matches"))
        except ModelIntegrityError as exc:
            checks.append(Check(f"model {name}", False, str(exc).split(";")[0],
                                "restore the file: reinstall (systemd/install.sh upgrade) "
                                "or rebuild with models/build.py"))
    return checks


# --- all of it --------------------------------------------------------------------------------


def check_version(config: AgentConfig) -> list[Check]:
    """The version this doctor runs (the launcher's release in force) and the last remote
    update's outcome as the agent's store has it (read-only; no store, no row)."""
    from agent.store import read_kv
    from agent.version import agent_version

    rows = [Check("version", True, f"canteen-agent {agent_version()}")]
    try:
        last = read_kv(Path(config.store.path), "update_last")
    except sqlite3.Error as exc:
        return rows + [Check("last update", True, f"cannot read the store: {exc}", warn=True)]
    if not last:
        return rows + [Check("last update", True, "no remote update yet")]
    outcome, version = last.get("outcome"), last.get("version")
    when = str(last.get("at") or "")[:16].replace("T", " ")
    if outcome == "committed":
        took = f" in {last['seconds']:.0f} s" if last.get("seconds") is not None else ""
        return rows + [Check("last update", True, f"{version} committed {when}{took}")]
    if outcome == "trial":
        return rows + [Check("last update", True, f"{version} installed {when}, on trial", warn=True)]
    fix = "see the agent_update record and the journal; send the update again once the cause is fixed"
    return rows + [Check("last update", True, f"{version} {str(outcome).replace('_', ' ')} {when}: "
                                              f"{last.get('reason') or 'no reason given'}", fix, warn=True)]


def run_checks(config_path: str | Path | AgentConfig, options: DoctorOptions | None = None) -> list[Check]:
    """Every check in order; ``config_path`` may be the running agent's config (no file)."""
    options = options or DoctorOptions()
    first, config = check_config(config_path)
    if config is None:
        return [first]
    config_dir = None if isinstance(config_path, AgentConfig) else Path(config_path).resolve().parent
    live, stored = options.live_devices, options.stored_health
    beside = live is not None or stored is not None
    steps: list[tuple[str, Callable[[], Iterable[Check]]]] = [
        ("service user", lambda: check_service_user(options.service_user)),
        ("serial", lambda: check_serial_ports(config, options.service_user)),
    ]
    if live is not None:  # the agent owns them: what it sees, not a second master on the line
        steps += [("modbus", lambda: live_modbus_checks(config, live, options.service_user)),
                  ("cameras", lambda: live_camera_checks(config, live))]
    elif stored is not None:  # ... seen from another process: what its store says
        steps += [("modbus", lambda: stored_modbus_checks(config, stored, options.service_user)),
                  ("cameras", lambda: stored_camera_checks(config, stored))]
    else:
        steps += [("modbus", lambda: check_modbus(config, config_dir, options)),
                  ("cameras", lambda: check_cameras(config, options.camera_seconds))]
    if not beside:
        steps.append(("broker", lambda: check_broker(config, options.broker_timeout_s)))
    else:
        unknown_fix = "" if live is not None else "the console's installer doctor shows the agent's own session"
        steps.append(("broker", lambda: [*check_broker(config, options.broker_timeout_s, mqtt_connect=False),
                                         live_mqtt_row(options.agent_connected, unknown_fix)]))
    steps.append(("console", lambda: [check_console(config, beside)]))
    steps += [
        ("clock", lambda: [check_clock()]),
        ("disk", lambda: check_disk(config)),
        ("models", lambda: check_models(config)),
        ("version", lambda: check_version(config)),
    ]
    checks = [first]
    # pymodbus's ERROR lines would repeat the rows in raw form; beside the agent nothing is polled
    # and the process-wide logger stays as the agent set it
    quiet = logging.getLogger("pymodbus")
    level = quiet.level
    if not beside:
        quiet.setLevel(logging.CRITICAL)
    try:
        for label, step in steps:
            try:
                checks += list(step())
            except Exception as exc:  # noqa: BLE001 - a doctor that crashes tells nothing
                log.debug("doctor check %s crashed", label, exc_info=True)
                checks.append(Check(label, False, f"check could not run: {_reason(exc)}",
                                    "report this as a bug, with the row"))
    finally:
        quiet.setLevel(level)
    # whatever a check or a library put in its text, no URL credentials leave the doctor
    return [replace(c, detail=redact_text(c.detail), fix=redact_text(c.fix)) for c in checks]


def format_table(checks: list[Check]) -> str:
    headers = ("CHECK", "STATUS", "DETAIL", "FIX")
    rows = [(c.name, c.status, c.detail, c.fix) for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:3])]
    widths = [min(w, cap) for w, cap in zip(widths, (28, 6, 90), strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        head = "  ".join(cell.ljust(w) for cell, w in zip(cells[:3], widths, strict=True))
        return (head + "  " + cells[3]).rstrip()

    out = [line(headers)]
    out += [line(row) for row in rows]
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    out.append(f"\n{len(checks)} checks: {len(checks) - failed - warned} ok, {warned} warn, {failed} fail")
    return "\n".join(out)
