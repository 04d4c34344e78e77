"""The public side as a process of its own, supervised by the agent.

The agent binds the public port itself (so a port held by another program is said in
words, and the port is known at once), then starts ``python -m <child module>`` with the
listening socket, one end of the door (a socket pair: ``agent.public.desk`` answers on
the other) and the shared refusal counts. The child runs at a lower CPU priority
(``public.nice``) with its own worker budget (``public.workers``): a flood is parsed,
limited and refused in the child, on the child's CPU time, and what the stations, the
store's writer and the uplink need is never waited on by it. When the child ends the run
fails and the supervisor (``agent.ops.runtime``) starts it again with back-off; the
installer's page shows its state (``Refusals.process``).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from agent.ops.runtime import ComponentDown
from agent.public.desk import Desk, serve_thread
from agent.social.counters import ProcessState, Refusals

log = logging.getLogger("agent.public")
POLL_S = 0.2
STOP_WAIT_S = 5.0


class PublicProcess:
    """The supervised component: one run is one life of the child process."""

    name = "public"

    def __init__(self, desk: Desk, refusals: Refusals, child_module: str, store_path: Path, media_dir: Path) -> None:
        self.desk = desk
        self.refusals = refusals
        self.child_module = child_module
        self.store_path, self.media_dir = store_path, media_dir
        self.port: int | None = None
        self.started = threading.Event()
        self.pid: int | None = None
        self._sock: socket.socket | None = None

    @property
    def state(self) -> ProcessState:
        return self.refusals.process

    def run(self, stop: threading.Event) -> None:
        sock = self._listener(stop)
        ours, theirs = socket.socketpair()
        self.state.state = "starting"
        try:
            proc = self._spawn(sock, theirs)
            theirs.close()
            serve_thread(self.desk, ours, self._ready)
            code = self._watch(proc, stop)
        finally:
            self.started.clear()
            for s in (ours, theirs):
                s.close()
        if not stop.is_set():
            self.state.ended(code)
            raise ComponentDown(f"the public side's process ended (exit code {code}); starting it again")
        self.state.state = "off"

    def _listener(self, stop: threading.Event) -> socket.socket:
        """The public port, bound once and kept across the child's lives: while it starts
        again, connections wait in the backlog, and no other program can take the port.
        Closed when the agent stops, even during a back-off (a reloaded agent binds it again)."""
        if self._sock is not None:
            return self._sock
        cfg = self.desk.view.config.public
        try:
            self._sock = socket.create_server((cfg.host, cfg.port), reuse_port=False)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            self.state.could_not_listen(f"{cfg.host}:{cfg.port}", reason)
            raise ComponentDown(f"cannot listen on {cfg.host}:{cfg.port}: {reason} (another program on the port? "
                                f"set public.port)") from None
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._close_at, args=(stop, self._sock), name="public-port", daemon=True).start()
        return self._sock

    def _close_at(self, stop: threading.Event, sock: socket.socket) -> None:
        stop.wait()
        if self._sock is sock:
            self._sock = None
        sock.close()

    def _spawn(self, sock: socket.socket, door: socket.socket) -> subprocess.Popen[bytes]:
        cfg = self.desk.view.config
        boot = {"config": cfg, "store_path": str(self.store_path), "media_dir": str(self.media_dir),
                "listen_fd": sock.fileno(), "door_fd": door.fileno(), "refusals_fd": self.refusals.fd,
                "nice": cfg.public.nice, "parent_pid": os.getpid(),
                "log_level": logging.getLogger("agent").getEffectiveLevel()}
        proc = subprocess.Popen([sys.executable, "-m", self.child_module], stdin=subprocess.PIPE,
                                pass_fds=(sock.fileno(), door.fileno(), self.refusals.fd), start_new_session=True)
        assert proc.stdin is not None
        try:
            proc.stdin.write(pickle.dumps(boot))  # the agent to its own child: trusted, one way
            proc.stdin.close()
        except OSError:
            pass  # it died at once: its exit code says so
        self.pid = self.state.pid = proc.pid
        log.info("public side's process started pid=%d nice=%d workers=%d", proc.pid, cfg.public.nice,
                 cfg.public.workers)
        return proc

    def _ready(self) -> None:
        self.state.state = "running"
        self.started.set()

    def _watch(self, proc: subprocess.Popen[bytes], stop: threading.Event) -> int | None:
        while not stop.is_set():
            try:
                return proc.wait(POLL_S)
            except subprocess.TimeoutExpired:
                continue
        proc.send_signal(signal.SIGTERM)  # uvicorn ends its requests, then the process
        try:
            return proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
