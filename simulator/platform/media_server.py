"""The reference platform's media server: nginx with the RTMP module, on free loopback ports.

``MediaServer(workdir)`` writes its own nginx config into ``workdir`` (prefix, pid,
logs and temp paths there too: no root daemon, nothing under /etc or /var) and runs
``nginx -g 'daemon off;'`` on it, the way ``simulator.platform.broker`` runs Mosquitto:

  * RTMP on ``port`` (never 1935): application ``live`` takes published streams from
    loopback and records every one to ``recordings/<name>.flv`` (what the platform
    keeps, and what the tests ffprobe);
  * HTTP on ``http_port`` (never 80): ``/stat`` is the RTMP module's XML statistics,
    read by ``publishing()``.

    server = MediaServer(tmp_path / "media").start()
    url = server.publish_url("kitchen-1")     # rtmp://127.0.0.1:<port>/live/kitchen-1
    server.wait_publishing("kitchen-1")
    server.recording("kitchen-1")             # Path of the FLV the server wrote
    server.stop()

Debian/Raspberry Pi OS: ``apt-get install nginx libnginx-mod-rtmp`` (``dev.sh`` does it).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from simulator.platform.broker import HOST, free_port, port_accepts

log = logging.getLogger("simulator.media_server")

RTMP_MODULE_PATHS = (Path("/usr/lib/nginx/modules/ngx_rtmp_module.so"),
                     Path("/usr/lib64/nginx/modules/ngx_rtmp_module.so"))
APPLICATION = "live"


class MediaServerError(RuntimeError):
    """The media server could not be started as asked."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise MediaServerError("nginx not found: install it with the RTMP module "
                               "(Debian/Raspberry Pi OS: sudo apt-get install nginx libnginx-mod-rtmp)")
    return found


def rtmp_module() -> Path:
    for path in RTMP_MODULE_PATHS:
        if path.exists():
            return path
    raise MediaServerError("the nginx RTMP module is missing (sudo apt-get install libnginx-mod-rtmp)")


class MediaServer:
    def __init__(self, workdir: str | Path, *, port: int | None = None, http_port: int | None = None,
                 record: bool = True) -> None:
        self.workdir = Path(workdir).resolve()
        self.port, self.http_port = port, http_port
        self.record = record
        self.recordings_dir = self.workdir / "recordings"
        self.config_path = self.workdir / "nginx.conf"
        self.error_log = self.workdir / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    # --- config ------------------------------------------------------------------------

    def _config_text(self) -> str:
        w = self.workdir
        record = (f"record all; record_path {self.recordings_dir}; record_unique off;"
                  if self.record else "record off;")
        return f"""# written by simulator.platform.media_server: a private nginx for the reference platform
load_module {rtmp_module()};
daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen {HOST}:{self.port};
        chunk_size 4096;
        application {APPLICATION} {{
            live on;
            {record}
            allow publish 127.0.0.1;
            deny publish all;
            allow play all;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {w}/tmp/body;
    proxy_temp_path {w}/tmp/proxy;
    fastcgi_temp_path {w}/tmp/fastcgi;
    uwsgi_temp_path {w}/tmp/uwsgi;
    scgi_temp_path {w}/tmp/scgi;
    server {{
        listen {HOST}:{self.http_port};
        location /stat {{ rtmp_stat all; }}
    }}
}}
"""

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> MediaServer:
        """Start (first time: on fresh free ports) and wait until both listeners accept."""
        if self.running:
            raise MediaServerError("media server already running")
        first = self.port is None
        for attempt in range(5):
            if first:
                self.port, self.http_port = free_port(), free_port()
            self._prepare()
            self._spawn()
            if self._wait_listening(timeout):
                log.info("media server started pid=%d rtmp_port=%d http_port=%d",
                         self.process.pid if self.process else -1, self.port, self.http_port)
                return self
            output = self._log_tail()
            self.kill()
            if not first or "Address already in use" not in output or attempt == 4:
                raise MediaServerError(f"nginx did not start: {output.strip() or 'no output'}")
        raise MediaServerError("unreachable")

    def _prepare(self) -> None:
        for folder in (self.workdir, self.recordings_dir, self.workdir / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text())

    def _spawn(self) -> None:
        with open(self.workdir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                [nginx_binary(), "-p", str(self.workdir), "-c", str(self.config_path), "-e", str(self.error_log)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if port_accepts(self.port or 0) and port_accepts(self.http_port or 0):
                return True
            time.sleep(0.02)
        return False

    def _log_tail(self) -> str:
        text = ""
        for path in (self.workdir / "stdout.log", self.error_log):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")[-3000:]
        return text

    def stop(self, timeout: float = 10.0) -> None:
        """SIGQUIT: nginx closes its streams (and recordings) and exits."""
        if not self.running or self.process is None:
            self.process = None
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("nginx ignored SIGQUIT for %.0fs: killing it", timeout)
            self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def __enter__(self) -> MediaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the platform sees -------------------------------------------------------------

    def publish_url(self, name: str) -> str:
        return f"rtmp://{HOST}:{self.port}/{APPLICATION}/{name}"

    play_url = publish_url

    def recording(self, name: str) -> Path:
        return self.recordings_dir / f"{name}.flv"

    def publishing(self) -> dict[str, dict[str, int]]:
        """Streams being published now: name -> {bytes_in, bw_in (bit/s)} from ``/stat``."""
        with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/stat", timeout=5) as reply:
            root = ET.fromstring(reply.read())
        streams: dict[str, dict[str, int]] = {}
        for stream in root.iter("stream"):
            if stream.find("publishing") is None:
                continue
            streams[stream.findtext("name", "")] = {
                "bytes_in": int(stream.findtext("bytes_in", "0")), "bw_in": int(stream.findtext("bw_in", "0"))}
        return streams

    def wait_publishing(self, name: str, timeout: float = 15.0, present: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (name in self.publishing()) == present:
                return True
            time.sleep(0.1)
        return False

    def __repr__(self) -> str:
        return f"MediaServer(port={self.port}, http_port={self.http_port}, running={self.running})"
