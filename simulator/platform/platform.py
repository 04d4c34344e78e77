"""The reference platform (``canteen-sim platform``): receives, validates, stores, acks.

A paho-mqtt 2.x MQTT 5 client that takes what agents send through SHARED
subscriptions (``$share/<group>/scfs/v1/+/rec/#`` ...), so several instances in one
group split the load. Status is the exception: retained messages are never delivered
to shared subscriptions, so every instance subscribes to ``+/status`` directly
(storing the latest status is idempotent).

A broker restart and the subscriptions: Mosquitto 2.0.11 keeps a persistent session and
its queue across its restart, but not the session's shared subscriptions, and a session
begun with clean start only in memory (until the client has connected with clean start
0). Until the instance has subscribed again (it does on every connect) what agents send
reaches no one and comes again only when the agent resends it (ack timeout), behind
later items of its class. ``durable=True`` (one instance) subscribes plainly in a
session resumed from the first connect, which the broker keeps.

Every message is handled on one worker thread, in batches, each batch in one SQLite
transaction: records and alarms are validated against the exported JSON Schemas
(invalid: logged with a reason, counted, NOT acked), stored once by id (a duplicate is
counted and acked again), media reassembled and verified. Acks ``{"ids": [...]}`` go
to ``<root>/ack`` at QoS 1 only after the commit, batched per agent (every
``ack_interval_s`` or ``ack_batch`` ids). Instances of one group may share the
database file, which makes deduplication and media reassembly global.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from simulator.platform.commands import build_command
from simulator.platform.handlers import MessageHandlers
from simulator.platform.media import MediaAssembler, Outcome
from simulator.platform.store import PlatformStore
from simulator.platform.updates import UpdateServer
from simulator.platform.validate import SchemaValidator

log = logging.getLogger("simulator.platform")

SHARED_TOPICS = ("rec/#", "alarm", "tele/#", "media/#", "cmd/res")
BATCH_MAX = 500
_STOP = object()


@dataclass(frozen=True)
class PlatformTls:
    ca_file: Path
    cert_file: Path | None = None  # with key_file: mutual TLS (CN "platform" in the example ACL)
    key_file: Path | None = None


@dataclass(frozen=True)
class Rejection:
    agent_id: str | None
    topic: str
    item_id: str | None
    reason: str


class AckBatcher:
    """Ids to ack per agent, flushed when old enough or numerous enough."""

    def __init__(self, interval_s: float, batch: int) -> None:
        self.interval_s = interval_s
        self.batch = batch
        self.pending: dict[str, list[str]] = {}
        self.since: dict[str, float] = {}

    def add(self, agent_id: str, ids: list[str]) -> None:
        if ids:
            self.pending.setdefault(agent_id, []).extend(ids)
            self.since.setdefault(agent_id, time.monotonic())

    def due(self, force: bool = False) -> list[tuple[str, list[str]]]:
        now = time.monotonic()
        out = []
        for agent_id in list(self.pending):
            ids = self.pending[agent_id]
            if force or len(ids) >= self.batch or now - self.since[agent_id] >= self.interval_s:
                del self.pending[agent_id], self.since[agent_id]
                unique = list(dict.fromkeys(ids))
                out += [(agent_id, unique[i:i + self.batch]) for i in range(0, len(unique), self.batch)]
        return out

    def wait_s(self) -> float:
        if not self.since:
            return self.interval_s
        return max(0.0, min(self.since.values()) + self.interval_s - time.monotonic())


class Platform:
    def __init__(self, host: str = "127.0.0.1", port: int = 1883, db_path: str | Path = "platform.db", *,
                 tls: PlatformTls | None = None, group: str = "platform", prefix: str = "scfs/v1",
                 username: str | None = None, password: str | None = None,
                 client_id: str | None = None, media_dir: str | Path | None = None,
                 ack_interval_s: float = 0.05, ack_batch: int = 200, print_every: float | None = None,
                 session_expiry_s: int = 3600, keepalive_s: int = 30, validate: bool = True,
                 durable: bool = False, protocol: str = "mqtt5",
                 addresses: list[tuple[str, int]] | None = None) -> None:
        """client_id: give one for a persistent session (messages queued while down);
        by default each instance is a fresh, stateless member of the share group.
        durable: subscriptions the broker keeps across its restarts (needs client_id; no
        share group, so one instance only).
        protocol: "mqtt311" for a broker without MQTT 5 (RabbitMQ before 3.13): no shared
        subscriptions there, so it must be durable (one instance).
        addresses: the nodes of a clustered broker (default: host, port); on a lost
        connection the platform reconnects to the next."""
        if durable and client_id is None:
            raise ValueError("a durable platform needs a client_id (a persistent session)")
        if protocol not in ("mqtt5", "mqtt311"):
            raise ValueError(f"protocol must be mqtt5 or mqtt311, not {protocol!r}")
        if protocol == "mqtt311" and not durable:
            raise ValueError("MQTT 3.1.1 has no shared subscriptions: the platform must be durable")
        self.durable = durable
        self.protocol = protocol
        self.addresses = list(addresses) if addresses else [(host, port)]
        self._address = 0
        host, port = self.addresses[0]
        self.host, self.port, self.tls = host, port, tls
        self.group, self.prefix = group, prefix.strip("/")
        self.store = PlatformStore(db_path)
        self.media_dir = Path(media_dir) if media_dir else self.store.path.with_name(self.store.path.name + ".media")
        self.updates = UpdateServer(self.prefix)  # packages offered for remote updates
        self.handlers = MessageHandlers(self.prefix, SchemaValidator(full=validate),
                                        MediaAssembler(self.media_dir))
        self.acks = AckBatcher(ack_interval_s, ack_batch)
        self.print_every = print_every
        self.client_id = client_id or f"platform-{group}-{uuid.uuid4().hex[:8]}"
        self.persistent = client_id is not None
        self.session_expiry_s, self.keepalive_s = session_expiry_s, keepalive_s
        self.client = self._make_client(username, password)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._connect_problem: str | None = None
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._results = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # counters of this instance (the database is the truth for the group)
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.invalid = 0
        self.acked_ids = 0
        self.ack_messages = 0
        self.rejections: list[Rejection] = []
        self.live_counts: Counter[tuple[str, str]] = Counter()  # (agent_id, type) stored here

    # --- connection ------------------------------------------------------------------

    def _make_client(self, username: str | None, password: str | None) -> mqtt.Client:
        if self.protocol == "mqtt311":
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311,
                                 clean_session=False)
        else:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if username:
            client.username_pw_set(username, password)
        if self.tls:
            client.tls_set(ca_certs=str(self.tls.ca_file),
                           certfile=str(self.tls.cert_file) if self.tls.cert_file else None,
                           keyfile=str(self.tls.key_file) if self.tls.key_file else None)
        client.reconnect_delay_set(0.1, 2.0)
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def start(self, timeout: float = 10.0) -> Platform:
        """Connect, subscribe and start the worker; returns once subscriptions are granted."""
        self._threads = [threading.Thread(target=self._work, name=f"{self.client_id}-worker", daemon=True)]
        if self.print_every:
            self._threads.append(threading.Thread(target=self._print_loop, name="platform-print", daemon=True))
        for thread in self._threads:
            thread.start()
        problems = []
        for index, (host, port) in enumerate(self.addresses):
            try:
                self._address = index
                self.client.connect(host, port, self.keepalive_s, **self._connect_args())
                break
            except OSError as exc:
                problems.append(f"{host}:{port}: {exc}")
        else:
            self.stop()
            raise ConnectionError(f"platform cannot reach {'; '.join(problems)}")
        self.host, self.port = self.addresses[self._address]
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            problem = self._connect_problem or "no CONNACK/SUBACK"
            self.stop()
            raise ConnectionError(f"platform not subscribed within {timeout:.0f}s: {problem}")
        log.info("platform started client_id=%s group=%s broker=%s:%d", self.client_id, self.group,
                 self.host, self.port)
        return self

    def stop(self) -> None:
        """Finish what was received (store, ack), then disconnect."""
        if self._stop.is_set():
            return
        self._inbox.put(_STOP)
        for thread in self._threads:
            if thread.name.endswith("-worker"):
                thread.join(30)
        self._stop.set()
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
        for thread in self._threads:
            thread.join(5)
        self.store.close()

    def __enter__(self) -> Platform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _connect_args(self) -> dict[str, Any]:
        if self.protocol == "mqtt311":
            return {}  # clean_session=False was given to the client
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s if self.persistent else 0
        clean_start = False if self.durable else mqtt.MQTT_CLEAN_START_FIRST_ONLY if self.persistent else True
        return {"clean_start": clean_start, "properties": props}

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connect_problem = f"CONNACK {reason}"
            log.error("platform connect refused: %s", reason)
            return
        self.connected.set()
        share = "" if self.durable else f"$share/{self.group}/"
        names = [f"{share}{self.prefix}/+/{t}" for t in (*SHARED_TOPICS, "dl/req")] + [f"{self.prefix}/+/status"]
        if self.protocol == "mqtt311":
            client.subscribe([(name, 1) for name in names])
        else:
            client.subscribe([(name, SubscribeOptions(qos=1)) for name in names])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, codes: list[Any], props: Any) -> None:
        refused = [str(c) for c in codes if c.is_failure]
        if refused:
            self._connect_problem = f"subscriptions refused: {refused}"
            log.error("platform %s", self._connect_problem)
            return
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self._fail_over(client)
            log.warning("platform disconnected (%s): reconnecting to %s:%d", reason, self.host, self.port)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """A reconnect that did not even connect (a node down): the next address."""
        if not self._stop.is_set():
            self._fail_over(client)
            log.warning("platform cannot connect: trying %s:%d", self.host, self.port)

    def _fail_over(self, client: mqtt.Client) -> None:
        if len(self.addresses) > 1:  # paho's loop reconnects to what connect_async set
            self._address = (self._address + 1) % len(self.addresses)
            self.host, self.port = self.addresses[self._address]
            client.connect_async(self.host, self.port, self.keepalive_s, **self._connect_args())

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/dl/req"):  # a download request: answered, never stored
            self.updates.handle(client, message.topic, bytes(message.payload))
            return
        self.received += 1
        self._inbox.put((message.topic, bytes(message.payload)))

    # --- the worker: store, then ack ----------------------------------------------------

    def _work(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[str, bytes]] = []
            try:
                item = self._inbox.get(timeout=max(0.005, self.acks.wait_s()))
                while True:
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(item)
                    if len(batch) >= BATCH_MAX:
                        break
                    item = self._inbox.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self._process(batch)
            self._flush_acks(force=stopping)

    def _process(self, batch: list[tuple[str, bytes]]) -> None:
        try:
            with self.store.transaction() as conn:
                results = [(topic, *self.handlers.handle(conn, topic, payload)) for topic, payload in batch]
        except Exception:  # noqa: BLE001 - one bad message must not sink the batch: retry one by one
            log.exception("platform batch failed: retrying its %d messages one by one", len(batch))
            results = []
            for topic, payload in batch:
                try:
                    with self.store.transaction() as conn:
                        results.append((topic, *self.handlers.handle(conn, topic, payload)))
                except Exception:  # noqa: BLE001
                    log.exception("platform could not handle topic=%s: not acked", topic)
                    results.append((topic, None, Outcome("unknown", rejected="internal error")))
        # committed: now it is true to say "stored"
        results_seen = False
        for topic, agent_id, outcome in results:
            self._account(topic, agent_id, outcome)
            results_seen |= outcome.kind == "cmd_result"
        if results_seen:
            with self._results:
                self._results.notify_all()

    def _account(self, topic: str, agent_id: str | None, outcome: Outcome) -> None:
        if outcome.rejected:
            self.invalid += 1
            self.rejections.append(Rejection(agent_id, topic, outcome.item_id, outcome.rejected))
            log.warning("platform rejected agent=%s topic=%s id=%s reason=%s", agent_id, topic,
                        outcome.item_id, outcome.rejected)
            return
        if outcome.stored and outcome.kind != "status":
            self.stored += 1
            self.live_counts[(agent_id or "?", outcome.kind)] += 1
        if outcome.duplicate:
            self.duplicates += 1
        if agent_id is not None:
            self.acks.add(agent_id, outcome.ack)

    def _flush_acks(self, force: bool = False) -> None:
        for agent_id, ids in self.acks.due(force):
            payload = json.dumps({"ids": ids}, separators=(",", ":"))
            info = self.client.publish(f"{self.prefix}/{agent_id}/ack", payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                # Not lost for good: the agent resends unacked items and we ack them then.
                log.warning("platform ack not sent agent=%s ids=%d rc=%s", agent_id, len(ids), info.rc)
                continue
            self.acked_ids += len(ids)
            self.ack_messages += 1

    # --- commands ----------------------------------------------------------------------

    def publish_command(self, agent_id: str, command: dict[str, Any]) -> None:
        """Publish a prepared command (see simulator.platform.commands.build_command)."""
        self.store.add_command_sent(agent_id, command)
        info = self.client.publish(f"{self.prefix}/{agent_id}/cmd",
                                   json.dumps(command, ensure_ascii=False).encode("utf-8"), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"command {command['id']} not published: rc={info.rc}")

    def send_command(self, agent_id: str, name: str, args: dict[str, Any] | None = None, *,
                     sign_with: Ed25519PrivateKey | None = None, expires_in: float = 60.0,
                     timeout: float = 10.0) -> dict[str, Any]:
        """Build (and sign, if a key is given), send, and wait for the agent's result."""
        command = build_command(name, args, agent_id=agent_id, sign_with=sign_with, expires_in=expires_in)
        self.publish_command(agent_id, command)
        return self.wait_result(command["id"], timeout)

    def wait_result(self, command_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The result for a command id; it may arrive at any instance of the group, so
        the shared database is polled as well. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.command_result(command_id)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no result for command {command_id} within {timeout:.0f}s")
            with self._results:
                self._results.wait(min(0.1, remaining))

    # --- queries (the database: what the whole group stored) -------------------------------

    def records(self, agent_id: str | None = None, type: str | None = None) -> list[dict[str, Any]]:  # noqa: A002
        """Stored envelopes (records and alarms; type="alarm" for alarms), by agent then seq."""
        sql, params = _where("SELECT payload FROM records", agent_id=agent_id, type=type)
        return [json.loads(r["payload"]) for r in self.store.query(sql + " ORDER BY agent_id, seq", params)]

    def recompute_scorecard(self, agent_id: str, card: dict[str, Any]) -> dict[str, Any]:
        """A delivered ``scorecard`` record's figures, recomputed from the records this
        platform received from that agent (its period and its stated roster size): what a
        regulator checks before trusting a school's monthly figures."""
        from datetime import date
        from zoneinfo import ZoneInfo

        from agent.records.scorecard import SOURCE_TYPES, compute

        data = card["data"]
        marks = ",".join("?" * len(SOURCE_TYPES))
        rows = self.store.query(f"SELECT payload FROM records WHERE agent_id=? AND type IN ({marks}) ORDER BY seq",
                                (agent_id, *SOURCE_TYPES))
        records = [json.loads(r["payload"]) for r in rows]
        receipts = {r["id"]: r for r in self.records(agent_id, type="ingredient_purchase")}
        tz = ZoneInfo("Asia/Shanghai")  # the province's time: every school's day
        again = compute(records, receipts, data["period"], date.fromisoformat(data["start"]),
                        date.fromisoformat(data["end"]), data["roster_size"], tz)
        return again.model_dump(mode="json")

    def count_by_type(self, agent_id: str | None = None) -> dict[str, int]:
        sql, params = _where("SELECT type, count(*) AS n FROM records", agent_id=agent_id)
        return {r["type"]: r["n"] for r in self.store.query(sql + " GROUP BY type", params)}

    def telemetry(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        sql, params = _where("SELECT payload FROM telemetry", agent_id=agent_id)
        return [json.loads(r["payload"]) for r in self.store.query(sql + " ORDER BY n", params)]

    def media_files(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        sql, params = _where("SELECT id, agent_id, content_type, bytes, sha256, record_id, role, path,"
                             " received_at FROM media", agent_id=agent_id)
        return [dict(r) for r in self.store.query(sql + " ORDER BY received_at", params)]

    def status(self, agent_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT payload FROM status WHERE agent_id=?", (agent_id,))
        return json.loads(rows[0]["payload"]) if rows else None

    def command_result(self, command_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM command_results WHERE id=?", (command_id,))
        return _result(rows[0]) if rows else None

    @property
    def command_results(self) -> dict[str, dict[str, Any]]:
        """Every command result stored, by command id."""
        return {r["id"]: _result(r) for r in self.store.query("SELECT * FROM command_results")}

    # --- live counts ---------------------------------------------------------------------

    def format_counts(self) -> str:
        lines = [f"{'agent':<24} {'type':<24} {'stored':>8}"]
        for (agent_id, kind), n in sorted(self.live_counts.items()):
            lines.append(f"{agent_id:<24} {kind:<24} {n:>8}")
        lines.append(f"received={self.received} stored={self.stored} duplicates={self.duplicates} "
                     f"invalid={self.invalid} acked={self.acked_ids}")
        return "\n".join(lines)

    def _print_loop(self) -> None:
        while not self._stop.wait(self.print_every):
            print(time.strftime("%H:%M:%S"), self.client_id, file=sys.stdout)
            print(self.format_counts(), file=sys.stdout, flush=True)


def _where(sql: str, **filters: str | None) -> tuple[str, tuple[Any, ...]]:
    used = {k: v for k, v in filters.items() if v is not None}
    if not used:
        return sql, ()
    return sql + " WHERE " + " AND ".join(f"{k}=?" for k in used), tuple(used.values())


def _result(row: Any) -> dict[str, Any]:
    ok = None if row["ok"] is None else bool(row["ok"])
    return {"id": row["id"], "agent_id": row["agent_id"], "ok": ok, "error": row["error"],
            "result": json.loads(row["result"]) if row["result"] is not None else None}


# --- CLI ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--db", default="platform.db", help="SQLite file (instances may share it)")
    parser.add_argument("--media-dir", default=None, help="where reassembled media go (default: DB.media)")
    parser.add_argument("--group", default="platform", help="shared-subscription group name")
    parser.add_argument("--prefix", default="scfs/v1")
    parser.add_argument("--client-id", default=None, help="fixed id: a persistent session")
    parser.add_argument("--tls-ca", default=None, help="CA that signed the broker certificate")
    parser.add_argument("--cert", default=None, help="client certificate (mutual TLS)")
    parser.add_argument("--key", default=None, help="client key (mutual TLS)")
    parser.add_argument("--username", default=None)
    parser.add_argument("--password-file", default=None)
    parser.add_argument("--protocol", choices=("mqtt5", "mqtt311"), default="mqtt5",
                        help="mqtt311 for a broker without MQTT 5 (needs --client-id: a durable session)")
    parser.add_argument("--addresses", default=None, metavar="HOST:PORT,...",
                        help="the nodes of a clustered broker (fail-over), instead of --host/--port")
    parser.add_argument("--print-every", type=float, default=None, metavar="S",
                        help="print live counts per agent and type every S seconds")
    parser.add_argument("--no-validate", dest="validate", action="store_false",
                        help="load benchmarks only: check ids, not the full JSON Schemas")


def run(args: argparse.Namespace) -> int:
    if (args.cert or args.key) and not args.tls_ca:
        print("--cert/--key need --tls-ca", file=sys.stderr)
        return 2
    tls = PlatformTls(Path(args.tls_ca), Path(args.cert) if args.cert else None,
                      Path(args.key) if args.key else None) if args.tls_ca else None
    password = Path(args.password_file).read_text().strip() if args.password_file else None
    if args.protocol == "mqtt311" and not args.client_id:
        print("--protocol mqtt311 needs --client-id (no shared subscriptions: a durable session)", file=sys.stderr)
        return 2
    addresses = None
    if args.addresses:
        addresses = [(h or "127.0.0.1", int(p)) for h, _, p in (a.strip().rpartition(":")
                                                                for a in args.addresses.split(","))]
    platform = Platform(args.host, args.port, args.db, tls=tls, group=args.group, prefix=args.prefix,
                        username=args.username, password=password, client_id=args.client_id,
                        media_dir=args.media_dir, print_every=args.print_every, validate=args.validate,
                        protocol=args.protocol, durable=args.protocol == "mqtt311", addresses=addresses)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        platform.start()
    except ConnectionError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"platform listening on {args.host}:{args.port} group={args.group} db={args.db}", flush=True)
    stop.wait()
    platform.stop()
    print(platform.format_counts(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canteen-sim platform", description=__doc__.splitlines()[0].replace("``", ""))
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
