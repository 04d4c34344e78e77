"""The ``update`` command and the thread that fetches, checks and installs a package.

The command is answered at once (accepted, or refused with the reason and nothing
fetched); the work goes on in this component's thread and its outcome reaches the
platform as an ``agent_update`` record (and, for an undone update, an
``update_rolled_back`` alarm). The job is kept on disk, so an agent restarted
mid-download resumes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.command_contract import CURRENT_COMMAND_ID, CommandError, Handler, load_public_key
from agent.fsutil import write_atomically
from agent.records.agent_update import AgentUpdate
from agent.updater.debpkg import PackageError, control_fields, extract_venv, host_architecture
from agent.updater.fetch import FetchError, MqttFetch, https_fetch
from agent.updater.layout import VERSION_RE, Releases, Trial
from agent.updater.transfer import ByteBudget, PartialDownload

if TYPE_CHECKING:
    from agent.config.updates import UpdateConfig
    from agent.core.recorder import Recorder
    from agent.store import Store

log = logging.getLogger("agent.updater")

LAST_KEY = "update_last"  # the store's record of the last update's outcome (status, doctor)


class MqttSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transfer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    chunk_size: int = Field(ge=4096, le=1024 * 1024)


class HttpsSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=9, max_length=2048, pattern=r"^https://")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mqtt: MqttSource | None = None
    https: HttpsSource | None = None


class UpdateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=VERSION_RE.pattern)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    signature: str = Field(min_length=1, max_length=200)
    source: Source


def signed_text(version: str, sha256: str, size: int) -> bytes:
    """What the release key signs: the package's identity (docs/PLATFORM.md §12)."""
    return f"canteen-agent-package\n{version}\n{sha256}\n{size}\n".encode()


class UpdateService:
    name = "updater"

    def __init__(self, settings: UpdateConfig, platform_key: str | None, config_path: Path | None, store: Store,
                 recorder: Recorder, releases: Releases | None, running_version: str,
                 restart: Callable[[Path], None], now_iso: Callable[[], str]) -> None:
        self.settings = settings
        self.platform_key = platform_key
        self.config_path = config_path
        self.store = store
        self.recorder = recorder
        self.releases = releases
        self.running_version = running_version
        self.restart = restart
        self.now_iso = now_iso
        self.request_chunks: Callable[[bytes], bool] = lambda body: False
        self.fetch: MqttFetch | None = None
        self.wake = threading.Event()
        self.state = "idle"
        self.progress: dict[str, Any] = {}

    # --- the uplink's side: where chunks are asked for and arrive ----------------------

    def attach(self, request_chunks: Callable[[bytes], bool]) -> None:
        self.request_chunks = request_chunks

    def on_downlink(self, suffix: str, payload: bytes) -> None:
        """``dl/<transfer_id>/<n>`` from the uplink's thread."""
        parts = suffix.split("/")
        fetch = self.fetch
        if len(parts) != 3 or fetch is None or parts[1] != fetch.transfer_id or not parts[2].isdigit():
            return  # a chunk of a transfer no longer wanted: dropped
        fetch.on_chunk(int(parts[2]), payload)

    # --- the command --------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {"update": self.accept}

    def accept(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            update = UpdateArgs.model_validate(args)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CommandError(f"bad args: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        self._refusal(update)
        job = {"args": update.model_dump(mode="json"), "command_id": CURRENT_COMMAND_ID.get() or "",
               "accepted_at": self.now_iso(), "accepted_epoch": time.time()}
        assert self.releases is not None  # _refusal checked
        for stale in self.releases.incoming.glob("*.*"):  # a package an earlier command named
            if stale.stem != update.sha256 and stale.name != "job.json":
                stale.unlink(missing_ok=True)
        write_atomically(self.releases.incoming / "job.json", json.dumps(job).encode())
        self.wake.set()
        log.info("update accepted version=%s bytes=%d sha256=%s", update.version, update.size, update.sha256[:12])
        return {"accepted": True, "version": update.version, "bytes": update.size,
                "from_version": self.running_version, "trial_s": self.settings.trial_s}

    def _refusal(self, update: UpdateArgs) -> None:
        if not self.settings.enabled:
            raise CommandError("remote updates are turned off on this agent (update.enabled)")
        if self.releases is None or self.releases.launcher is None:
            raise CommandError("this agent was not started by the packaged launcher: it cannot "
                               "install a release beside itself (install the .deb)")
        if update.version == self.running_version:
            raise CommandError(f"version {update.version} is running already")
        if self.releases.trial() is not None:
            raise CommandError("an update is on trial: wait for it to commit or roll back")
        if update.size > self.settings.max_bytes:
            raise CommandError(f"package of {update.size} bytes is larger than update.max_bytes "
                               f"({self.settings.max_bytes})")
        if (update.source.mqtt is None) == (update.source.https is None):
            raise CommandError("bad args: source must name exactly one of mqtt or https")
        key_text = self.settings.release_key_text() or self.platform_key
        if not key_text:
            raise CommandError("no release key configured (update.release_public_key or the "
                               "platform key): an unsigned package is never installed")
        from cryptography.exceptions import InvalidSignature

        try:
            load_public_key(key_text).verify(base64.b64decode(update.signature, validate=True),
                                             signed_text(update.version, update.sha256, update.size))
        except (InvalidSignature, binascii.Error, ValueError):
            raise CommandError("package signature does not verify with the release key: refused") from None

    # --- the component --------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            job = self._job()
            if job is not None:
                self._work(job, stop)
            self.wake.wait(5.0)
            self.wake.clear()

    def _job(self) -> dict[str, Any] | None:
        if self.releases is None:
            return None
        try:
            job: dict[str, Any] = json.loads((self.releases.incoming / "job.json").read_text())
            return job
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("update job unreadable, dropped: %s", exc)
            (self.releases.incoming / "job.json").unlink(missing_ok=True)
            return None

    def _work(self, job: dict[str, Any], stop: threading.Event) -> None:
        assert self.releases is not None
        update = UpdateArgs.model_validate(job["args"])
        chunk = update.source.mqtt.chunk_size if update.source.mqtt else 256 * 1024
        partial = PartialDownload(self.releases.incoming, update.sha256, update.size, chunk)
        budget = ByteBudget(self.settings.bytes_per_min)
        self.state = "fetching"
        try:
            self._fetch(update, partial, budget, stop)
        except FetchError as exc:
            log.warning("update fetch interrupted version=%s: %s (retrying)", update.version, exc)
            stop.wait(10.0)
            return
        finally:
            self.fetch = None
        if stop.is_set():
            return
        problem = self._check(update, partial)
        if problem:
            partial.discard()
            self._finish(job, "refused", problem)
            return
        self.state = "installing"
        try:
            self._install(update, partial, job)
        except (PackageError, OSError, RuntimeError) as exc:
            self._finish(job, "refused", f"not installed: {exc}")
        finally:
            partial.discard()

    def _fetch(self, update: UpdateArgs, partial: PartialDownload, budget: ByteBudget,
               stop: threading.Event) -> None:
        started = time.monotonic()
        held = partial.have()
        if update.source.mqtt is not None:
            self.fetch = MqttFetch(partial, update.source.mqtt.transfer_id, self.request_chunks, budget)
            self.fetch.run(stop, progress=lambda: self._progress(update, partial, started))
        elif update.source.https is not None:
            https_fetch(partial, update.source.https.url, budget, stop,
                        ca_file=self.settings.https_ca_file)
        self._progress(update, partial, started)
        log.info("update fetched version=%s bytes=%d resumed_from_chunks=%d in %.1fs", update.version,
                 update.size, held, time.monotonic() - started)

    def _progress(self, update: UpdateArgs, partial: PartialDownload, started: float) -> None:
        self.progress = {"version": update.version, "chunks": partial.count, "held": partial.have(),
                         "seconds": round(time.monotonic() - started, 1)}

    def _check(self, update: UpdateArgs, partial: PartialDownload) -> str | None:
        size = partial.path.stat().st_size
        if size != update.size:
            return f"size mismatch: {size} bytes, the command said {update.size}"
        digest = partial.sha256()
        if digest != update.sha256:
            return f"sha256 mismatch: the package is {digest[:16]}…, the command said {update.sha256[:16]}…"
        try:
            fields = control_fields(partial.path)
        except PackageError as exc:
            return str(exc)
        if fields.get("Package") != "canteen-agent":
            return f"not a canteen-agent package: {fields.get('Package')!r}"
        if fields.get("Version") != update.version:
            return f"the package is version {fields.get('Version')!r}, the command said {update.version!r}"
        if fields.get("Architecture") not in (host_architecture(), "all"):
            return f"the package is for {fields.get('Architecture')}, this box is {host_architecture()}"
        return None

    def _install(self, update: UpdateArgs, partial: PartialDownload, job: dict[str, Any]) -> None:
        assert self.releases is not None and self.releases.launcher is not None
        target = self.releases.release_dir(update.version)
        staging = target.with_name(target.name + ".new")
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        if target.exists() and target.name != self.releases.current():
            shutil.rmtree(target)
        files = extract_venv(partial.path, staging / "venv")
        problem = self._smoke_test(staging / "venv", update.version)
        if problem:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(problem)
        staging.rename(target)
        previous = self.releases.current()
        trial = Trial(version=update.version, previous=previous, from_version=self.running_version,
                      command_id=str(job.get("command_id", "")), trial_s=self.settings.trial_s,
                      deadline_epoch=time.time() + self.settings.trial_s + 60,
                      started_at=str(job.get("accepted_at", "")))
        self.releases.begin_trial(trial)
        self.releases.point_at(target.name)
        (self.releases.incoming / "job.json").unlink(missing_ok=True)
        self._remember({"version": update.version, "from_version": self.running_version, "outcome": "trial",
                        "at": self.now_iso(), "command_id": trial.command_id,
                        "accepted_epoch": job.get("accepted_epoch")})
        log.warning("update installed version=%s files=%d: restarting into it (on trial for %.0f s)",
                    update.version, files, self.settings.trial_s)
        self.state = "restarting"
        self.restart(self.releases.launcher)

    def _smoke_test(self, venv: Path, version: str) -> str | None:
        """The new release runs on this box and accepts the config in force."""
        python = venv / "bin" / "python"
        try:
            done = subprocess.run([str(python), "-I", "-m", "agent", "--version"], capture_output=True,
                                  text=True, timeout=120)
            if done.returncode != 0 or done.stdout.strip() != f"canteen-agent {version}":
                return f"the new release does not run: {(done.stderr or done.stdout).strip()[-300:]}"
            if self.config_path is not None:
                done = subprocess.run([str(python), "-I", "-m", "agent", "check-config", str(self.config_path)],
                                      capture_output=True, text=True, timeout=120)
                if done.returncode != 0:
                    return f"the new release rejects the config: {done.stderr.strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"the new release does not run: {exc}"
        return None

    def _finish(self, job: dict[str, Any], outcome: Literal["refused"], reason: str) -> None:
        assert self.releases is not None
        args = job["args"]
        (self.releases.incoming / "job.json").unlink(missing_ok=True)
        self.state = "idle"
        log.error("update %s version=%s: %s", outcome, args.get("version"), reason)
        self._remember({"version": args.get("version"), "from_version": self.running_version,
                        "outcome": outcome, "reason": reason, "at": self.now_iso(),
                        "command_id": job.get("command_id", "")})
        self.recorder.record(AgentUpdate(outcome=outcome, version=str(args.get("version")),
                                         from_version=self.running_version, reason=reason,
                                         command_id=str(job.get("command_id", "")) or None))

    def _remember(self, last: dict[str, Any]) -> None:
        self.store.kv_set(LAST_KEY, last)
