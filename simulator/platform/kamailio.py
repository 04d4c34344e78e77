"""Debian's Kamailio as an independent SIP registrar (digest REGISTER against a server nobody here wrote).

``Kamailio(dir, realm, users).start()`` writes its own config into ``dir`` and runs
``/usr/sbin/kamailio`` in the foreground on a free UDP port of 127.0.0.1: REGISTER is
challenged (``www_challenge``, qop=auth) and checked with the user's password
(``pv_www_authenticate``), then saved in memory (usrloc, no database); MESSAGE is
answered 200 (a GB keepalive). Nothing of the system's Kamailio service is touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
loadpath "{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!sanity_check()) {{ exit; }}
    if (is_method("REGISTER")) {{
{users}
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    if (is_method("MESSAGE") && registered("location", "$fu")) {{ sl_send_reply("200", "OK"); exit; }}
    if (is_method("MESSAGE")) {{ sl_send_reply("403", "Forbidden"); exit; }}
    sl_send_reply("404", "Not Here");
}}
"""
USER = """        if ($fU == "{user}") {{
            if (!pv_www_authenticate("{realm}", "{password}", "0")) {{
                xlog("L_NOTICE", "auth failed for $fU: $rc\\n");
                www_challenge("{realm}", "1");
                exit;
            }}
            consume_credentials();
            if (!save("location")) {{ sl_reply_error(); }}
            exit;
        }}
"""


def kamailio_binary() -> str | None:
    return shutil.which("kamailio") or next((p for p in ("/usr/sbin/kamailio",) if Path(p).exists()), None)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Kamailio:
    def __init__(self, workdir: Path, realm: str, users: dict[str, str]) -> None:
        self.dir = Path(workdir)
        self.realm = realm
        self.users = users
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> Kamailio:
        binary = kamailio_binary()
        if binary is None:
            raise FileNotFoundError("kamailio not installed (Debian: sudo apt-get install kamailio)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_udp_port()
        users = "".join(USER.format(user=u, realm=self.realm, password=p.replace('"', "")) for u, p in self.users.items())
        config = self.dir / "kamailio.cfg"
        modules = next((str(p) for p in Path("/usr/lib").glob("*/kamailio/modules") if p.is_dir()),
                       "/usr/lib/kamailio/modules")
        config.write_text(CONFIG.format(port=self.port, users=users, modules=modules))
        check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"kamailio config check failed: {check.stderr[-800:]}")
        self._log = open(self.dir / "kamailio.log", "wb")  # noqa: SIM115 - kept open while it runs
        self._proc = subprocess.Popen([binary, "-DD", "-E", "-f", str(config), "-Y", str(self.dir),
                                       "-P", str(self.dir / "kamailio.pid"), "-w", str(self.dir)],
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: {self.log()[-800:]}")
            if self._answers_options():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kamailio did not answer on 127.0.0.1:{self.port}: {self.log()[-800:]}")

    def _answers_options(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            probe = (f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKprobe\r\n"
                     "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: probe\r\n"
                     "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n").encode()
            try:
                sock.sendto(probe, ("127.0.0.1", self.port))
                return sock.recv(4096).startswith(b"SIP/2.0")
            except OSError:
                return False

    def log(self) -> str:
        path = self.dir / "kamailio.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()
