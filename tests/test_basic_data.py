"""The school's basic data over plain HTTP against a real agent: the data administrator
adds and changes staff (a badge opens the stations at once, a conflicting edit or a
badge held by someone else is refused and nothing changes), each change a ``basic_data``
record that validates against its schema; bad input gets its reason in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.console.auth import add_user
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from simulator.platform.validate import SchemaValidator
from tests.conftest import make_config
from tests.test_console import T0, Http

PASSWORD = "kitchen-secret-1"
TODAY = T0.date()


def jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((32, 48, 3), 200, np.uint8))
    assert ok
    return data.tobytes()


@pytest.fixture
def admin(tmp_path):
    config = make_config(tmp_path, console={"enabled": True, "port": 0},
                         site={"staff": [{"staff_id": "S001", "name": "张三", "badges": ["0004212345"],
                                          "health_cert_expires_on": "2027-06-30"}]})
    agent = Agent(config, now=ManualClock(T0), clock=ClockMonitor(lambda: (True, "test")))
    for component in agent.components:
        if component.name == "console":
            agent.supervisor.start(component)
    assert agent.console.server is not None and agent.console.server.started.wait(10)
    for name, role in (("admin", "data_admin"), ("fitter", "installer"), ("boss", "manager")):
        add_user(agent.store, name, role, PASSWORD, T0)
    client = Http(f"http://127.0.0.1:{agent.console.server.port}")
    client.log_in("admin", PASSWORD)
    yield agent, client
    agent.stop()


def cook(**overrides) -> list[tuple[str, str]]:
    fields = {"staff_id": "S020", "name": "赵厨", "post": "cook", "badges": "0004200020",
              "health_cert_no": "HC510100-2026-0020",
              "health_cert_valid_until": (TODAY + timedelta(days=10)).isoformat(), **overrides}
    return list(fields.items())


def basic_records(agent: Agent) -> list[dict]:
    return [r for r in agent.store.iter_records(type_="basic_data")]


def test_the_config_seeds_the_roster_once_as_basic_data(admin):
    agent, client = admin
    entry = agent.store.basic_data("staff", "S001")
    assert entry["version"] == 1 and entry["changed_from"] == "config" and entry["value"]["name"] == "张三"
    assert agent.store.staff_by_badge("0004212345")["staff_id"] == "S001"
    assert list(agent.store.iter_records(type_="basic_data")) == []  # the seed is no news for the platform
    # training hours this year come from the training records
    from agent.records.staff_training import StaffTraining

    for hours in (2.5, 4.0):
        agent.recorder.record(StaffTraining(session="食品安全培训", staff_id="S001", hours=hours))
    status, text = client.get("/admin/staff/S001")
    assert status == 200 and re.search(r'本年度培训学时.*?<dd class="training-hours">6.5 ·', text, re.S)
    # a second start on the same store does not seed again: the store is the source of truth
    config = agent.config
    agent.stop()
    renamed = [member.model_copy(update={"name": "张三丰"}) for member in config.site.staff]
    again = Agent(config.model_copy(update={"site": config.site.model_copy(update={"staff": renamed})}),
                  now=ManualClock(T0), clock=ClockMonitor(lambda: (True, "test")))
    try:
        entry = again.store.basic_data("staff", "S001")
        assert entry["version"] == 1 and entry["value"]["name"] == "张三"
    finally:
        again.store.close()


def test_a_new_cook_is_a_record_the_platform_accepts_and_their_badge_works_at_once(admin):
    agent, client = admin
    status, text = client.post("/admin/staff", cook())
    assert status == 200 and "赵厨" in text and "10 " in text
    assert agent.store.staff_by_badge("0004200020")["name"] == "赵厨"
    [record] = [r for r in basic_records(agent) if r["data"]["entity_id"] == "S020"]
    assert record["data"]["action"] == "add" and record["data"]["version"] == 1
    assert record["data"]["entered_by"] == "admin" and record["operator"]["staff_id"] == "admin"
    assert record["data"]["staff"]["health_cert_valid_until"] == (TODAY + timedelta(days=10)).isoformat()
    assert SchemaValidator().problem("basic_data", {k: v for k, v in record.items() if k != "_delivered_at"}) is None


def test_bad_input_is_refused_with_its_reason_and_changes_nothing(admin):
    agent, client = admin
    before = agent.store.last_seq()
    refusals = [
        (cook(health_cert_valid_until=(TODAY - timedelta(days=1)).isoformat()), "已过期的证照不能录入"),
        (cook(health_cert_no="健康证!"), "健康证编号"),
        (cook(badges="0004212345"), "工卡已被他人使用"),
        (cook(staff_id="S001"), "编号已被使用"),
        (cook(health_cert_valid_until="31/12/2026"), "日期格式"),
    ]
    for fields, words in refusals:
        status, text = client.post("/admin/staff", fields)
        assert status == 400 and words in text, (fields, status, re.findall(r'class="error"[^<]*<span[^>]*>([^<]*)', text))
    status, text = client.post_files("/admin/staff", cook(), {"health_cert_photo": ("cert.jpg", b"not an image")})
    assert status == 400 and "JPEG" in text
    assert agent.store.last_seq() == before and agent.store.basic_data("staff", "S020") is None
    assert agent.store.staff_by_badge("0004212345")["staff_id"] == "S001"


def test_a_conflicting_edit_is_refused_and_says_who_changed_it(admin):
    agent, client = admin
    client.post("/admin/staff", cook())
    other = Http(client.base)
    other.log_in("admin", PASSWORD)
    status, _ = other.post("/admin/staff/S020", [("version", "1"), *cook(name="赵大厨")[1:]])
    assert status == 200
    status, text = client.post("/admin/staff/S020", [("version", "1"), *cook(name="赵师傅")[1:]])
    assert status == 409 and "有人修改了" in text and "v2" in text and "admin" in text
    assert agent.store.basic_data("staff", "S020")["value"]["name"] == "赵大厨"


def test_a_leaver_is_kept_inactive_and_their_badge_no_longer_opens_a_station(admin):
    agent, client = admin
    status, _ = client.post("/admin/staff/S001", [("version", "1"), ("action", "leave")])
    assert status == 200
    entry = agent.store.basic_data("staff", "S001")
    assert entry["value"]["active"] is False and entry["value"]["left_on"] == TODAY.isoformat()
    assert agent.store.staff_by_badge("0004212345") is None
    assert [r["data"]["action"] for r in basic_records(agent) if r["data"]["entity_id"] == "S001"] == ["leave"]
    status, _ = client.post("/admin/staff", cook(badges="0004212345"))  # the card may be given to someone else
    assert status == 200 and agent.store.staff_by_badge("0004212345")["staff_id"] == "S020"


def test_the_installer_sees_names_but_no_health_certificate(admin):
    agent, client = admin
    client.post("/admin/staff", cook())
    fitter = Http(client.base)
    fitter.log_in("fitter", PASSWORD)
    for path in ("/admin/staff", "/admin/staff/S020", "/manager/today", "/manager/records"):
        status, text = fitter.get(path)
        assert status == 200 and "HC510100-2026-0020" not in text, path
        assert (TODAY + timedelta(days=10)).isoformat() not in text, path
        assert "健康证有效期" not in text, path
    assert "赵厨" in fitter.get("/admin/staff")[1]
    [record] = [r for r in basic_records(agent) if r["data"]["entity_id"] == "S020"]
    assert fitter.get(f"/manager/records/{record['id']}")[0] == 403
    assert fitter.post("/admin/staff", cook(staff_id="S021", badges=""))[0] == 403


# --- fixed assets ----------------------------------------------------------------------------

FRIDGE = {"id": "fridge-1", "profile": "xy-md02", "slave": 1, "role": "fridge", "room": "kitchen"}
THERMO = {"id": "thermo-1", "kind": "ir_thermometer", "protocol": "gy90615", "port": "/dev/null-thermo"}


@pytest.fixture
def kitchen_assets(tmp_path):
    config = make_config(tmp_path, console={"enabled": True, "port": 0}, devices=[THERMO],
                         modbus=[{"kind": "modbus_rtu", "id": "line-1", "port": "/dev/null-modbus",
                                  "devices": [FRIDGE]}])
    clock = ManualClock(T0)
    agent = Agent(config, now=clock, clock=ClockMonitor(lambda: (True, "test")))
    for component in agent.components:
        if component.name == "console":
            agent.supervisor.start(component)
    assert agent.console.server is not None and agent.console.server.started.wait(10)
    add_user(agent.store, "admin", "data_admin", PASSWORD, T0)
    client = Http(f"http://127.0.0.1:{agent.console.server.port}")
    client.log_in("admin", PASSWORD)
    yield agent, client, clock
    agent.stop()


def open_warnings(agent: Agent) -> dict[tuple[str, str], str]:
    found = {}
    for row in agent.store.open_alarms():
        if row["kind"] == "expiry_warning":
            import json

            subject = json.loads(row["subject"])
            found[(subject["what"], subject["id"])] = subject["threshold"]
    return found


def test_known_devices_are_assets_and_their_maintenance_and_calibration_warn(kitchen_assets):
    agent, client, clock = kitchen_assets
    status, text = client.get("/admin/assets")
    assert status == 200 and 'data-asset="fridge-1"' in text and 'data-asset="thermo-1"' in text
    assert "冰箱/冷柜" in text and "温度计" in text
    # a maintenance entry on the fridge, next due in 5 days (the 7-day lead)
    done = TODAY.isoformat()
    status, text = client.post_files("/admin/assets/fridge-1/maintenance",
                                     [("work", "maintenance"), ("done_on", done), ("work_done", "清洗冷凝器，检查门封"),
                                      ("done_by", "海尔售后 王师傅"), ("next_due", (TODAY + timedelta(days=5)).isoformat())],
                                     {"photo": ("fridge.jpg", jpeg())})
    assert status == 200 and "清洗冷凝器" in text and (TODAY + timedelta(days=5)).isoformat() in text
    [entry] = list(agent.store.iter_records(type_="asset_maintenance"))
    assert entry["data"]["asset_id"] == "fridge-1" and entry["data"]["entered_by"] == "admin"
    assert [m["role"] for m in entry["media"]] == ["photo"]
    assert SchemaValidator().problem("asset_maintenance", {k: v for k, v in entry.items()
                                                           if k != "_delivered_at"}) is None
    # the thermometer's calibration due in 20 days (the 30-day lead)
    status, text = client.post("/admin/assets/thermo-1", [("version", "0"), ("name", "晨检额温仪"),
                                                          ("category", "thermometer"), ("location", "入口"),
                                                          ("calibrated_on", "2025-12-20"),
                                                          ("calibration_due", (TODAY + timedelta(days=20)).isoformat())])
    assert status == 200 and 'id="calibration-due"' in text and "20 " in text
    [change] = [r for r in agent.store.iter_records(type_="basic_data") if r["data"]["entity"] == "asset"]
    assert change["data"]["asset"]["calibration_due"] == (TODAY + timedelta(days=20)).isoformat()
    assert change["data"]["action"] == "add" and change["data"]["version"] == 1
    agent.schedule_engine.tick(clock())
    assert open_warnings(agent) == {("maintenance", "fridge-1"): "7", ("calibration", "thermo-1"): "30"}
    status, text = client.get("/manager/today")
    assert "设备维保" in text and "计量器具检定" in text and "晨检额温仪" in text
    # the calibration done: its warning clears
    status, _ = client.post("/admin/assets/thermo-1/maintenance",
                            [("work", "calibration"), ("done_on", done), ("work_done", "计量所检定合格"),
                             ("done_by", "市计量测试所"), ("next_due", (TODAY + timedelta(days=365)).isoformat())])
    assert status == 200
    clock.advance(3600)
    agent.schedule_engine._expiry_cache = None  # noqa: SLF001 - the engine re-reads at most every few minutes
    agent.schedule_engine.tick(clock())
    assert ("calibration", "thermo-1") not in open_warnings(agent)


def test_maintenance_input_is_checked(kitchen_assets):
    agent, client, _ = kitchen_assets
    cases = [([("work", "polish")], "请选择维保类别"),
             ([("work", "repair"), ("done_on", (TODAY + timedelta(days=1)).isoformat()), ("work_done", "x"),
               ("done_by", "y")], "不能晚于今天"),
             ([("work", "repair"), ("work_done", "x"), ("done_by", "y"), ("next_due", TODAY.isoformat())],
              "须晚于本次日期"),
             ([("work", "repair"), ("work_done", ""), ("done_by", "y")], "请填写维保内容")]
    for fields, words in cases:
        status, text = client.post("/admin/assets/fridge-1/maintenance", fields)
        assert status == 400 and words in text, fields
    assert client.get("/admin/assets/no-such")[0] == 404
    assert list(agent.store.iter_records(type_="asset_maintenance")) == []


# --- the canteen's profile, suppliers and their documents --------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def profile(**overrides) -> list[tuple[str, str]]:
    fields = {"version": "0", "school_name": "成都市实验小学", "canteen_name": "第一食堂", "address": "成都市青羊区",
              "operating_mode": "self_run", "responsible_person": "王校长", "responsible_phone": "028-86000000",
              "licence_no": "JY15101050012345", "licence_scope": "热食类食品制售",
              "licence_valid_until": "2029-05-31", "grade": "A", "grade_on": "2026-03-01", "seats": "600",
              "diners_per_meal": "812", **overrides}
    return list(fields.items())


def test_the_canteen_profile_with_its_licence_scan_is_a_record_and_bad_input_is_refused(admin):
    agent, client = admin
    before = agent.store.last_seq()
    for fields, words in ((profile(licence_no="JY1510105"), "许可证编号格式不对"),
                          (profile(licence_valid_until="2026-01-01"), "已过期的证照不能录入"),
                          (profile(operating_mode="contracted"), "承包经营的食堂须填写承包商"),
                          (profile(seats="many"), "座位数和就餐人数"),
                          (profile(grade="D"), "量化等级为 A、B 或 C")):
        status, text = client.post("/admin/canteen", fields)
        assert status == 400 and words in text, fields
    status, text = client.post_files("/admin/canteen", profile(), {"licence_photo": ("licence.pdf", b"%PDF-1.4 cut")})
    assert status == 400 and "PDF" in text
    assert agent.store.last_seq() == before
    status, text = client.post_files("/admin/canteen", profile(), {"licence_photo": ("licence.pdf", PDF)})
    assert status == 200 and "JY15101050012345" in text and "第一食堂" in text
    [record] = list(agent.store.iter_records(type_="basic_data"))[-1:]
    assert record["data"]["entity"] == "canteen" and record["data"]["canteen"]["grade"] == "A"
    assert [m["role"] for m in record["media"]] == ["document"]
    assert SchemaValidator().problem("basic_data", {k: v for k, v in record.items() if k != "_delivered_at"}) is None
    document = record["data"]["canteen"]["licence_photo"]
    assert client.get(f"/admin/documents/{document}")[0] == 200
    status, text = client.post("/admin/canteen", profile())  # made on version 0: someone saved v1 since
    assert status == 409 and "有人修改了" in text


def test_a_supplier_with_a_licence_document_warns_before_it_expires(admin):
    agent, client = admin
    big = PDF + b"0" * (agent.config.console.document_max_kb * 1024)
    status, text = client.post_files("/admin/suppliers", [("supplier_id", "SUP-1"), ("name", "绿源蔬菜"),
                                                          ("licence_no", "JY15101070098765")],
                                     {"document": ("licence.pdf", big)})
    assert status == 400 and "文件太大" in text
    status, text = client.post("/admin/suppliers", [("supplier_id", "SUP-1"), ("name", "绿源蔬菜"),
                                                    ("licence_no", "123")])
    assert status == 400 and "许可证编号格式不对" in text
    status, text = client.post_files("/admin/suppliers", [("supplier_id", "SUP-1"), ("name", "绿源蔬菜"),
                                                          ("licence_no", "JY15101070098765"),
                                                          ("licence_valid_until", (TODAY + timedelta(days=6)).isoformat()),
                                                          ("supplies", "蔬菜")], {"document": ("licence.pdf", PDF)})
    assert status == 200 and "绿源蔬菜" in text and "6 " in text
    agent.schedule_engine.tick(agent.now())
    assert open_warnings(agent)[("supplier_licence", "绿源蔬菜")] == "7"


# --- the knowledge and rules library ----------------------------------------------------------

HANDWASH = "# 洗手规程 Handwashing\n\n1. 流动水打湿双手\n2. 洗手液揉搓 20 秒\n3. 冲净、擦干\n".encode()


@pytest.fixture
def library(tmp_path):
    devices = [THERMO, {"id": "badge-mc", "kind": "badge_reader", "protocol": "serial_line", "port": "/dev/null-b"}]
    stations = [{"id": "mc-1", "kind": "morning_check", "badge": "badge-mc", "thermometer": "thermo-1",
                 "document": "handwash"}]
    config = make_config(tmp_path, console={"enabled": True, "port": 0}, devices=devices, stations=stations)
    agent = Agent(config, now=ManualClock(T0), clock=ClockMonitor(lambda: (True, "test")))
    for component in agent.components:
        if component.name == "console":
            agent.supervisor.start(component)
    assert agent.console.server is not None and agent.console.server.started.wait(10)
    for name, role in (("admin", "data_admin"), ("fitter", "installer"), ("cook-li", "staff")):
        add_user(agent.store, name, role, PASSWORD, T0)
    client = Http(f"http://127.0.0.1:{agent.console.server.port}")
    client.log_in("admin", PASSWORD)
    yield agent, client
    agent.stop()


def test_the_library_takes_documents_by_content_and_every_role_reads_them(library):
    agent, client = library
    before = agent.store.last_seq()
    for name, content, words in (("rules.pdf", b"MZ\x90\x00 not a pdf", "PDF、图片或 Markdown"),
                                 ("notes.md", b"\xff\xfe\x00binary", "PDF、图片或 Markdown"),
                                 ("big.md", b"x" * (agent.config.console.document_max_kb * 1024 + 1), "文件太大")):
        status, text = client.post_files("/library", [("document_id", "d1"), ("title", "t"), ("group", "rules")],
                                          {"file": (name, content)})
        assert status == 400 and words in text, name
    assert agent.store.last_seq() == before
    status, text = client.post_files("/library", [("document_id", "handwash"), ("title", "洗手规程"),
                                                  ("group", "procedures")], {"file": ("handwash.md", HANDWASH)})
    assert status == 200 and "流动水打湿双手" in text
    status, _ = client.post_files("/library", [("document_id", "rules-2026"), ("title", "食品安全管理制度"),
                                               ("group", "rules")], {"file": ("rules.pdf", PDF)})
    assert status == 200
    entry = agent.store.basic_data("document", "rules-2026")["value"]
    import hashlib

    assert entry["sha256"] == hashlib.sha256(PDF).hexdigest() and entry["content_type"] == "application/pdf"
    records = [r for r in agent.store.iter_records(type_="basic_data") if r["data"]["entity"] == "document"]
    assert [r["media"][0]["role"] for r in records] == ["document", "document"]
    assert all(SchemaValidator().problem("basic_data", {k: v for k, v in r.items() if k != "_delivered_at"}) is None
               for r in records)
    for name in ("fitter", "cook-li"):
        reader = Http(client.base)
        reader.log_in(name, PASSWORD)
        status, text = reader.get("/library")
        assert status == 200 and "洗手规程" in text and "食品安全管理制度" in text
        assert reader.get("/library/rules-2026/file")[0] == 200
        assert reader.post_files("/library", [("document_id", "x"), ("title", "x"), ("group", "rules")],
                                 {"file": ("x.md", HANDWASH)})[0] == 403
    # the morning-check station offers its handwashing procedure, and nothing else, without a login
    anyone = Http(client.base)
    status, text = anyone.get("/station/mc-1")
    assert status == 200 and 'href="/station/mc-1/document"' in text
    status, text = anyone.get("/station/mc-1/document")
    assert status == 200 and "流动水打湿双手" in text
    assert anyone.get("/library/rules-2026")[0] == 200 and "/login" in anyone.get("/library/rules-2026")[1]
    status, _ = client.post("/library/rules-2026/retire", [("version", "1")])
    assert status == 200 and client.get("/library/rules-2026")[0] == 404
