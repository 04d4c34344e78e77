"""Remote updates end to end: the installed package (dpkg into a throwaway root) runs
through its launcher against a real Mosquitto; the reference platform offers a newer
package over MQTT and signs the ``update`` command. Covered: an update interrupted by a
broker restart mid-download, resumed and committed; a release that cannot connect,
undone within its trial window with nothing lost; a bad signature and a wrong hash,
refused with nothing installed."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.platform.broker import Broker
from simulator.platform.platform import Platform
from simulator.platform.updates import update_args
from tests.fixtures_mqtt import wait_until
from tests.fixtures_package import BROKEN, GOOD, Packages, needs_dpkg

pytestmark = needs_dpkg
AGENT = "kitchen-7"


class Box:
    """The installed agent, started by its launcher as systemd would."""

    def __init__(self, root: Path, work: Path, broker: Broker, key: Ed25519PrivateKey, trial_s: float) -> None:
        self.root, self.work = root, work
        self.releases = work / "releases"
        raw = key.public_key().public_bytes_raw()
        self.config = work / "agent.yaml"
        self.config.write_text(json.dumps({
            "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
            "store": {"path": str(work / "agent.db"), "media_dir": str(work / "media")},
            "broker": {"host": "127.0.0.1", "port": broker.port, "platform_public_key": base64.b64encode(raw).decode(),
                       "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "ack_timeout_s": 5},
            "update": {"trial_s": trial_s, "bytes_per_min": 2 * 1024 ** 3},
            "console": {"enabled": False},
        }))
        self.log = open(work / "agent.log", "w")  # noqa: SIM115
        env = dict(os.environ, CANTEEN_OPT=str(root / "opt/canteen-agent"), CANTEEN_RELEASES=str(self.releases),
                   CANTEEN_CLOCK_SYNCED="1")
        self.env = env
        self.proc = subprocess.Popen(["sh", str(root / "opt/canteen-agent/bin/canteen-agent"), "run", "--config",
                                      str(self.config)], stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=work)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A CLI command beside the running agent, through the same launcher."""
        return subprocess.run(["sh", str(self.root / "opt/canteen-agent/bin/canteen-agent"), *args,
                               "--config", str(self.config)], capture_output=True, text=True, timeout=60,
                              env=self.env, cwd=self.work)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def logs(self) -> str:
        return (self.work / "agent.log").read_text()[-4000:]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def rig(installed_root: Path, tmp_path: Path, key: Ed25519PrivateKey):
    broker = Broker(tmp_path / "broker").start()
    platform = Platform("127.0.0.1", broker.port, tmp_path / "platform.db", client_id="platform-u",
                        durable=True).start()
    boxes: list[Box] = []

    def start(trial_s: float = 60) -> Box:
        box = Box(installed_root, tmp_path, broker, key, trial_s)
        boxes.append(box)
        wait_until(lambda: (platform.status(AGENT) or {}).get("online"), timeout=60)
        return box

    yield broker, platform, start
    for box in boxes:
        box.stop()
    platform.stop()
    broker.stop()


def outcomes(platform: Platform) -> list[dict]:
    return [r["data"] for r in platform.records(AGENT, type="agent_update")]


def test_update_resumed_after_broker_restart_then_committed(rig, packages: Packages, key: Ed25519PrivateKey):
    broker, platform, start = rig
    box = start()
    offer = platform.updates.offer(packages.good)
    started = time.monotonic()
    result = platform.send_command(AGENT, "update", update_args(offer, GOOD, key), sign_with=key)
    assert result["ok"], result
    # mid-download, the broker goes away and comes back: what was held is kept, the rest resumed
    wait_until(lambda: offer.chunks_sent > 20, timeout=60)
    broker.restart()
    wait_until(lambda: any(o["outcome"] == "committed" for o in outcomes(platform)), timeout=240)
    committed_s = time.monotonic() - started
    assert offer.requests > 1 and offer.chunks_sent < 2 * (offer.size // offer.chunk_size + 1)
    status = platform.send_command(AGENT, "get_status", sign_with=key)["result"]
    assert status["version"] == GOOD and status["update"]["last"]["outcome"] == "committed"
    assert [o["outcome"] for o in outcomes(platform)] == ["started", "committed"]
    assert (box.releases / "current").resolve().name == GOOD
    assert not (box.releases / "trial.json").exists()
    assert box.proc.poll() is None  # the same process, now the new version (exec through the launcher)
    print(f"update -> committed in {committed_s:.1f} s ({offer.size / 1e6:.0f} MB over MQTT, one broker restart)")


def test_release_that_cannot_connect_is_rolled_back_and_nothing_lost(rig, packages: Packages,
                                                                     key: Ed25519PrivateKey, tmp_path: Path):
    broker, platform, start = rig
    box = start(trial_s=10)
    offer = platform.updates.offer(packages.broken)
    started = time.monotonic()
    assert platform.send_command(AGENT, "update", update_args(offer, BROKEN, key), sign_with=key)["ok"]
    # while the broken release is on trial (it never connects), the manager registers lunch:
    # the record waits in the store's outbox, through the rollback, and is delivered after it
    wait_until(lambda: (box.releases / "trial.json").exists() and "restarting through" in box.logs(), timeout=180)
    meal = box.run("meal", "--meal", "lunch", "--diners", "812")
    assert meal.returncode == 0, meal.stderr
    wait_until(lambda: any(o["outcome"] == "rolled_back" for o in outcomes(platform)), timeout=240)
    rolled_s = time.monotonic() - started
    undone = next(o for o in outcomes(platform) if o["outcome"] == "rolled_back")
    assert undone["version"] == BROKEN and undone["running_version"] == packages.version
    assert "not healthy within 10 s" in undone["reason"]
    alarms = wait_until(lambda: [a["data"] for a in platform.records(AGENT, type="alarm")
                                 if a["data"]["kind"] == "update_rolled_back"], timeout=30)
    assert alarms[0]["state"] == "raised" and alarms[0]["details"]["version"] == BROKEN
    wait_until(lambda: (platform.status(AGENT) or {}).get("version") == packages.version, timeout=30)
    assert not (box.releases / "current").exists()  # back on the installed release
    # nothing lost: what the broken release wrote (its own agent_update beacon) reached the
    # platform through the old version, and the outbox drains to empty
    def outbox_empty() -> bool:
        status = platform.send_command(AGENT, "get_status", sign_with=key, timeout=20)["result"]
        return all(entry["pending"] == 0 for entry in status["outbox"].values())

    wait_until(outbox_empty, timeout=60, interval=1.0)
    assert [o["outcome"] for o in outcomes(platform)] == ["rolled_back"]  # the broken one never delivered
    lunch = platform.records(AGENT, type="meal_service")
    assert len(lunch) == 1 and lunch[0]["data"]["diners"] == 812
    print(f"update -> rolled back in {rolled_s:.1f} s (trial window 10 s)")


def test_bad_signature_and_wrong_hash_are_refused_with_nothing_installed(rig, packages: Packages,
                                                                          key: Ed25519PrivateKey):
    broker, platform, start = rig
    box = start()
    offer = platform.updates.offer(packages.good)
    intruder = Ed25519PrivateKey.generate()
    # the package signed by another key: refused before a byte is fetched
    refused = platform.send_command(AGENT, "update", update_args(offer, GOOD, intruder), sign_with=key)
    assert not refused["ok"] and "signature" in refused["error"]
    # the command itself signed by another key: refused by the command check
    refused = platform.send_command(AGENT, "update", update_args(offer, GOOD, key), sign_with=intruder)
    assert not refused["ok"] and refused["error"] == "bad signature"
    assert offer.chunks_sent == 0
    # a hash that is not the file's: fetched, checked, refused
    wrong = update_args(offer, GOOD, key, sha256="0" * 64)
    assert platform.send_command(AGENT, "update", wrong, sign_with=key)["ok"]
    wait_until(lambda: any(o["outcome"] == "refused" for o in outcomes(platform)), timeout=240)
    refusal = next(o for o in outcomes(platform) if o["outcome"] == "refused")
    assert "sha256 mismatch" in refusal["reason"]
    assert not (box.releases / "current").exists() and not (box.releases / GOOD).exists()
    assert not list((box.releases / "incoming").glob("*.part"))
    assert (platform.status(AGENT) or {}).get("version") == packages.version
