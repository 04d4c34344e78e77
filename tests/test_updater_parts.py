"""The updater's parts on their own: the resumable partial file, the byte budget, the
package reader's refusals, the launcher undoing a release that never starts, and the
doctor's version rows."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from agent.ops.doctor.run import check_version
from agent.store import Store
from agent.updater.debpkg import PackageError, control_fields, extract_venv
from agent.updater.transfer import ByteBudget, PartialDownload
from tests.conftest import make_config

REPO = Path(__file__).resolve().parents[1]


def test_partial_download_survives_a_restart_and_refuses_bad_chunks(tmp_path):
    data = os.urandom(10_000)
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    first = PartialDownload(tmp_path, digest, len(data), 4096)
    assert first.write_chunk(0, data[:4096]) and first.write_chunk(2, data[8192:])
    assert not first.write_chunk(1, data[4096:5000])  # wrong length: nothing written
    first.save()
    again = PartialDownload(tmp_path, digest, len(data), 4096)  # a restarted agent
    assert again.missing() == [1] and again.contiguous_bytes() == 4096
    assert again.write_chunk(1, data[4096:8192]) and again.complete() and again.sha256() == digest


def test_byte_budget_paces_to_its_rate():
    now = [0.0]
    budget = ByteBudget(60_000, monotonic=lambda: now[0])  # 1,000 bytes a second
    assert budget.take(60_000) == 0.0
    assert budget.take(1_000) == pytest.approx(1.0)
    now[0] += 1.0
    assert budget.take(1_000) == 0.0


def _deb(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    """A tiny ar/.deb with a control file and a data.tar.gz of (name, content, link)."""
    def tar(entries: list[tuple[str, bytes | None, str | None]]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as archive:
            for name, content, link in entries:
                info = tarfile.TarInfo(name)
                if link is not None:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                    archive.addfile(info)
                else:
                    info.size = len(content or b"")
                    archive.addfile(info, io.BytesIO(content or b""))
        return buf.getvalue()

    control = tar([("./control", b"Package: canteen-agent\nVersion: 9.9\nArchitecture: amd64\n", None)])
    out = b"!<arch>\n"
    for name, body in (("debian-binary", b"2.0\n"), ("control.tar.gz", control), ("data.tar.gz", tar(members))):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode() + body
        out += b"\n" if len(body) % 2 else b""
    path.write_bytes(out)
    return path


def test_package_reader_takes_the_venv_and_refuses_escapes(tmp_path):
    good = _deb(tmp_path / "good.deb", [("./opt/canteen-agent/venv/bin/python", None, "/usr/bin/python3"),
                                        ("./opt/canteen-agent/venv/lib/x.py", b"x = 1\n", None),
                                        ("./usr/share/doc/canteen-agent/copyright", b"c", None)])
    assert control_fields(good)["Version"] == "9.9"
    assert extract_venv(good, tmp_path / "rel" / "venv") == 1
    assert (tmp_path / "rel/venv/lib/x.py").read_text() == "x = 1\n"
    assert os.readlink(tmp_path / "rel/venv/bin/python") == "/usr/bin/python3"
    evil = _deb(tmp_path / "evil.deb", [("./opt/canteen-agent/venv/bin/sh", None, "/bin/sh")])
    with pytest.raises(PackageError, match="unsafe link"):
        extract_venv(evil, tmp_path / "evil" / "venv")
    assert not (tmp_path / "evil" / "venv").exists()
    climb = _deb(tmp_path / "climb.deb", [("./opt/canteen-agent/venv/../../../etc/x", b"x", None)])
    with pytest.raises(PackageError, match="unsafe path"):
        extract_venv(climb, tmp_path / "climb" / "venv")


def test_the_launcher_undoes_a_release_that_never_starts(tmp_path):
    releases = tmp_path / "releases"
    opt = tmp_path / "opt"
    for where, name in ((opt / "venv", "installed"), (releases / "2.0" / "venv", "2.0")):
        (where / "bin").mkdir(parents=True)
        python = where / "bin" / "python"
        python.write_text(f"#!/bin/sh\necho {name} \"$@\"\n")
        python.chmod(0o755)
    (releases / "current").symlink_to("2.0")
    (releases / "trial.json").write_text(json.dumps({"version": "2.0", "previous": "", "command_id": "c1",
                                                     "deadline_epoch": 4102444800}))
    env = dict(os.environ, CANTEEN_OPT=str(opt), CANTEEN_RELEASES=str(releases), CANTEEN_TRIAL_MAX_STARTS="2")
    launch = ["sh", str(REPO / "systemd/canteen-agent-launch"), "run"]
    status = ["sh", str(REPO / "systemd/canteen-agent-launch"), "status"]
    for _ in range(3):  # commands beside the service are no starts of it
        assert subprocess.run(status, capture_output=True, text=True, env=env, check=True).stdout.startswith("2.0")
    ran = [subprocess.run(launch, capture_output=True, text=True, env=env, check=True).stdout.split()[0]
           for _ in range(3)]
    assert ran == ["2.0", "2.0", "installed"]  # the third start goes back
    report = json.loads((releases / "rolled-back.json").read_text())
    assert report["version"] == "2.0" and report["by"] == "launcher" and "started 2 times" in report["reason"]
    assert not (releases / "trial.json").exists() and not (releases / "current").exists()


def test_doctor_shows_the_version_and_the_last_update(tmp_path):
    config = make_config(tmp_path)
    rows = check_version(config)
    assert rows[0].name == "version" and rows[0].detail.startswith("canteen-agent ")
    with Store(config.store.path) as store:
        store.kv_set("update_last", {"version": "0.2.0", "outcome": "rolled_back", "at": "2026-12-01T08:00:00+08:00",
                                     "reason": "not healthy within 300 s: waiting for the uplink to connect"})
    last = check_version(config)[1]
    assert last.status == "WARN" and "0.2.0 rolled back 2026-12-01 08:00: not healthy within 300 s" in last.detail


def test_https_fetch_resumes_with_a_range_after_the_server_cut_it(tmp_path):
    """A real TLS server (the site CA's certificate, verified) that drops the first
    download half-way; the second asks for the rest only."""
    import hashlib
    import http.server
    import ssl
    import threading

    from agent.updater.fetch import FetchError, https_fetch

    pki = tmp_path / "pki"
    subprocess.run(["bash", str(REPO / "config/certs/make-test-certs.sh"), str(pki)], check=True, capture_output=True)
    body = os.urandom(700_000)
    ranges: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            wanted = self.headers.get("Range", "")
            ranges.append(wanted)
            start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if len(ranges) == 1:
                self.wfile.write(body[:300_000])  # then the link drops
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(body[start:])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.crt", pki / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://localhost:{server.server_address[1]}/canteen-agent.deb"
        partial = PartialDownload(tmp_path / "in", hashlib.sha256(body).hexdigest(), len(body), 65536)
        budget, stop = ByteBudget(100 * 1024 * 1024), threading.Event()
        with pytest.raises(FetchError):
            https_fetch(partial, url, budget, stop, ca_file=pki / "ca.crt")
        held = partial.contiguous_bytes()
        assert 0 < held < len(body)
        https_fetch(partial, url, budget, stop, ca_file=pki / "ca.crt")
        assert partial.complete() and partial.sha256() == hashlib.sha256(body).hexdigest()
        assert ranges == ["bytes=0-", f"bytes={held}-"]
    finally:
        server.shutdown()
