"""A real Mosquitto broker on a free loopback port, for tests and local demos.

``Broker(workdir)`` writes a config into ``workdir`` and runs ``mosquitto -c`` on it:
a plain listener, optionally a TLS listener with client certificates (mutual TLS,
``use_identity_as_username``), optionally a password file and an ACL. Wherever clients
have an identity (certificate CN or user name) it is also their client id
(``use_username_as_clientid``), so no client can take over another's session. Persistence
on (so a restart keeps sessions and queued QoS 1 messages) and a log at every level so
tests can look for e.g. a denied publish in ``log_text()``.

    broker = Broker(tmp_path, tls=True, acl=ACL_FILE, clients=("a1", "a2", "platform"))
    broker.start()
    broker.restart()   # same ports, persistence reloaded
    broker.freeze()    # SIGSTOP: connections hang, nothing is answered
    broker.thaw()
    broker.kill()      # SIGKILL: only what the last autosave wrote survives
    broker.stop()      # SIGTERM: the database is saved on the way out
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from simulator.platform.certs import DEFAULT_SERVER_NAMES, TestCerts, make_test_certs

log = logging.getLogger("simulator.broker")

HOST = "127.0.0.1"
DEFAULT_CLIENTS = ("a1", "a2", "platform")


class BrokerError(RuntimeError):
    """The broker could not be started or stopped as asked."""


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise BrokerError("mosquitto not found on PATH or in /usr/sbin: install it "
                          "(Debian/Raspberry Pi OS: sudo apt-get install mosquitto)")
    return found


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_accepts(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_bindable(port: int, host: str = HOST) -> bool:
    """Could a server (with SO_REUSEADDR, as Mosquitto sets it) listen on this port now?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def password_hash(password: str, iterations: int = 101) -> str:
    """Mosquitto 2.x ``$7$`` entry (PBKDF2-SHA512), as mosquitto_passwd writes it."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class Broker:
    def __init__(self, workdir: str | Path, *, tls: bool = False, plain: bool = True,
                 acl: str | Path | None = None, users: Mapping[str, str] | None = None,
                 clients: Iterable[str] = DEFAULT_CLIENTS, require_certificate: bool = True,
                 autosave_interval_s: int = 1, max_inflight_messages: int = 100,
                 extra_config: str = "", server_names: Iterable[str] = DEFAULT_SERVER_NAMES) -> None:
        """
        tls: add a TLS listener (test CA in ``workdir/certs``; ``.certs`` has the paths),
            with ``require_certificate`` and ``use_identity_as_username``.
        acl: an ACL file path, or the ACL text itself (a str containing a newline).
        users: name -> password; written as a password file and anonymous access is off.
        clients: names of the client certificates to make (CN = name) when tls is on.
        server_names: the names (DNS or IP) the broker's certificate is issued for.
        autosave_interval_s: how often the persistence file is written; what a kill()
            can lose (a stop() always saves).
        """
        if not plain and not tls:
            raise ValueError("a broker needs at least one listener (plain or tls)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = mosquitto_binary()
        self.tls = tls
        self.plain = plain
        self.users = dict(users or {})
        self.require_certificate = require_certificate
        self.autosave_interval_s = autosave_interval_s
        self.max_inflight_messages = max_inflight_messages
        self.extra_config = extra_config
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.output_path = self.workdir / "mosquitto.out"
        self.acl_path = self._write_acl(acl)
        self.password_path = self._write_passwords() if self.users else None
        self.certs: TestCerts | None = make_test_certs(self.workdir / "certs", clients,
                                                                 server_names=server_names) if tls else None
        self.port: int | None = None
        self.tls_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    # --- files -----------------------------------------------------------------------

    def _write_acl(self, acl: str | Path | None) -> Path | None:
        if acl is None:
            return None
        if isinstance(acl, str) and "\n" in acl:
            path = self.workdir / "acl"
            path.write_text(acl)
            return path
        path = Path(acl)
        if not path.is_file():
            raise BrokerError(f"ACL file not found: {path}")
        return path

    def _write_passwords(self) -> Path:
        path = self.workdir / "passwd"
        path.write_text("".join(f"{name}:{password_hash(pw)}\n" for name, pw in self.users.items()))
        path.chmod(0o600)
        return path

    def _config_text(self) -> str:
        lines = [
            "# generated by simulator.platform.broker for tests",
            "per_listener_settings false",
            f"allow_anonymous {'false' if self.users else 'true'}",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"autosave_interval {self.autosave_interval_s}",
            f"max_inflight_messages {self.max_inflight_messages}",
            "max_queued_messages 0",  # unlimited: a long outage must not drop queued QoS 1
            "max_queued_bytes 0",
            "set_tcp_nodelay true",
            f"log_dest file {self.log_path}",
            "log_type all",  # 'Denied PUBLISH' is logged at debug level
            "log_timestamp true",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to 'mosquitto', who cannot write our temp dir
        if self.password_path:
            lines.append(f"password_file {self.password_path}")
        if self.acl_path:
            lines.append(f"acl_file {self.acl_path}")
        if self.plain:
            lines += ["", f"listener {self.port} {HOST}", "protocol mqtt"]
            if self.users:  # the client id is the user name: no one takes over another's session
                lines.append("use_username_as_clientid true")
        if self.tls:
            assert self.certs is not None
            lines += ["", f"listener {self.tls_port} {HOST}", "protocol mqtt",
                      f"cafile {self.certs.ca}", f"certfile {self.certs.server.cert}",
                      f"keyfile {self.certs.server.key}",
                      f"require_certificate {'true' if self.require_certificate else 'false'}",
                      f"use_identity_as_username {'true' if self.require_certificate else 'false'}"]
            if self.require_certificate or self.users:  # client id = certificate CN / user name
                lines.append("use_username_as_clientid true")
        if self.extra_config:
            lines += ["", self.extra_config]
        return "\n".join(lines) + "\n"

    # --- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def ports(self) -> list[int]:
        return [p for p in (self.port if self.plain else None, self.tls_port if self.tls else None) if p]

    def start(self, timeout: float = 15.0) -> Broker:
        """Start (first time: on fresh free ports) and wait until every listener accepts."""
        if self.running:
            raise BrokerError("broker already running")
        first = self.port is None and self.tls_port is None
        for attempt in range(5):
            if first:
                self.port = free_port() if self.plain else None
                self.tls_port = free_port() if self.tls else None
            self.config_path.write_text(self._config_text())
            self._spawn()
            if self._wait_listening(timeout):
                log.info("broker started pid=%d port=%s tls_port=%s", self.process.pid, self.port,
                         self.tls_port)
                return self
            output = self._output_tail()
            self._reap()
            if not first or "Address already in use" not in output or attempt == 4:
                raise BrokerError(f"mosquitto did not start: {output.strip() or 'no output'}\n"
                                  f"config {self.config_path}:\n{self.config_path.read_text()}")
            log.info("port taken between probe and bind, retrying with new ports")
        raise BrokerError("unreachable")

    def _spawn(self) -> None:
        with open(self.output_path, "ab") as out:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)], stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.frozen = False

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if all(port_accepts(p) for p in self.ports):
                return True
            time.sleep(0.02)
        return False

    def _output_tail(self) -> str:
        text = ""
        for path in (self.output_path, self.log_path):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")[-3000:]
        return text

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto saves its persistence file and exits."""
        if not self.running:
            self._reap()
            return
        if self.frozen:
            self.thaw()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("broker ignored SIGTERM for %.0fs: killing it", timeout)
            self.process.kill()
            self.process.wait(5)
        self._reap()

    def kill(self) -> None:
        """SIGKILL: no save on the way out (a crash or a power cut)."""
        if self.running:
            self.process.kill()
            self.process.wait(5)
        self._reap()

    def restart(self, *, hard: bool = False, timeout: float = 15.0) -> Broker:
        """Stop (or kill, if ``hard``) and start again on the same ports."""
        self.kill() if hard else self.stop()
        self._wait_ports_free(timeout)
        return self.start(timeout)

    def _wait_ports_free(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(port_bindable(p) for p in self.ports):
            if time.monotonic() > deadline:
                raise BrokerError(f"ports {self.ports} still busy {timeout:.0f}s after the broker stopped")
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: the process stays, its sockets stay open, nothing is answered."""
        if not self.running:
            raise BrokerError("broker not running")
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.running:
            self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def _reap(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.process = None
        self.frozen = False

    # --- inspection ------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, needle: str, timeout: float = 5.0) -> bool:
        """Mosquitto writes its log line a moment after acting: poll for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return needle in self.log_text()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Broker(port={self.port}, tls_port={self.tls_port}, running={self.running})"
