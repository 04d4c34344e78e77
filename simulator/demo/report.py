"""What the demo prints: a progress line while the day plays, and the closing summary.

The summary compares what the agent produced (its own SQLite, read after it stopped)
with what the reference platform stored (the platform's SQLite): per record type the
ids on each side, telemetry samples, media files re-hashed on the platform's disk, and
the duplicates the platform dropped. ``Summary.ok`` is true only when every item the
agent produced arrived exactly once and nothing else arrived.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SHORT = {"staff_health_check": "health", "food_sample": "sample", "tableware_disinfection": "cycle",
         "premises_disinfection": "uv", "ingredient_purchase": "purchase", "leader_meal": "leader",
         "meal_service": "meal", "vision_violation": "vision", "daily_ledger": "ledger",
         "stock_issue": "issue"}


NOTABLE = ("alarm", "tableware_disinfection", "premises_disinfection", "vision_violation", "daily_ledger")


def notable_line(record: dict[str, Any]) -> str:
    """``ALARM raised cold_chain_high fridge-2: ...`` or ``tableware_disinfection cabinet-2 fail``."""
    data = record["data"]
    if record["type"] == "alarm":
        named = [data["subject"][k] for k in ("device_id", "camera_id", "staff_id", "meal", "room")
                 if k in data["subject"]]
        subject = ",".join(named or [str(v) for v in data["subject"].values()])
        return f"ALARM {data['state']} {data['kind']} [{subject}]"
    source = (record.get("source") or {}).get("device_id", "")
    media = f", {len(record.get('media') or [])} media" if record.get("media") else ""
    return " ".join(p for p in (record["type"], source, record.get("verdict") or "") if p) + media


def progress_line(sim: str, speed: float, phase: str, by_type: dict[str, int], alarms: tuple[int, int],
                  media: int, outbox: int, platform_total: int, broker_up: bool) -> str:
    """``11:47:05 ×0    broker outage | health 7 sample 4 ... | alarms 2↑ 0↓ | media 2 | outbox 9 | platform 21 | broker DOWN``."""
    records = " ".join(f"{SHORT.get(t, t)} {n}" for t, n in sorted(by_type.items()) if t != "alarm") or "-"
    return (f"{sim} ×{speed:<5.0f}{phase[:22]:<22} | {records} | alarms {alarms[0]}↑ {alarms[1]}↓ | "
            f"media {media} | outbox {outbox} | platform {platform_total} | broker {'up' if broker_up else 'DOWN'}")


# --- the exactly-once comparison --------------------------------------------------------------


def _ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass
class TypeLine:
    type: str
    agent: int
    platform: int
    missing: int
    unexpected: int
    duplicates_dropped: int

    @property
    def ok(self) -> bool:
        return self.agent == self.platform and not self.missing and not self.unexpected


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Summary:
    lines: list[TypeLine] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    left_in_outbox: int = 0
    max_outbox_during_outage: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def delivered_exactly_once(self) -> bool:
        return all(line.ok for line in self.lines) and self.left_in_outbox == 0

    @property
    def ok(self) -> bool:
        return self.delivered_exactly_once and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "delivered_exactly_once": self.delivered_exactly_once,
                "lines": [asdict(x) | {"ok": x.ok} for x in self.lines], "checks": [asdict(c) for c in self.checks],
                "left_in_outbox": self.left_in_outbox, "max_outbox_during_outage": self.max_outbox_during_outage,
                "figures": self.figures}

    def render(self) -> str:
        out = [f"{'item':<24} {'agent':>7} {'platform':>9} {'missing':>8} {'extra':>6} {'dups dropped':>13}  ok"]
        for x in self.lines:
            out.append(f"{x.type:<24} {x.agent:>7} {x.platform:>9} {x.missing:>8} {x.unexpected:>6} "
                       f"{x.duplicates_dropped:>13}  {'✔' if x.ok else '✘'}")
        out.append(f"left in the agent's outbox: {self.left_in_outbox}; deepest outbox during the broker "
                   f"outage: {self.max_outbox_during_outage}")
        out.append("")
        out += [f"{'✔' if c.ok else '✘'} {c.what}{': ' + c.detail if c.detail else ''}" for c in self.checks]
        out.append("")
        out.append("EXACTLY ONCE: every record, alarm, telemetry sample and media file the agent produced "
                   "is stored once on the platform" if self.delivered_exactly_once
                   else "DELIVERY MISMATCH: see the rows marked ✘")
        return "\n".join(out)


def compare(agent_db: Path, platform_db: Path, agent_id: str, duplicates: Counter[str]) -> Summary:
    """Agent store vs platform store, per type; media re-hashed from the platform's files."""
    summary = Summary()
    with _ro(agent_db) as agent, _ro(platform_db) as platform:
        mine: dict[str, set[str]] = {}
        for row in agent.execute("SELECT id, type FROM records"):
            mine.setdefault(row["type"], set()).add(row["id"])
        theirs: dict[str, list[str]] = {}
        for row in platform.execute("SELECT id, type FROM records WHERE agent_id=?", (agent_id,)):
            theirs.setdefault(row["type"], []).append(row["id"])
        for record_type in sorted(set(mine) | set(theirs)):
            a, p = mine.get(record_type, set()), theirs.get(record_type, [])
            summary.lines.append(TypeLine(record_type, len(a), len(p), len(a - set(p)), len(set(p) - a)
                                          + len(p) - len(set(p)), duplicates.get(record_type, 0)))
        summary.lines.append(_telemetry_line(agent, platform, agent_id, duplicates.get("telemetry", 0)))
        summary.lines.append(_media_line(agent, platform, agent_id, duplicates.get("media", 0)))
        summary.left_in_outbox = agent.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return summary


def _telemetry_line(agent: sqlite3.Connection, platform: sqlite3.Connection, agent_id: str, dups: int) -> TypeLine:
    """Telemetry samples (device, time): batches are only an envelope."""
    mine = {(r["device_id"], r["t"]) for r in agent.execute("SELECT device_id, t FROM telemetry")}
    theirs: list[tuple[str, str]] = []
    for row in platform.execute("SELECT payload FROM telemetry WHERE agent_id=?", (agent_id,)):
        batch = json.loads(row["payload"])
        theirs += [(batch["device_id"], s["t"]) for s in batch["samples"]]
    unexpected = len(set(theirs) - mine) + len(theirs) - len(set(theirs))
    return TypeLine("telemetry samples", len(mine), len(theirs), len(mine - set(theirs)), unexpected, dups)


def _media_line(agent: sqlite3.Connection, platform: sqlite3.Connection, agent_id: str, dups: int) -> TypeLine:
    """Media files: same id, size and sha256 on both sides, and the platform's file hashes to it."""
    mine = {r["id"]: (r["bytes"], r["sha256"]) for r in agent.execute("SELECT id, bytes, sha256 FROM media")}
    verified, bad = set(), set()
    rows = platform.execute("SELECT id, bytes, sha256, path FROM media WHERE agent_id=?", (agent_id,)).fetchall()
    for row in rows:
        path = Path(row["path"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if mine.get(row["id"]) == (row["bytes"], row["sha256"]) and digest == row["sha256"]:
            verified.add(row["id"])
        else:
            bad.add(row["id"])
    return TypeLine("media files (verified)", len(mine), len(verified), len(set(mine) - verified), len(bad), dups)


# --- what the day must have shown -----------------------------------------------------------------


def scenario_checks(agent_db: Path) -> list[Check]:
    """The kinds of records and alarms the scripted day is there to show."""
    with _ro(agent_db) as conn:
        records = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM records ORDER BY seq")]
    alarms = [r["data"] for r in records if r["type"] == "alarm"]

    def of(record_type: str) -> list[dict[str, Any]]:
        return [r for r in records if r["type"] == record_type]

    def states(kind: str) -> set[str]:
        return {a["state"] for a in alarms if a["kind"] == kind}

    samples = of("food_sample")
    cycles = of("tableware_disinfection")
    violations = [v for v in of("vision_violation") if v["data"].get("kind") == "no_mask"]
    no_mask_alarms = [a for a in records if a["type"] == "alarm" and a["data"]["kind"] == "no_mask"
                      and a["data"]["state"] == "raised"]
    fevers = [a for a in alarms if a["kind"] == "fever" and a["state"] == "raised"]
    checks = of("staff_health_check")
    return [
        Check("morning check of the roster with a fever alarm and a re-check",
              bool(fevers) and any(c["data"].get("attempt", 1) > 1 for c in checks),
              f"{len(checks)} checks, {len(fevers)} fever alarm(s)"),
        Check("food samples with one underweight (fail)",
              any(s["verdict"] == "fail" for s in samples) and any(s["verdict"] == "pass" for s in samples),
              f"{len(samples)} samples, {sum(s['verdict'] == 'fail' for s in samples)} failed"),
        Check("food samples with the kitchen camera's photo",
              bool(samples) and all(s.get("photo") for s in samples) and any(_has_photo(s) for s in samples),
              ", ".join(f"{n} {state}" for state, n in sorted(Counter(
                  (s.get("photo") or {}).get("state", "no photo note") for s in samples).items())) or "no samples"),
        Check("leader meal check-ins", bool(of("leader_meal")), f"{len(of('leader_meal'))}"),
        Check("disinfection cycles with one aborted (fail)",
              [c["data"]["cut_short"] for c in cycles if c["verdict"] == "fail"] == [True]
              and sum(c["verdict"] == "pass" for c in cycles) >= 4,
              f"{len(cycles)} cycles, {sum(c['verdict'] == 'fail' for c in cycles)} failed"),
        Check("UV and ozone runs", len(of("premises_disinfection")) >= 2, f"{len(of('premises_disinfection'))}"),
        Check("cold-chain alarm raised then cleared", {"raised", "cleared"} <= states("cold_chain_high"),
              ", ".join(sorted(states("cold_chain_high"))) or "none"),
        Check("no_mask violation with snapshot and clip, and its alarm",
              bool(violations) and all(len(v.get("media") or []) >= 1 for v in violations) and bool(no_mask_alarms),
              f"{len(violations)} violation(s), media {[len(v.get('media') or []) for v in violations]}"),
        Check("meals served registered by the manager", len(of("meal_service")) == 3, f"{len(of('meal_service'))}"),
        Check("the day's ledger", len(of("daily_ledger")) == 1, f"{len(of('daily_ledger'))}"),
        Check("at the console: a routine daily check, a resolved alarm (rectification), a waste disposal",
              len(of("routine_daily_check")) == 1 and len(of("rectification")) == 1
              and "cleared" in states("fever") and len(of("waste_disposal")) == 1,
              f"{len(of('routine_daily_check'))} daily check, {len(of('rectification'))} rectification, "
              f"{len(of('waste_disposal'))} waste disposal"),
        Check("an inspector's finding rectified and verified the same day",
              any(t["data"]["source_type"] == "superior_inspection" and t["data"]["step"] == "verified"
                  for t in of("rectification_task")),
              f"{len(of('rectification_task'))} task step(s)"),
        Check("a chlorine soak by hand",
              any(c["data"].get("by_hand") and c["data"]["method"] == "chlorine" and c["verdict"] == "pass"
                  for c in cycles), f"{sum(1 for c in cycles if c['data'].get('by_hand'))} by hand"),
    ]


def _has_photo(record: dict[str, Any]) -> bool:
    """The record names its station camera's photo (attached: in its media)."""
    return (record.get("photo") or {}).get("state") == "attached" and any(
        m.get("role") == "photo" for m in record.get("media") or [])
