"""Command checks without a broker: signature, expiry, replay, malformed, set_config."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.app import Agent
from agent.config.broker import BrokerConfig
from agent.config_file.loader import load_config
from agent.uplink.commands import CommandProcessor, canonical_json
from agent.uplink.connection import UplinkConfigError, check_transport_policy

from .conftest import TZ

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)


def command(name: str = "ping", args: dict | None = None, *, expires_in: float = 60, cid: str = "c-1",
            key: Ed25519PrivateKey | None = None, agent_id: str | None = "a1",
            issued_at: datetime = NOW) -> dict:
    cmd = {"id": cid, "name": name, "args": args or {}, "issued_at": issued_at.isoformat(),
           "expires_at": (issued_at + timedelta(seconds=expires_in)).isoformat()}
    if agent_id is not None:
        cmd["agent_id"] = agent_id
    if key is not None:
        cmd["sig"] = base64.b64encode(key.sign(canonical_json(cmd))).decode()
    return cmd


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def agent(tmp_path: Path, key: Ed25519PrivateKey):
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "a1", "school_id": "s1", "canteen_id": "k1"},
        "broker": {"platform_public_key": public},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
    }))
    agent = Agent(load_config(path, {}), now=lambda: NOW, config_path=path)
    yield agent
    agent.store.close()


def processor(agent: Agent) -> CommandProcessor:
    return CommandProcessor(agent.store, agent.command_handlers, agent.now,
                            agent.config.broker.platform_public_key, agent_id=agent.config.identity.agent_id)


def run(proc: CommandProcessor, cmd: dict | bytes) -> dict:
    payload = cmd if isinstance(cmd, bytes) else json.dumps(cmd).encode()
    return proc.process(payload)


def test_signed_ping_runs_once_and_replay_is_refused(agent: Agent, key) -> None:
    proc = processor(agent)
    first = run(proc, command(key=key))
    assert first["ok"] and first["result"]["pong"] and first["id"] == "c-1"
    again = run(proc, command(key=key))
    assert not again["ok"] and "replay" in again["error"]


def test_replay_refused_after_restart(agent: Agent, key) -> None:
    assert run(processor(agent), command(key=key))["ok"]
    assert "replay" in run(processor(agent), command(key=key))["error"]


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda c, k: c.pop("sig"), "unsigned"),
    (lambda c, k: c.update(sig=base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()), "bad signature"),
    (lambda c, k: c.update(args={"staff": []}), "bad signature"),  # tampered after signing
    (lambda c, k: c.update(sig="not base64!"), "bad signature"),
])
def test_unsigned_or_badly_signed_refused_and_nothing_runs(agent: Agent, key, mutate, reason) -> None:
    cmd = command("sync_roster", {"staff": [{"staff_id": "S1", "name": "x"}]}, key=key)
    mutate(cmd, key)
    answer = run(processor(agent), cmd)
    assert not answer["ok"] and reason in answer["error"]
    assert agent.store.roster() == []


def test_expired_refused(agent: Agent, key) -> None:
    answer = run(processor(agent), command("sync_roster", {"staff": []}, expires_in=60, key=key,
                                           issued_at=NOW - timedelta(minutes=5)))
    assert not answer["ok"] and "expired" in answer["error"]


@pytest.mark.parametrize(("changes", "reason"), [
    ({"agent_id": "a2"}, "for another agent: 'a2'"),
    ({"agent_id": None}, "unbound: a signed command must name its agent_id"),
    ({"issued_at": NOW + timedelta(days=3)}, "issued in the future"),
    ({"issued_at": NOW + timedelta(minutes=6)}, "issued in the future"),  # beyond the 5 min skew
    ({"expires_in": 3601}, "validity too long"),  # more than the 1 h window
    ({"expires_in": -1}, "expires before it is issued"),
])
def test_signed_command_bound_to_its_agent_and_to_time(agent: Agent, key, changes, reason) -> None:
    answer = run(processor(agent), command("sync_roster", {"staff": [{"staff_id": "S1", "name": "x"}]},
                                           key=key, **changes))
    assert not answer["ok"] and reason in answer["error"], answer
    assert agent.store.roster() == []


def test_within_the_skew_and_the_window_runs(agent: Agent, key) -> None:
    answer = run(processor(agent), command(key=key, issued_at=NOW + timedelta(minutes=4), expires_in=3600))
    assert answer["ok"], answer


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", json.dumps({"id": "x"}).encode(),
                                     json.dumps({"id": "x", "name": "ping", "issued_at": "yesterday",
                                                 "expires_at": "soon"}).encode()])
def test_malformed_refused_with_a_result(agent: Agent, payload: bytes) -> None:
    answer = run(processor(agent), payload)
    assert answer["ok"] is False and answer["error"].startswith("malformed")


def test_unknown_command_refused(agent: Agent, key) -> None:
    answer = run(processor(agent), command("format_disk", key=key))
    assert not answer["ok"] and "unknown command" in answer["error"]


def test_sync_roster_replaces_roster(agent: Agent, key) -> None:
    staff = [{"staff_id": "S1", "name": "张三", "badges": ["0004212345"], "health_cert_expires_on": "2027-03-01"}]
    answer = run(processor(agent), command("sync_roster", {"staff": staff}, key=key))
    assert answer["ok"] and answer["result"] == {"staff": 1}
    assert agent.store.staff_by_badge("0004212345")["name"] == "张三"


def test_invalid_set_config_changes_nothing(agent: Agent, key) -> None:
    before = agent.config_path.read_bytes()
    answer = run(processor(agent), command("set_config", {"config": {"rules": {"food_sample": {"min_grams": "lots"}}}},
                                           key=key))
    assert not answer["ok"] and "rules.food_sample.min_grams" in answer["error"]
    assert agent.config_path.read_bytes() == before and not agent.reload_requested


def test_valid_set_config_written_atomically_and_reload_requested(agent: Agent, key) -> None:
    answer = run(processor(agent), command("set_config", {"config": {"rules": {"food_sample": {"min_grams": 150}}}},
                                           key=key))
    assert answer["ok"] and answer["result"]["changed"] == ["rules"]
    assert load_config(agent.config_path, {}).rules.food_sample.min_grams == 150
    assert agent.reload_requested


def test_resend_requeues_delivered_records(agent: Agent, key) -> None:
    from agent.records.staff_training import StaffTraining

    saved = agent.recorder.record(StaffTraining(session="s", staff_id="S1"))
    agent.store.ack([saved.id])
    answer = run(processor(agent), command("resend", {"since": (NOW - timedelta(hours=1)).isoformat(),
                                                      "until": (NOW + timedelta(hours=1)).isoformat()}, key=key))
    assert answer["ok"] and answer["result"] == {"requeued": 1}
    assert agent.store.in_outbox(saved.id)


def test_plaintext_to_remote_broker_refused_unless_allowed() -> None:
    with pytest.raises(UplinkConfigError, match="refusing plaintext"):
        check_transport_policy(BrokerConfig(host="10.1.2.3"))
    check_transport_policy(BrokerConfig(host="127.0.0.1"))
    check_transport_policy(BrokerConfig(host="10.1.2.3", allow_plaintext_remote=True))


def test_sync_basic_data_applies_what_the_platform_saw_and_refuses_what_changed_since(agent: Agent, key) -> None:
    cook = {"staff_id": "S9", "name": "钱厨", "badges": ["0004299999"], "health_cert_no": "HC-9999",
            "health_cert_valid_until": "2027-09-01"}
    answer = run(processor(agent), command("sync_basic_data", {"items": [{"entity": "staff", "data": cook}]}, key=key))
    assert answer["ok"] and answer["result"]["refused"] == []
    [applied] = answer["result"]["applied"]
    assert applied["version"] == 1 and agent.store.staff_by_badge("0004299999")["name"] == "钱厨"
    record = agent.store.get_record(applied["record_id"])
    assert record["data"]["origin"] == "platform" and record["data"]["entered_by"] == "platform"
    # the console changes the cook (version 2); the platform's edit made on version 1 is refused, not applied
    from agent.records.basic_data import StaffFacts
    agent.recorder.change_basic_data(StaffFacts(**{**cook, "name": "钱大厨"}), action="edit", by="admin",
                                     expected_version=1)
    items = [{"entity": "staff", "version": 1, "data": {**cook, "name": "钱师傅"}},
             {"entity": "asset", "data": {"asset_id": "hood-1", "name": "油烟机", "category": "range_hood",
                                          "maintenance_due": "2027-01-15"}},
             {"entity": "supplier", "data": {"supplier_id": "SUP-2", "name": "x", "licence_no": "123"}},
             {"entity": "staff", "data": {"staff_id": "S10", "name": "孙", "badges": ["0004299999"]}}]
    answer = run(processor(agent), command("sync_basic_data", {"items": items}, key=key, cid="c-2"))
    assert answer["ok"]
    refused = {(r["id"], r["reason"]) for r in answer["result"]["refused"]}
    assert refused == {("S9", "conflict"), ("SUP-2", "invalid"), ("S10", "badge_taken")}
    conflict = next(r for r in answer["result"]["refused"] if r["reason"] == "conflict")
    assert conflict["found"]["version"] == 2 and conflict["found"]["changed_by"] == "admin"
    assert [a["id"] for a in answer["result"]["applied"]] == ["hood-1"]
    assert agent.store.basic_data("staff", "S9")["value"]["name"] == "钱大厨"
    assert agent.store.basic_data("staff", "S10") is None


def test_set_menu_keeps_each_days_menu_and_refuses_what_it_cannot_use(agent: Agent, key) -> None:
    from agent.core.menu import day_dishes, meal_dishes

    proc = processor(agent)
    today, tomorrow = NOW.date(), NOW.date() + timedelta(days=1)
    lunch = {"day": today.isoformat(), "meals": {"lunch": ["番茄炒蛋", " 红烧肉 ", "番茄炒蛋"], "dinner": ["米饭"]}}
    answer = run(proc, command("set_menu", lunch, key=key, cid="m-1"))
    assert answer["ok"] and answer["result"] == {"day": today.isoformat(), "meals": 2, "dishes": 3,
                                                 "replaced": False, "withdrawn": False}
    # tomorrow's, pushed the evening before, does not replace today's
    answer = run(proc, command("set_menu", {"day": tomorrow.isoformat(), "meals": {"lunch": ["鱼香肉丝"]}},
                               key=key, cid="m-2"))
    assert answer["ok"] and not answer["result"]["replaced"]
    assert meal_dishes(agent.store, agent.config, "lunch", today) == ["番茄炒蛋", "红烧肉"]
    assert meal_dishes(agent.store, agent.config, "lunch", tomorrow) == ["鱼香肉丝"]
    assert day_dishes(agent.store, agent.config, today) == ["番茄炒蛋", "红烧肉", "米饭"]
    # the public page shows it for a meal with no plan and no service registered
    from agent.public.disclosure import disclose

    shown = {line.meal: line.dishes for line in disclose(agent.store, agent.config, NOW).menu}
    assert shown["午餐"] == ["番茄炒蛋", "红烧肉"] and shown["晚餐"] == ["米饭"]
    for cid, args, reason in [
        ("m-3", {"day": (today - timedelta(days=2)).isoformat(), "meals": {"lunch": ["x"]}}, "between yesterday"),
        ("m-4", {"day": (today + timedelta(days=40)).isoformat(), "meals": {"lunch": ["x"]}}, "days ahead"),
        ("m-5", {"day": "30/11/2026", "meals": {}}, "day"),
        ("m-6", {"day": today.isoformat(), "meals": {"lunch": ["x" * 61]}}, "meals.lunch.0"),
        ("m-7", {"day": today.isoformat(), "meals": {"lunch": [""]}}, "meals.lunch.0"),
        ("m-8", {"day": today.isoformat(), "meals": {"lunch": ["x"]}, "note": "?"}, "note"),
    ]:
        refused = run(proc, command("set_menu", args, key=key, cid=cid))
        assert not refused["ok"] and reason in refused["error"], (cid, refused)
    assert meal_dishes(agent.store, agent.config, "lunch", today) == ["番茄炒蛋", "红烧肉"]  # nothing half-applied
    # withdrawn: the school's own plan (none here) and then the config's menu count again
    answer = run(proc, command("set_menu", {"day": today.isoformat(), "meals": {}}, key=key, cid="m-9"))
    assert answer["ok"] and answer["result"]["replaced"] and answer["result"]["withdrawn"]
    assert meal_dishes(agent.store, agent.config, "lunch", today) == [d.name for d in agent.config.site.menu
                                                                      if not d.meals or "lunch" in d.meals]
