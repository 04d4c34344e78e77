"""``canteen-sim fleet``: many lightweight simulated agents against one broker and the platform.

Sizing the platform side for a province (tens of thousands of canteens) needs load
that looks like real agents to the broker: one MQTT connection per agent, its own
client id (the agent id), its own subtree ``scfs/v1/<agent_id>/...``, retained status
with a last will, QoS 1 record envelopes that validate against the v1 schemas, and
an item kept (and resent after a reconnect) until the platform acks its id. What
makes an agent *lightweight* is only that it has no store, drivers or workflows:
thousands of paho clients share a few selector loops (paho's external-loop API)
instead of a thread each.

Measured: records delivered per second (acked by the platform), end-to-end latency
from publish to ack (p50/p90/p99/max), and losses (sent but not acked by the end of
the grace period). The platform is the reference one (simulator/platform/platform.py), run as
several processes in one shared-subscription group on one database, which is also
checked: every acked id must be stored there exactly once.

    canteen-sim fleet --agents 1000 --duration 60 --rate 0.5 --platforms 2

``--broker rabbitmq-cluster`` runs it against a three-node RabbitMQ cluster started for
the run (simulator/platform/rabbitmq.py), MQTT 3.1.1: the agents spread over the nodes
and fail over to the next one when theirs goes, keeping their persistent sessions (quorum
queues) and sending again what was not acked; one platform instance (3.1.1 has no shared
subscriptions) with a durable session. ``--kill-node-at S`` SIGKILLs a node S
seconds into the publishing (default: halfway) and reports what that cost.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import logging
import random
import resource
import selectors
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.core.timeutil import rfc3339, uuid7
from agent.records.envelope import ClockState, Envelope, Source
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from agent.version import agent_version

log = logging.getLogger("simulator.fleet")

TZ = ZoneInfo("Asia/Shanghai")
MISC_EVERY_S = 1.0  # paho's keepalive / retry bookkeeping per client


@dataclass
class FleetSettings:
    agents: int = 100
    duration_s: float = 30.0
    rate_per_agent: float = 0.5  # records per second per agent
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "scfs/v1"
    loops: int = 2  # selector threads sharing the clients
    ramp_per_s: float = 400.0  # new connections per second (a real fleet does not connect at once)
    grace_s: float = 30.0  # after the last publish, wait this long at most for acks
    keepalive_s: int = 60
    ack_timeout_s: float = 60.0  # resend an item not acked this long (the agent's broker.ack_timeout_s default)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])  # agent ids of this run
    protocol: str = "mqtt5"  # "mqtt311": a broker without MQTT 5 (persistent sessions then)
    addresses: list[tuple[str, int]] = field(default_factory=list)  # a cluster's nodes (else host:port)

    def endpoints(self) -> list[tuple[str, int]]:
        return self.addresses or [(self.host, self.port)]

    def agent_id(self, index: int) -> str:
        return f"fleet-{self.tag}-{index:05d}"


# --- one simulated agent ---------------------------------------------------------------


@dataclass
class Pending:
    first_sent: float
    topic: str
    payload: bytes
    last_sent: float = 0.0
    resends: int = 0


class SimAgent:
    """One agent's MQTT side: status, records at a steady rate, acks, resend after reconnect."""

    def __init__(self, agent_id: str, settings: FleetSettings, stats: FleetStats) -> None:
        self.agent_id = agent_id
        self.root = f"{settings.prefix}/{agent_id}"
        self.settings = settings
        self.stats = stats
        self.seq = 0
        self.pending: dict[str, Pending] = {}
        self.ready = False  # connected and subscribed to its ack topic
        self.ever_ready = False
        self.reconnect_at: float | None = None
        self.address = int(agent_id.rsplit("-", 1)[1]) % len(settings.endpoints())  # spread over the nodes
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        if self.settings.protocol == "mqtt311":
            # A persistent session, as the agent keeps: on RabbitMQ its queue is a quorum queue,
            # replicated; a clean session's queue lives on one node only, and while that node
            # is down the broker refuses the agent's subscription on every other node.
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.agent_id, protocol=mqtt.MQTTv311,
                                 clean_session=False)
        else:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.agent_id, protocol=mqtt.MQTTv5)
        client.will_set(f"{self.root}/status", self._status(False), qos=1, retain=True)
        client.max_inflight_messages_set(64)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _status(self, online: bool) -> bytes:
        return json.dumps({"online": online, "version": agent_version(), "simulated": "fleet"}).encode()

    def connect(self) -> None:
        host, port = self.settings.endpoints()[self.address]
        if self.settings.protocol == "mqtt311":
            self.client.connect(host, port, self.settings.keepalive_s)
            return
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0  # a load run leaves no sessions behind on the broker
        self.client.connect(host, port, self.settings.keepalive_s, clean_start=True, properties=props)

    def fail_over(self) -> None:
        """Reconnect, to the next address when there are several."""
        self.address = (self.address + 1) % len(self.settings.endpoints())
        self.connect()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.stats.add("connect_refused")
            log.warning("fleet agent refused agent=%s reason=%s", self.agent_id, reason)
            return
        client.subscribe(f"{self.root}/ack", qos=1)
        client.publish(f"{self.root}/status", self._status(True), qos=1, retain=True)

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        if any(code.is_failure for code in codes):
            self.stats.add("subscribe_refused")
            return
        self.ready = True
        if not self.ever_ready:
            self.ever_ready = True
            self.stats.add("agents_ready")
        for item in self.pending.values():  # not acked before the connection dropped: resend
            self.stats.add("resent")
            client.publish(item.topic, item.payload, qos=1)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was_ready, self.ready = self.ready, False
        if self.stats.closing:
            return
        if was_ready:
            self.stats.add("disconnects")
            log.warning("fleet agent disconnected agent=%s reason=%s", self.agent_id, reason)
        self.reconnect_at = time.monotonic() + random.uniform(0.5, 2.0)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            ids = json.loads(message.payload)["ids"]
        except (ValueError, KeyError, TypeError):
            self.stats.add("bad_acks")
            return
        latencies = []
        for item_id in ids:
            item = self.pending.pop(item_id, None)
            if item is None:
                self.stats.add("duplicate_acks")
                continue
            latencies.append(now - item.first_sent)
        self.stats.acked(latencies)

    def publish_record(self, now: float) -> None:
        self.seq += 1
        envelope = make_envelope(self.agent_id, self.seq)
        topic = f"{self.root}/rec/{envelope['type']}"
        payload = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        self.pending[envelope["id"]] = Pending(now, topic, payload, now)
        self.stats.add("sent")
        self.client.publish(topic, payload, qos=1)

    def resend_overdue(self, now: float) -> None:
        """What the platform has not acked in ``ack_timeout_s`` goes again (an ack lost with
        a node, or a platform that was away), each wait twice the last, as the agent does:
        the platform stores it once and acks it again."""
        if not self.ready:
            return
        for item in self.pending.values():
            if now - item.last_sent >= self.settings.ack_timeout_s * 2 ** item.resends:
                item.last_sent, item.resends = now, item.resends + 1
                self.stats.add("resent")
                self.client.publish(item.topic, item.payload, qos=1)

    def close(self) -> None:
        if self.ready:
            self.client.publish(f"{self.root}/status", self._status(False), qos=1, retain=True)
        self.client.disconnect()


def make_envelope(agent_id: str, seq: int) -> dict[str, Any]:
    """A v1 envelope built through the agent's own models, so it is valid by construction."""
    now = datetime.now(TZ)
    if seq % 4 == 0:
        data: StaffHealthCheck | FoodSample = StaffHealthCheck(
            staff_id=f"S{seq % 40:03d}", temperature_c=36.5, normal_range_c=(35.9, 37.3))
        source = Source(device_id="thermo-1", kind="ir_thermometer")
    else:
        data = FoodSample(meal="lunch", dish=f"dish {seq % 12}", grams=130, min_grams=125,
                          sampled_at=now, kept_until=now + timedelta(hours=48), fridge_id="sample-fridge")
        source = Source(device_id="scale-1", kind="scale")
    envelope = Envelope[type(data)](
        id=uuid7(), type=data.record_type, agent_id=agent_id, school_id="fleet", canteen_id="k1",
        seq=seq, occurred_at=now, recorded_at=now, clock=ClockState(synced=True, source="ntp"),
        source=source, verdict="pass", data=data)
    out = envelope.model_dump(mode="json", exclude_none=True)
    out["occurred_at"] = out["recorded_at"] = rfc3339(now)
    return out


# --- shared counters -----------------------------------------------------------------


class FleetStats:
    """Counters of the whole fleet, written by every loop thread (hence the lock)."""

    def __init__(self) -> None:
        self.sent = 0
        self.resent = 0
        self.agents_ready = 0
        self.connect_refused = 0
        self.subscribe_refused = 0
        self.disconnects = 0
        self.duplicate_acks = 0
        self.bad_acks = 0
        self.closing = False
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def acked(self, latencies_s: list[float]) -> None:
        with self._lock:
            self.latencies.extend(latencies_s)


# --- selector loops: many paho clients per thread ---------------------------------------


class AgentLoop(threading.Thread):
    """Drives a share of the agents: connect ramp, paced publishing, socket I/O, keepalive."""

    def __init__(self, index: int, agents: list[SimAgent], settings: FleetSettings) -> None:
        super().__init__(name=f"fleet-loop-{index}", daemon=True)
        self.agents = agents
        self.settings = settings
        self.selector = selectors.DefaultSelector()  # epoll: no 1024-descriptor ceiling
        self.publishing = threading.Event()
        self.stop_event = threading.Event()
        self.connect_errors = 0
        for agent in agents:
            self._attach(agent.client)

    def _attach(self, client: mqtt.Client) -> None:
        client.on_socket_open = lambda c, _u, sock: self.selector.register(sock, selectors.EVENT_READ, c)
        client.on_socket_close = lambda _c, _u, sock: self._unregister(sock)
        client.on_socket_register_write = lambda c, _u, sock: self._modify(sock, c, True)
        client.on_socket_unregister_write = lambda c, _u, sock: self._modify(sock, c, False)

    def _unregister(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)

    def _modify(self, sock: Any, client: mqtt.Client, write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(sock, events, client)

    def run(self) -> None:
        to_connect = list(self.agents)
        per_loop_rate = self.settings.ramp_per_s / max(1, self.settings.loops)
        started = time.monotonic()
        schedule: list[tuple[float, int]] = []  # (due, agent index): the publishing heap
        next_misc = time.monotonic() + MISC_EVERY_S
        while not self.stop_event.is_set():
            now = time.monotonic()
            to_connect = self._connect_some(to_connect, started, per_loop_rate, now)
            if self.publishing.is_set():
                if not schedule and self.agents:
                    schedule = self._first_schedule(now)
                self._publish_due(schedule, now)
            if now >= next_misc:
                self._misc(now)
                next_misc = now + MISC_EVERY_S
            wait = 0.05
            if schedule and self.publishing.is_set():
                wait = min(wait, max(0.0, schedule[0][0] - now))
            self._io(wait)

    def _connect_some(self, waiting: list[SimAgent], started: float, rate: float,
                      now: float) -> list[SimAgent]:
        if not waiting:
            return waiting
        allowed = int((now - started) * rate) + 1 - (len(self.agents) - len(waiting))
        for agent in waiting[:max(0, allowed)]:
            try:
                agent.connect()
            except OSError as exc:
                self.connect_errors += 1
                agent.reconnect_at = now + 1.0
                log.warning("fleet connect failed agent=%s: %s", agent.agent_id, exc)
        return waiting[max(0, allowed):]

    def _first_schedule(self, now: float) -> list[tuple[float, int]]:
        period = 1.0 / self.settings.rate_per_agent
        heap = [(now + random.uniform(0, period), i) for i in range(len(self.agents))]
        heapq.heapify(heap)
        return heap

    def _publish_due(self, schedule: list[tuple[float, int]], now: float) -> None:
        period = 1.0 / self.settings.rate_per_agent
        while schedule and schedule[0][0] <= now:
            due, index = heapq.heappop(schedule)
            agent = self.agents[index]
            if agent.ready:
                agent.publish_record(now)
            # keep the phase; a stall does not make the agent burst to catch up
            heapq.heappush(schedule, (max(due + period, now), index))

    def _io(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            client: mqtt.Client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE and client.socket() is not None:
                client.loop_write()

    def _misc(self, now: float) -> None:
        for agent in self.agents:
            agent.client.loop_misc()
            agent.resend_overdue(now)
            if agent.reconnect_at is not None and now >= agent.reconnect_at and not self.stats_closing:
                agent.reconnect_at = None
                try:
                    agent.fail_over()
                except OSError as exc:
                    agent.reconnect_at = now + 2.0
                    log.warning("fleet reconnect failed agent=%s: %s", agent.agent_id, exc)

    @property
    def stats_closing(self) -> bool:
        return bool(self.agents) and self.agents[0].stats.closing

    def close_all(self, timeout_s: float = 5.0) -> None:
        """After the thread has stopped: offline status, DISCONNECT, sockets closed."""
        for agent in self.agents:
            with contextlib.suppress(Exception):
                agent.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(a.client.socket() is not None for a in self.agents):
            self._io(0.05)
        for agent in self.agents:
            agent.client._reset_sockets()  # noqa: SLF001 - socket and wake-up pair, now, not at GC
        self.selector.close()


# --- the platform: several reference-platform processes in one share group --------------


class PlatformGroup:
    """N ``canteen-sim platform`` processes sharing one database and one share group."""

    def __init__(self, instances: int, workdir: Path, host: str, port: int, prefix: str,
                 protocol: str = "mqtt5", addresses: list[tuple[str, int]] | None = None) -> None:
        if protocol == "mqtt311" and instances != 1:
            raise ValueError("MQTT 3.1.1 has no shared subscriptions: one platform instance")
        self.instances = instances
        self.workdir = workdir
        self.db = workdir / "platform.db"
        self.host, self.port, self.prefix = host, port, prefix
        self.protocol, self.addresses = protocol, addresses or []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.outputs: list[Path] = []

    def start(self, timeout_s: float = 30.0) -> None:
        for index in range(self.instances):
            out = self.workdir / f"platform-{index}.out"
            self.outputs.append(out)
            with open(out, "wb") as fh:
                extra = []
                if self.protocol == "mqtt311":
                    extra = ["--protocol", "mqtt311", "--client-id", f"fleet-platform-{index}"]
                if self.addresses:
                    extra += ["--addresses", ",".join(f"{h}:{p}" for h, p in self.addresses)]
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "simulator.cli", "platform", "--host", self.host,
                     "--port", str(self.port), "--db", str(self.db), "--group", "fleet",
                     "--prefix", self.prefix, *extra],
                    stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True))
        deadline = time.monotonic() + timeout_s
        for process, out in zip(self.processes, self.outputs, strict=True):
            while "platform listening" not in out.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"platform instance did not start: {out.read_text(errors='replace')[-2000:]}")
                time.sleep(0.05)

    def stop(self, timeout_s: float = 60.0) -> list[str]:
        """SIGTERM each (they finish storing and acking what they hold); their closing lines."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        lines = []
        for process, out in zip(self.processes, self.outputs, strict=True):
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            tail = out.read_text(errors="replace").strip().splitlines()
            lines.append(next((line for line in reversed(tail) if line.startswith("received=")), "?"))
        self.processes, self.outputs = [], []
        return lines

    def stored(self, tag: str) -> tuple[int, int]:
        """(rows, distinct ids) stored for this run's agents in the shared database."""
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            row = conn.execute("SELECT count(*), count(DISTINCT id) FROM records WHERE agent_id LIKE ?",
                               (f"fleet-{tag}-%",)).fetchone()
        finally:
            conn.close()
        return int(row[0]), int(row[1])


# --- the run ---------------------------------------------------------------------------


@dataclass
class FleetReport:
    agents: int
    agents_ready: int
    duration_s: float
    rate_per_agent: float
    platform_instances: int
    sent: int
    acked: int
    lost: int
    resent: int
    duplicate_acks: int
    disconnects: int
    delivered_per_s: float
    latency_ms: dict[str, float]
    platform_stored: int | None = None
    platform_instances_lines: list[str] = field(default_factory=list)
    drain_s: float = 0.0
    broker: str = "mosquitto"
    node_killed: str | None = None  # "<node> at <s> s"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        lat = self.latency_ms
        lines = [
            f"broker: {self.broker}" + (f"; node {self.node_killed}" if self.node_killed else ""),
            f"fleet: {self.agents_ready}/{self.agents} agents ready, {self.duration_s:.0f} s at "
            f"{self.rate_per_agent:g} records/s each, {self.platform_instances} platform instance(s)",
            f"sent {self.sent}  acked {self.acked}  lost {self.lost}  resent {self.resent}  "
            f"duplicate acks {self.duplicate_acks}  disconnects {self.disconnects}",
            f"delivered {self.delivered_per_s:.1f} records/s",
            f"latency publish->ack ms: p50 {lat.get('p50', 0):.1f}  p90 {lat.get('p90', 0):.1f}  "
            f"p99 {lat.get('p99', 0):.1f}  max {lat.get('max', 0):.1f}",
            f"drained in {self.drain_s:.1f} s after the last publish",
        ]
        if self.platform_stored is not None:
            lines.append(f"platform database: {self.platform_stored} records of this run stored once")
        lines += [f"  platform instance {i}: {line}" for i, line in enumerate(self.platform_instances_lines)]
        return "\n".join(lines)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] * 1000,
            "mean": sum(ordered) / len(ordered) * 1000}


def raise_fd_limit(needed: int) -> None:
    """Each client holds a socket and paho's wake-up socket pair: 3 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            log.warning("fleet: descriptor limit %d < %d needed; raise 'ulimit -n'", target, needed)


def run_fleet(settings: FleetSettings, *, ready_timeout_s: float = 120.0,
              during: tuple[float, Any] | None = None) -> FleetReport:
    """Connect the fleet, publish for ``duration_s``, wait for the acks, report.

    ``during``: (seconds, action) to run that far into the publishing (a node killed)."""
    raise_fd_limit(settings.agents * 4 + 256)
    stats = FleetStats()
    agents = [SimAgent(settings.agent_id(i), settings, stats) for i in range(settings.agents)]
    loops = [AgentLoop(i, agents[i::settings.loops], settings) for i in range(settings.loops)]
    for loop in loops:
        loop.start()
    try:
        _wait(lambda: stats.agents_ready >= settings.agents, ready_timeout_s)
        if stats.agents_ready < settings.agents:
            log.warning("fleet: only %d/%d agents ready after %.0fs", stats.agents_ready,
                        settings.agents, ready_timeout_s)
        log.info("fleet ready agents=%d: publishing for %.0fs", stats.agents_ready, settings.duration_s)
        began = time.monotonic()
        for loop in loops:
            loop.publishing.set()
        if during is not None:
            at_s, action = during
            time.sleep(min(at_s, settings.duration_s))
            action()
            time.sleep(max(0.0, began + settings.duration_s - time.monotonic()))
        else:
            time.sleep(settings.duration_s)
        for loop in loops:
            loop.publishing.clear()
        stopped = time.monotonic()
        _wait(lambda: sum(len(a.pending) for a in agents) == 0, settings.grace_s)
        drained = time.monotonic()
        stats.closing = True
    finally:
        for loop in loops:
            loop.stop_event.set()
            loop.join(10)
        for loop in loops:
            loop.close_all()
    lost = sum(len(a.pending) for a in agents)
    acked = len(stats.latencies)
    return FleetReport(
        agents=settings.agents, agents_ready=stats.agents_ready, duration_s=stopped - began,
        rate_per_agent=settings.rate_per_agent, platform_instances=0, sent=stats.sent, acked=acked,
        lost=lost, resent=stats.resent, duplicate_acks=stats.duplicate_acks,
        disconnects=stats.disconnects, delivered_per_s=acked / max(1e-9, drained - began),
        latency_ms=percentiles(stats.latencies), drain_s=drained - stopped)


def _wait(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def quiet_broker(workdir: Path, max_connections: int) -> Any:
    """A test Mosquitto whose log keeps errors and warnings only: logging every PUBLISH
    at debug level (the test broker's default) would measure the log, not the broker."""
    from simulator.platform.broker import Broker

    class QuietBroker(Broker):
        def _config_text(self) -> str:
            text = super()._config_text().replace("log_type all\n", "log_type error\nlog_type warning\n")
            return text + f"max_connections {max_connections}\n"

    return QuietBroker(workdir)


def run_with_platform(settings: FleetSettings, platforms: int, workdir: Path,
                      start_broker: bool, *, cluster: bool = False,
                      kill_node_at_s: float | None = None) -> FleetReport:
    """Optionally a local broker (a Mosquitto, or with ``cluster`` a RabbitMQ cluster and
    a node SIGKILLed ``kill_node_at_s`` into the publishing); ``platforms``
    reference-platform processes; the fleet."""
    raise_fd_limit(settings.agents * 4 + 256)  # the broker inherits it
    broker: Any = None
    rabbit: Any = None
    killed: list[str] = []
    during = None
    if cluster:
        from simulator.platform.rabbitmq import RabbitCluster

        rabbit = RabbitCluster(workdir / "rabbitmq", nodes=3).start()
        settings.protocol, settings.addresses = "mqtt311", rabbit.addresses
        settings.host, settings.port = rabbit.addresses[0]
        platforms = min(platforms, 1)
        if kill_node_at_s is not None:
            # the node the platform is connected to (its first address): the hardest case
            def kill() -> None:
                node = rabbit.nodes[0]
                log.warning("fleet: killing rabbitmq node %s (SIGKILL)", node.name)
                node.kill()
                killed.append(f"{node.name} (the platform's) SIGKILLed at {kill_node_at_s:g} s")

            during = (kill_node_at_s, kill)
    elif start_broker:
        broker = quiet_broker(workdir / "broker", settings.agents + 100).start()
        settings.host, settings.port = "127.0.0.1", broker.port
    group = PlatformGroup(platforms, workdir, settings.host, settings.port, settings.prefix,
                          protocol=settings.protocol, addresses=settings.addresses) if platforms else None
    try:
        if group:
            group.start()
        report = run_fleet(settings, during=during)
        if rabbit is not None:
            report.broker = "rabbitmq cluster, 3 nodes, MQTT 3.1.1"
            report.node_killed = killed[0] if killed else None
        if group:
            report.platform_instances = platforms
            report.platform_instances_lines = group.stop()
            rows, distinct = group.stored(settings.tag)
            if rows != distinct:
                log.error("fleet: platform stored %d rows for %d ids", rows, distinct)
            report.platform_stored = distinct
        return report
    finally:
        if group:
            group.stop()
        if broker is not None:
            broker.stop()
        if rabbit is not None:
            rabbit.stop()


# --- CLI ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=100, help="simulated agents (MQTT clients)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of publishing")
    parser.add_argument("--rate", type=float, default=0.5, help="records per second per agent")
    parser.add_argument("--platforms", type=int, default=2,
                        help="reference-platform processes to start in one share group (0: use a running one)")
    parser.add_argument("--broker", default=None, metavar="HOST:PORT",
                        help="use this broker (default: start a local Mosquitto); rabbitmq-cluster: "
                             "start a three-node RabbitMQ cluster for the run")
    parser.add_argument("--kill-node-at", type=float, default=None, metavar="S",
                        help="with rabbitmq-cluster: SIGKILL a node S seconds into the run (default: halfway)")
    parser.add_argument("--prefix", default="scfs/v1")
    parser.add_argument("--loops", type=int, default=2, help="selector threads sharing the clients")
    parser.add_argument("--ramp", type=float, default=400.0, help="connections per second while starting")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to wait for the last acks")
    parser.add_argument("--workdir", default=None, help="keep broker/platform files here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    settings = FleetSettings(agents=args.agents, duration_s=args.duration, rate_per_agent=args.rate,
                             prefix=args.prefix, loops=max(1, args.loops), ramp_per_s=args.ramp,
                             grace_s=args.grace)
    cluster = args.broker == "rabbitmq-cluster"
    if args.broker and not cluster:
        host, _, port = args.broker.rpartition(":")
        settings.host, settings.port = host or "127.0.0.1", int(port)
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="canteen-fleet-")))
        workdir.mkdir(parents=True, exist_ok=True)
        kill_at = args.kill_node_at if args.kill_node_at is not None else args.duration / 2
        report = run_with_platform(settings, args.platforms, workdir, start_broker=not args.broker,
                                   cluster=cluster, kill_node_at_s=kill_at if cluster else None)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.format(), flush=True)
    return 0 if report.lost == 0 and report.agents_ready == report.agents else 1


def extend(subparsers: Any) -> None:
    p = subparsers.add_parser("fleet", help="load: many simulated agents against the broker and platform",
                              description=__doc__.splitlines()[0].replace("``", ""))
    add_arguments(p)
    p.set_defaults(fn=run)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="canteen-sim fleet")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
