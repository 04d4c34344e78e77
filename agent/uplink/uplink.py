"""The uplink component: moves what the store holds to the platform, and back.

One thread does everything (paho's network loop is driven from here, so its
callbacks run here too): connect with back-off and jitter, subscribe to acks and
commands, publish the outbox in priority order within the MQTT window, apply acks
to the store in batches, answer commands, keep the retained status fresh. It can
be down for days without any workflow noticing: the outbox simply grows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from agent.config.broker import BrokerConfig
from agent.store import OutboxItem, Store
from agent.uplink.commands import CommandProcessor
from agent.uplink.commands import result as command_result
from agent.uplink.connection import BrokerLink, Connected, NetLoop, UplinkConfigError, close_socket
from agent.uplink.delivery import AckQueue, Delivery
from agent.uplink.inbound import InboundError, decode_ack, top_level_id
from agent.uplink.media import MediaSender
from agent.uplink.topics import outbox_topic
from drivers.backoff import Backoff

log = logging.getLogger("agent.uplink")


class Uplink:
    name = "uplink"

    def __init__(self, store: Store, broker: BrokerConfig, agent_id: str,
                 commands: CommandProcessor, status: Callable[[], dict[str, Any]],
                 status_version: Callable[[], int] = lambda: 0) -> None:
        self.store = store
        self.broker = broker
        self.root = f"{broker.topic_prefix}/{agent_id}"
        self.commands = commands
        self.status = status
        self.status_version = status_version
        first = not store.kv_get("mqtt_session_started", False)
        # The broker ties client id to user name (use_username_as_clientid): ask for the same.
        self.link = BrokerLink(broker, broker.username or agent_id, f"{self.root}/status",
                               {"online": False, "agent_id": agent_id}, first_connect=first)
        self.delivery = Delivery(store, ack_mode=broker.ack_mode, window=broker.inflight_max,
                                 ack_timeout_s=broker.ack_timeout_s, resend_max_s=broker.resend_max_s,
                                 resend_bytes_per_min=broker.resend_max_bytes_per_min)
        self.bytes_published = 0
        self.media = MediaSender(store)
        self.connected = threading.Event()
        self.connects = 0
        self.connect_failures = 0  # attempts the broker did not take (unreachable, refused, TLS)
        self.config_refusals = 0  # connects not even tried: the config forbids them (plaintext off loopback)
        self._conn: Connected | None = None
        self._lost = False
        self._acks: list[str] = []
        self._commands: list[bytes] = []
        self._chunks_done: list[tuple[str, int]] = []
        self._broker_done: list[str] = []
        self.ack_queue = AckQueue(store)
        # live video frames (QoS 0, newest kept): handed over by any thread, sent by this one
        self._live: deque[tuple[str, bytes]] = deque(maxlen=4)
        self._live_lock = threading.Lock()
        self.live_sent = 0
        self.live_dropped = 0
        # downloads from the platform (agent.updater): chunks in on <root>/dl/<id>/<n>,
        # requests out on <root>/dl/req (QoS 1), handed over by the updater's thread
        self.downlink: Callable[[str, bytes], None] | None = None
        self._requests: deque[bytes] = deque(maxlen=64)
        self.inbound_refused = 0
        # The longest one connect attempt may block without turning the loop: name
        # resolution retries, TCP and TLS timeouts. Liveness adds it to its stall limit.
        # (each address of a cluster may cost that much before the next is tried)
        self.stall_allowance_s = 60.0 * len(self.link.endpoints)
        self.last_beat = time.monotonic()

    # --- component -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        attempt = 0
        while not stop.is_set():
            self.beat()
            try:
                conn = self.link.connect(self._on_message, self._on_puback, self._on_disconnect,
                                         beat=self.beat)
            except UplinkConfigError as exc:
                self.config_refusals += 1
                log.error("uplink disabled until the config is fixed: %s", exc)
                self._wait(stop, 300)
                continue
            except ConnectionError as exc:
                self.connect_failures += 1
                delay = self._backoff(attempt)
                attempt += 1
                log.warning("broker unreachable (%s): retry in %.1fs", exc, delay)
                self._wait(stop, delay)
                continue
            attempt = 0
            self._serve(conn, stop)

    # --- liveness: the main loop withholds the watchdog ping while this loop is stuck ---

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def stalled_for(self) -> float:
        """Seconds since the loop last turned (grows while it is wedged or dead)."""
        return time.monotonic() - self.last_beat

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        """``stop.wait`` that keeps beating: waiting out a back-off is not being stuck."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self.beat()
            stop.wait(min(1.0, left))

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter, so a fleet does not reconnect in lockstep."""
        return Backoff(self.broker.reconnect_min_s, self.broker.reconnect_max_s, jitter=0.5).delay(attempt)

    # --- one connection --------------------------------------------------------------

    def _serve(self, conn: Connected, stop: threading.Event) -> None:
        self._conn, self._lost = conn, False
        self.connects += 1
        self.store.kv_set("mqtt_session_started", True)
        client = conn.client
        client.subscribe([(f"{self.root}/ack", 1), (f"{self.root}/cmd", 1), (f"{self.root}/dl/+/+", 1)])
        self.delivery.reset(session_present=conn.session_present)
        self.media.reset()
        self._publish_status()
        self.connected.set()
        log.info("uplink connected broker=%s protocol=%s receive_max=%d session_present=%s",
                 self.link.address, conn.protocol, conn.receive_maximum, conn.session_present)
        last_status, status_seen, last_overdue = time.monotonic(), self.status_version(), time.monotonic()
        try:
            while not stop.is_set() and not self._lost:
                self.beat()
                busy = self._fill()
                self._send_live()
                if conn.net.turn(0.0 if busy else 0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
                self._apply()
                now = time.monotonic()
                if now - last_overdue > 0.25:  # cheap: a scan of what awaits an ack
                    self._resend_overdue()
                    last_overdue = now
                version = self.status_version()
                if now - last_status > self.broker.status_interval_s or (version != status_seen
                                                                       and now - last_status > 1):
                    self._publish_status()
                    last_status, status_seen = now, version
        finally:
            self.connected.clear()
            self._apply()
            self.ack_queue.settle()
            if stop.is_set():
                self._say_goodbye(client, conn.net)
            else:
                log.warning("uplink connection lost: reconnecting")
            close_socket(client)
            self._conn = None

    def _fill(self) -> bool:
        """Hand the next outbox items to MQTT while the window has room."""
        conn = self._conn
        assert conn is not None  # only while connected
        room = self.delivery.room(conn.receive_maximum)
        items = self.delivery.next_items(room)
        for item in items:
            self._publish_item(item)
        return bool(items)

    def _publish_item(self, item: OutboxItem) -> None:
        before = self.bytes_published
        if item.kind == "media":
            mids = self.media.send(item, self._publish)
        else:
            mids = [self._publish(outbox_topic(item), (item.payload or "").encode("utf-8"), 1)]
        mids = [m for m in mids if m >= 0]
        if mids:
            self.delivery.track(item, mids, size=self.bytes_published - before)

    def _publish(self, suffix: str, payload: bytes, qos: int) -> int:
        assert self._conn is not None  # only while connected
        info = self._conn.client.publish(f"{self.root}/{suffix}", payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._lost = True
            return -1
        self.bytes_published += len(payload)
        return info.mid

    def publish_live(self, topic_suffix: str, payload: bytes) -> bool:
        """Queue one live frame for ``<root>/<topic_suffix>`` (QoS 0); False when offline.

        Thread-safe. Live frames are never stored: offline, or when more than a few wait,
        the oldest are dropped (counted in ``live_dropped``).
        """
        if not self.connected.is_set():
            self.live_dropped += 1
            return False
        with self._live_lock:
            if len(self._live) == self._live.maxlen:
                self.live_dropped += 1
            self._live.append((topic_suffix, payload))
        return True

    def publish_request(self, payload: bytes) -> bool:
        """Queue a download request for ``<root>/dl/req`` (QoS 1); False when offline.
        Thread-safe; a request lost with the connection is asked again by its sender."""
        if not self.connected.is_set():
            return False
        with self._live_lock:
            self._requests.append(payload)
        return True

    def _send_live(self) -> None:
        if not self._requests and not self._live:  # the usual case: no lock taken at every turn
            return
        while self._requests:
            with self._live_lock:
                request = self._requests.popleft()
            self._publish("dl/req", request, 1)
        while True:
            with self._live_lock:
                if not self._live:
                    return
                suffix, payload = self._live.popleft()
            if self._publish(suffix, payload, 0) >= 0:
                self.live_sent += 1

    # --- callbacks (run inside client.loop, on this thread) -----------------------------

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        """Never raises: paho sends the PUBACK only after this returns, and a payload that
        escaped as an exception would be redelivered at every reconnect."""
        try:
            if message.topic.endswith("/ack"):
                self._acks += decode_ack(bytes(message.payload))
            elif message.topic.endswith("/cmd"):
                self._commands.append(bytes(message.payload))
            elif message.topic.startswith(f"{self.root}/dl/") and self.downlink is not None:
                self.downlink(message.topic[len(self.root) + 1:], bytes(message.payload))
        except InboundError as exc:
            self.inbound_refused += 1
            log.warning("inbound refused topic=%s bytes=%d reason=%s", message.topic,
                        len(message.payload), exc)
        except Exception:  # noqa: BLE001 - a bug here must not cost the PUBACK
            self.inbound_refused += 1
            log.exception("inbound message failed topic=%s bytes=%d", message.topic,
                          len(message.payload))

    def _on_puback(self, mid: int, ok: bool) -> None:
        chunk = self.media.on_puback(mid)
        if chunk is not None and ok:
            self._chunks_done.append((chunk.media_id, chunk.chunk))
        item_id = self.delivery.on_puback(mid, ok)
        if item_id is not None and self.broker.ack_mode == "puback":
            self._broker_done.append(item_id)

    def _on_disconnect(self) -> None:
        self._lost = True

    # --- applying what came back --------------------------------------------------------

    def _apply(self) -> None:
        if self._chunks_done:
            by_media: dict[str, list[int]] = {}
            for media_id, n in self._chunks_done:
                by_media.setdefault(media_id, []).append(n)
            self._chunks_done = []
            for media_id, chunks in by_media.items():
                self.store.mark_media_chunks(media_id, chunks)
        acks = self._acks + self._broker_done
        if acks:
            self._acks, self._broker_done = [], []
            telemetry = self.delivery.acked(acks)
            self.ack_queue.add(acks, telemetry)  # telemetry's acks go with the deferred telemetry
        while self._commands:
            payload = self._commands.pop(0)
            try:
                answer = self.commands.process(payload)
            except Exception as exc:  # noqa: BLE001 - one bad command must not stop the uplink
                log.exception("command processing failed bytes=%d", len(payload))
                answer = command_result(top_level_id(payload), False, error=f"internal error: {exc!r}")
            if self._conn is not None:
                self._publish("cmd/res", json.dumps(answer, ensure_ascii=False).encode(), 1)

    def _resend_overdue(self) -> None:
        for item in self.delivery.overdue():
            if item.kind == "media":
                self.media.restart_object(item.id)  # the broker may have lost chunks: send it whole
            self._publish_item(item)

    def _publish_status(self) -> None:
        payload = {"online": True, **self.status()}
        assert self._conn is not None  # only while connected
        self._conn.client.publish(f"{self.root}/status", json.dumps(payload, ensure_ascii=False),
                                  qos=1, retain=True)

    def _say_goodbye(self, client: mqtt.Client, net: NetLoop) -> None:
        """A clean stop: mark ourselves offline (the will covers unclean ones)."""
        try:
            info = client.publish(f"{self.root}/status", json.dumps({"online": False, **self.status()}),
                                  qos=1, retain=True)
            deadline = time.monotonic() + 2
            while not info.is_published() and time.monotonic() < deadline:
                net.turn(0.05)
            client.disconnect()
            net.turn(0.1)
        except Exception:  # noqa: BLE001 - best effort on the way out
            log.debug("goodbye failed", exc_info=True)
