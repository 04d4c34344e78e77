"""Cold chain: fridge, freezer and store-room probes → telemetry, hourly figures, alarms.

For every point with a cold role (see ``modbus_points``):

- **Telemetry**: the first reading of each ``rules.cold_chain.telemetry_downsample_s``
  period is kept; kept samples are stored and queued as ``TelemetryBatch`` items
  (uuid7 ``id``) once a batch spans ``batch_s`` (or on tick when readings stop).
- **Hourly figures**: min / max / mean / count per local hour, kept in kv under
  ``cold_chain:hours:<day>:<device_id>`` (``hourly_stats(store, day)`` reads a day back
  for the ledger); they also go into the alarm details.
- **Range alarms** (fridge, freezer): out of range longer than
  ``rules.cold_chain.grace_minutes`` raises ``cold_chain_high`` / ``cold_chain_low`` once;
  a door opening that recovers within the grace raises nothing. Back inside the range
  by ``recover_margin_c`` clears it (the margin stops a probe hovering on the limit from
  restarting the grace clock on every dip).

A Modbus device that stops answering is the device-health watch's
(``agent/workflows/device_health.py``, ``modbus_policy``): SILENT or DISCONNECTED for
longer than ``rules.cold_chain.probe_silent_minutes`` raises ``device_offline``.

Only reading times (``reading.at``) and ``tick(now)`` measure time, so scenarios can
run the agent's clock faster than the wall clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.recorder import Recorder, alarm_key
from agent.core.timeutil import rfc3339, uuid7
from agent.records.envelope import Source, TelemetryBatch
from agent.words.alarms import kind_term
from agent.words.terms import DEVICE_KINDS, room, term
from agent.workflows.modbus_points import ALARMED_COLD_ROLES, COLD_ROLES, PointRole
from drivers.readings import Reading, RegisterSample

log = logging.getLogger("agent.workflows.cold_chain")

HOURS_KV_PREFIX = "cold_chain:hours:"
SOURCE_KIND = "modbus"


def hours_key(day: str, device_id: str) -> str:
    """A day's figures of one device as one list (how stores before 2026-12 kept them; read only)."""
    return f"{HOURS_KV_PREFIX}{day}:{device_id}"


def hour_key(day: str, hour: int, device_id: str) -> str:
    """One hour's figures of one device: small values, the same hour's devices side by side, so
    saving them rewrites a page or two, not every device's whole day (an SD card's writes)."""
    return f"{HOURS_KV_PREFIX}{day}@{hour:02d}:{device_id}"


def hourly_stats(store: Reads, day: str) -> dict[str, list[dict[str, Any]]]:
    """The hourly figures of every cold-chain device on local ``day`` (YYYY-MM-DD), by device, in hour order."""
    prefix = f"{HOURS_KV_PREFIX}{day}"
    by_device: dict[str, dict[str, dict[str, Any]]] = {}
    for key in store.kv_keys(prefix):
        rest = key[len(prefix):]
        if rest.startswith(":"):  # the older layout: the whole day in one list
            device, entries = rest[1:], store.kv_get(key, []) or []
        elif rest.startswith("@") and rest[3:4] == ":":
            entry = store.kv_get(key)
            device, entries = rest[4:], [entry] if entry else []
        else:
            continue
        for entry in entries:
            by_device.setdefault(device, {})[entry["hour"]] = entry
    return {device: [hours[h] for h in sorted(hours)] for device, hours in by_device.items()}


@dataclass
class HourStats:
    """Running min / max / mean of one device over one local hour."""

    hour: datetime  # local start of the hour
    min_c: float = math.inf
    max_c: float = -math.inf
    sum_c: float = 0.0
    n: int = 0

    def add(self, value: float) -> None:
        self.min_c, self.max_c = min(self.min_c, value), max(self.max_c, value)
        self.sum_c += value
        self.n += 1

    def as_dict(self) -> dict[str, Any]:
        return {"hour": self.hour.isoformat(timespec="minutes"), "min_c": round(self.min_c, 2),
                "max_c": round(self.max_c, 2), "mean_c": round(self.sum_c / self.n, 2), "n": self.n}

    @classmethod
    def from_dict(cls, data: dict[str, Any], hour: datetime) -> HourStats:
        n = int(data["n"])
        return cls(hour, float(data["min_c"]), float(data["max_c"]), float(data["mean_c"]) * n, n)


@dataclass
class Excursion:
    """A stretch out of range in one direction."""

    direction: str  # "high" or "low"
    since: datetime
    extreme_c: float


@dataclass
class _Probe:
    role: PointRole
    low_c: float | None  # None: no lower limit (freezer) or no alarms at all (rooms)
    high_c: float | None
    bucket: int | None = None  # downsample period of the last kept sample
    pending: list[dict[str, Any]] = field(default_factory=list)
    hour: HourStats | None = None
    excursion: Excursion | None = None
    raised: str | None = None  # direction of the open alarm
    last_c: float | None = None
    last_at: datetime | None = None
    missing_point_logged: bool = False

    @property
    def alarmed(self) -> bool:
        return self.low_c is not None or self.high_c is not None

    def out_of_range(self, value: float) -> str | None:
        if self.high_c is not None and value > self.high_c:
            return "high"
        if self.low_c is not None and value < self.low_c:
            return "low"
        return None

    def recovered(self, value: float, margin: float) -> bool:
        above_low = self.low_c is None or value >= self.low_c + margin
        below_high = self.high_c is None or value <= self.high_c - margin
        return above_low and below_high


class ColdChain:
    """The cold-chain workflow for every cold-role point of the Modbus config."""

    name = "cold-chain"

    def __init__(self, config: Settings, recorder: Recorder, roles: list[PointRole], *,
                 batch_s: float = 300.0, recover_margin_c: float = 0.3) -> None:
        self.rules = config.rules.cold_chain
        self.tz: ZoneInfo = config.identity.tz
        self.recorder = recorder
        self.reads = recorder.reads  # questions to the store; writes go through the recorder
        self.state = recorder.state  # this workflow's own notes that outlive a restart
        self.grace = timedelta(minutes=self.rules.grace_minutes)
        self.batch = timedelta(seconds=batch_s)
        self.margin = recover_margin_c
        self.probes = {r.device_id: self._probe(r) for r in roles if r.role in COLD_ROLES}
        for probe in self.probes.values():  # an alarm left open by the previous run stays ours to clear
            for direction in ("high", "low"):
                if self.reads.alarm_is_open(alarm_key(f"cold_chain_{direction}", self._subject(probe))):
                    probe.raised = direction

    def _probe(self, role: PointRole) -> _Probe:
        if role.role == "fridge":
            low, high = self.rules.fridge_range_c
            return _Probe(role, low, high)
        if role.role == "freezer":
            return _Probe(role, None, self.rules.freezer_max_c)
        return _Probe(role, None, None)  # rooms and stores: figures only

    # --- Workflow protocol -----------------------------------------------------------------

    def wants(self, reading: Reading) -> bool:
        return isinstance(reading, RegisterSample) and reading.device_id in self.probes

    def on_reading(self, reading: Reading) -> None:
        assert isinstance(reading, RegisterSample)
        probe = self.probes[reading.device_id]
        value = reading.values.get(probe.role.point)
        if value is None:
            if not probe.missing_point_logged:
                log.warning("cold chain reading lacks point device=%s point=%s", reading.device_id, probe.role.point)
                probe.missing_point_logged = True
        else:
            probe.last_c, probe.last_at = value, reading.at
            self._add_to_hour(probe, value, reading.at)
        self._keep_telemetry(probe, reading)  # also saves the hour's figures, once per period
        if value is not None and probe.role.role in ALARMED_COLD_ROLES:
            self._judge(probe, value, reading.at)

    def tick(self, now: datetime) -> None:
        for probe in self.probes.values():
            if probe.pending and now - _parse(probe.pending[0]["t"]) >= self.batch:
                self._flush(probe)
            if probe.excursion is not None and probe.raised is None and now - probe.excursion.since >= self.grace:
                self._raise(probe, now)

    # --- telemetry -------------------------------------------------------------------------

    def _keep_telemetry(self, probe: _Probe, reading: RegisterSample) -> None:
        bucket = math.floor(reading.at.timestamp() / self.rules.telemetry_downsample_s)
        if probe.bucket is not None and bucket <= probe.bucket:
            return
        probe.bucket = bucket
        if probe.pending and reading.at - _parse(probe.pending[0]["t"]) >= self.batch:
            self._flush(probe)  # a batch spans less than batch_s
        probe.pending.append({"t": rfc3339(reading.at.astimezone(self.tz)), **reading.values})
        if probe.hour is not None:
            self._save_hour(probe)  # at most once per downsample period

    def _flush(self, probe: _Probe) -> None:
        samples, probe.pending = probe.pending, []
        kind = "temp_humidity" if any("humidity_pct" in s for s in samples) else "temperature"
        batch_id = uuid7()
        batch = {"id": batch_id, "device_id": probe.role.device_id, "kind": kind, "samples": samples}
        TelemetryBatch.model_validate(batch)  # the published shape, checked before it is stored
        self.recorder.add_telemetry(batch_id, probe.role.device_id, batch,
                                 [(s["t"], {k: v for k, v in s.items() if k != "t"}) for s in samples])
        log.debug("telemetry batch stored device=%s samples=%d", probe.role.device_id, len(samples))

    # --- hourly figures --------------------------------------------------------------------

    def _add_to_hour(self, probe: _Probe, value: float, at: datetime) -> None:
        hour = at.astimezone(self.tz).replace(minute=0, second=0, microsecond=0)
        if probe.hour is None or probe.hour.hour != hour:
            if probe.hour is not None:
                self._save_hour(probe)
            probe.hour = self._load_hour(probe, hour) or HourStats(hour)
        probe.hour.add(value)

    def _load_hour(self, probe: _Probe, hour: datetime) -> HourStats | None:
        """After a restart within the hour, carry on from what was saved."""
        label = hour.isoformat(timespec="minutes")
        day = hour.date().isoformat()
        saved = self.state.get(hour_key(day, hour.hour, probe.role.device_id))
        for entry in [saved] if saved else self.state.get(hours_key(day, probe.role.device_id), []):
            if entry.get("hour") == label and entry.get("n"):
                return HourStats.from_dict(entry, hour)
        return None

    def _save_hour(self, probe: _Probe) -> None:
        stats = probe.hour
        if stats is None or stats.n == 0:
            return
        key = hour_key(stats.hour.date().isoformat(), stats.hour.hour, probe.role.device_id)
        self.state.set_deferred(key, stats.as_dict())  # with the telemetry: what a power cut loses of it

    # --- range alarms ----------------------------------------------------------------------

    def _judge(self, probe: _Probe, value: float, at: datetime) -> None:
        direction = probe.out_of_range(value)
        if direction is not None:
            if probe.excursion is None or probe.excursion.direction != direction:
                if probe.raised is not None and probe.raised != direction:
                    self._clear(probe, value, at)
                probe.excursion = Excursion(direction, at, value)
            worse = max if direction == "high" else min
            probe.excursion.extreme_c = worse(probe.excursion.extreme_c, value)
            if probe.raised is None and at - probe.excursion.since >= self.grace:
                self._raise(probe, at)
        elif probe.recovered(value, self.margin):
            if probe.raised is not None:
                self._clear(probe, value, at)
            probe.excursion = None

    @staticmethod
    def _subject(probe: _Probe) -> dict[str, str]:
        return {"device_id": probe.role.device_id}

    def _raise(self, probe: _Probe, at: datetime) -> None:
        excursion = probe.excursion
        assert excursion is not None
        limit = probe.high_c if excursion.direction == "high" else probe.low_c
        minutes = (at - excursion.since).total_seconds() / 60
        where = room(probe.role.room) if probe.role.room else term(DEVICE_KINDS, probe.role.role)
        title = kind_term(f"cold_chain_{excursion.direction}")
        side_zh, side_en = ("高于", "above") if excursion.direction == "high" else ("低于", "below")
        message = (f"{title.zh}：{where.zh} {probe.role.device_id} {side_zh} {limit} °C 已 {minutes:.0f} 分钟 / "
                   f"{title.en}: {where.en or where.zh} {probe.role.device_id} {side_en} {limit} °C "
                   f"for {minutes:.0f} min")
        details = {"role": probe.role.role, "room": probe.role.room, "limit_c": limit,
                   "range_c": [probe.low_c, probe.high_c], "since": rfc3339(excursion.since.astimezone(self.tz)),
                   "minutes_out": round(minutes, 1), "extreme_c": excursion.extreme_c, "latest_c": probe.last_c,
                   "grace_minutes": self.rules.grace_minutes,
                   "hour": probe.hour.as_dict() if probe.hour and probe.hour.n else None}
        probe.raised = excursion.direction
        self.recorder.raise_alarm(f"cold_chain_{excursion.direction}", self._subject(probe), message,
                                  severity="major", details=details, occurred_at=at,
                                  source=Source(device_id=probe.role.device_id, kind=SOURCE_KIND))
        log.warning("cold chain excursion device=%s direction=%s minutes=%.0f",
                    probe.role.device_id, excursion.direction, minutes)

    def _clear(self, probe: _Probe, value: float, at: datetime) -> None:
        direction, probe.raised = probe.raised, None
        self.recorder.clear_alarm(f"cold_chain_{direction}", self._subject(probe),
                                  f"{probe.role.device_id} 温度已恢复正常 / {probe.role.device_id} back in range",
                                  occurred_at=at)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
