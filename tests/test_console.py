"""The console's parts without a browser: catalog, passwords, login limit, station feed,
photo checks, resolving alarms, no health data in any log; and over plain HTTP against a
real agent, the sample discard page and the installer's doctor."""

from __future__ import annotations

import asyncio
import gettext
import http.cookiejar
import json
import logging
import os
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.console import (
    basic_forms,
    pages_doctor,
    pages_entries,
    pages_meals,
    pages_samples,
    pages_station,
    pages_stock,
    pages_today,
)
from agent.console.auth import LoginLimiter, add_user, authenticate, hash_password, verify_password
from agent.console.i18n import LOCALE_DIR, mo_bytes, parse_po
from agent.console.station_feed import StationFeed
from agent.console.uploads import UploadError, check_photo
from agent.core.feedback import ConsoleOutput, Feedback, Message, Screen
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock
from agent.records.alarm import AlarmData
from agent.records.food_sample import FoodSample
from agent.schedule.discard import DiscardRefused, discard, sample_batch
from agent.schedule.due import what_is_due
from agent.store import Store, StoreWriteError
from drivers.modbus.profiles import load_profiles
from drivers.readings import TemperatureReading
from simulator.devices.modbus_devices import TcpGatewayServer
from simulator.devices.modbus_physics import FridgeModel, ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice, build_bus
from simulator.platform.broker import Broker
from simulator.platform.validate import SchemaValidator
from tests.conftest import REPO, TZ, make_config
from tests.fixtures_mqtt import wait_until
from tests.fixtures_serial_stations import WANG, ZHANG, Rig, station_config

CONSOLE = REPO / "agent" / "console"
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "console.po"
T0 = datetime(2026, 11, 30, 7, 30, tzinfo=TZ)


# --- Chinese first: the catalog -------------------------------------------------------------


def used_messages() -> set[str]:
    """Every English message id the templates and pages show."""
    found: set[str] = set()
    for path in (CONSOLE / "templates").glob("*.html"):
        found |= set(re.findall(r'(?:bi|zh)\("([^"]+)"\)', path.read_text(encoding="utf-8")))
        found |= set(re.findall(r"zh\('([^']+)'\)", path.read_text(encoding="utf-8")))
    for path in CONSOLE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'error="([^"]+)"', text)) | set(re.findall(r'UploadError\("([^"]+)"\)', text))
        found |= set(re.findall(r'NotAllowed\("([^"]+)"\)', text))
    # (station kinds carry their own names and screen words, both languages: tests/test_station_kinds.py)
    for table in (pages_today.DUTY, pages_today.STATE, pages_station.WORDS,
                  pages_entries.WASTE_KINDS, pages_samples.STATE, pages_doctor.STATUS):
        found |= set(table.values())
    found |= {error for error, _ in pages_samples.REFUSALS.values()}
    found |= set(pages_stock.REFUSED.values())
    found |= set(basic_forms.MESSAGES) | set(basic_forms.FIELD_MESSAGES.values())
    for path in CONSOLE.glob("*.py"):  # refusals raised as FormRefused("...") and AccountError(..., "...")
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'FormRefused\("([^"]+)"', text))
        found |= set(re.findall(r'AccountError\([^)]*?,\s*"([^"]+)"\)', text, re.S))
    return found


def test_every_message_is_translated_and_the_mo_is_compiled_from_the_po():
    entries = parse_po(PO.read_text(encoding="utf-8"))
    missing = sorted(m for m in used_messages() if not entries.get(m))
    assert missing == [], f"add to {PO.name}: {missing}"
    assert PO.with_suffix(".mo").read_bytes() == mo_bytes(entries), "run: python -m agent.console.i18n"
    with PO.with_suffix(".mo").open("rb") as fp:
        catalog = gettext.GNUTranslations(fp)
    assert catalog.gettext("Re-check in 10 min") == "请10分钟后复测"
    assert catalog.gettext("Leave your post and tell the manager") == "请离岗并告知主管"
    assert catalog.gettext("Not saved: tell the manager") == "未保存，请告知主管"


# --- accounts ---------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_and_verify(tmp_path):
    stored = hash_password("kitchen-secret-1")
    assert stored.startswith("scrypt$") and "kitchen-secret-1" not in stored
    assert verify_password("kitchen-secret-1", stored) and not verify_password("kitchen-secret-2", stored)
    assert hash_password("kitchen-secret-1") != stored  # salted
    assert not verify_password("x", "md5$abc")
    with Store(tmp_path / "a.db") as store:
        add_user(store, "boss", "manager", "kitchen-secret-1", T0)
        assert "kitchen-secret-1" not in str(store.console_users())
        assert authenticate(store, "boss", "kitchen-secret-1").role == "manager"
        assert authenticate(store, "boss", "wrong-one") is None
        assert authenticate(store, "nobody", "kitchen-secret-1") is None
        for name, role, password in (("boss", "manager", "short"), ("boss", "cook", "long-enough-1"),
                                     ("bad name", "manager", "long-enough-1")):
            with pytest.raises(ValueError):
                add_user(store, name, role, password, T0)


def test_login_limiter_counts_failures_per_key_within_the_window():
    clock = ManualClock(T0)
    limiter = LoginLimiter(attempts=2, window_s=0.3, monotonic=clock.monotonic)
    limiter.failed("client:a", "user:boss")
    assert not limiter.blocked("client:a")
    limiter.failed("client:a", "user:boss")
    assert limiter.blocked("client:b", "user:boss") and limiter.blocked("client:a")
    assert not limiter.blocked("client:b", "user:other")
    clock.advance(timedelta(seconds=0.35))
    assert not limiter.blocked("client:a", "user:boss")


# --- station screens --------------------------------------------------------------------------


def message(text: str, station: str, screen: Screen | None = None, level: str = "info") -> Message:
    return Message(text, level, station, T0, text, screen)  # type: ignore[arg-type]


def test_a_screen_holds_only_the_current_person_and_forgets_after_the_hold():
    clock = ManualClock(T0)
    feed = StationFeed(["mc-1", "mc-2"], hold_s=0.2, monotonic=clock.monotonic)
    assert feed.current("mc-1").phase == "waiting"
    feed.show(message("张三 …", "mc-1", Screen("verdict", "张三", "36.5 °C", "pass")))
    feed.show(message("李四 请测温", "mc-1", Screen("identified", "李四")))
    state = feed.current("mc-1")
    assert (state.phase, state.name, state.reading, state.verdict) == ("identified", "李四", None, None)
    feed.show(message("李四 37.9 °C", "mc-1", Screen("verdict", "李四", "37.9 °C", "fail", "recheck"), "error"))
    assert feed.current("mc-1").next_step == "recheck"
    assert feed.current("mc-2").phase == "waiting", "a screen shows only its own station"
    feed.show(message("reminder", "schedule"))  # no screen: ignored
    clock.advance(timedelta(seconds=0.25))
    after = feed.current("mc-1")
    assert after.phase == "waiting" and after.name is None and after.reading is None


def test_feedback_writes_no_stdout_line_under_systemd(monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    assert not any(isinstance(o, ConsoleOutput) for o in Feedback.default(lambda: T0).outputs)


def test_a_fever_puts_no_health_data_in_the_log(tmp_path, morning, caplog, capsys):
    rig = Rig(station_config(tmp_path, {"kind": "morning_check", "badge": "badge-1",
                                        "thermometer": "thermo-1"}), morning)
    with caplog.at_level(logging.DEBUG):
        rig.badge(WANG)
        rig.temperature(37.9)
        rig.advance(5)
        rig.badge(ZHANG)
        rig.temperature(36.5)
    rig.close()
    logged = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().out
    assert "morning check staff=S003" in logged
    for secret in ("王五", "张三", "37.9", "36.5"):
        assert secret not in logged, f"{secret!r} reached the log"


# --- photos and rectifications ----------------------------------------------------------------


def test_photos_must_decode_as_jpeg_or_png():
    ok, png = cv2.imencode(".png", np.full((8, 8, 3), 200, np.uint8))
    assert ok and check_photo(png.tobytes()).content_type == "image/png"
    ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
    assert check_photo(jpeg.tobytes()).suffix == ".jpg"
    for bad in (b"GIF89a....", b"\xff\xd8\xff" + b"\0" * 100, jpeg.tobytes()[:40], b"%PDF-1.4"):
        with pytest.raises(UploadError):
            check_photo(bad)


def test_a_rectification_on_a_condition_alarm_is_linked_but_only_the_condition_clears_it(tmp_path):
    config = make_config(tmp_path)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, lambda: T0, ClockMonitor(lambda: (True, "test")))
        raised = recorder.raise_alarm("cold_chain_high", {"device_id": "fridge-1"}, "fridge-1 warm")
        assert raised is not None
        assert recorder.acknowledge_alarm(raised.id, "boss", "维修师傅已在路上") is True
        assert store.alarm_acknowledgements()[raised.id]["note"] == "维修师傅已在路上"
        ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
        fix = recorder.rectify_alarm(raised.id, "压缩机已维修", "boss", restore_fitness=True,
                                     photo=check_photo(jpeg.tobytes()))
        record = store.get_record(fix.id)
        assert record["type"] == "rectification" and record["data"]["alarm_id"] == raised.id
        assert record["data"]["restores_fitness"] is None  # not a fever: nobody's fitness changes
        assert record["data"]["clears_alarm"] is False  # a condition alarm: the 整改 does not end it
        [media] = record["media"]
        assert store.media_info(media["id"])["record_id"] == fix.id
        [still_open] = store.open_alarms()
        assert still_open["raised_id"] == raised.id
        assert store.rectifications_of([raised.id])[raised.id][0]["id"] == fix.id
        # the condition clears: closed by the condition, not labelled rectified
        assert recorder.clear_alarm("cold_chain_high", {"device_id": "fridge-1"}, "back in range")
        [cleared] = [r for r in store.iter_records(type_="alarm") if r["data"]["state"] == "cleared"]
        assert cleared["data"]["raised_id"] == raised.id
        assert (cleared["data"]["closed_by"], cleared["data"]["rectification_id"]) == ("condition", None)
        assert recorder.closed_by(store.alarm_by_raise(raised.id)) == "condition"
        # it comes back when the condition returns
        again = recorder.raise_alarm("cold_chain_high", {"device_id": "fridge-1"}, "fridge-1 warm again")
        assert again is not None and again.id != raised.id
        validator = SchemaValidator()
        for record_id in (raised.id, fix.id, cleared["id"], again.id):
            record = store.get_record(record_id)
            assert validator.problem(record["type"], record) is None, record_id


def test_a_fever_is_closed_by_the_rectification_and_only_once(tmp_path):
    config = make_config(tmp_path)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, lambda: T0, ClockMonitor(lambda: (True, "test")))
        raised = recorder.raise_alarm("fever", {"staff_id": "S003", "day": "2026-11-30"}, "fever")
        assert raised is not None
        fix = recorder.rectify_alarm(raised.id, "复测正常，医生证明", "boss", restore_fitness=True)
        assert fix.data.clears_alarm is True and store.open_alarms() == []
        [cleared] = [r for r in store.iter_records(type_="alarm") if r["data"]["state"] == "cleared"]
        assert (cleared["data"]["closed_by"], cleared["data"]["rectification_id"]) == ("rectification", fix.id)
        assert fix.id in cleared["data"]["message"]  # v1 consumers read the rectification's id in the message
        assert recorder.closed_by(store.alarm_by_raise(raised.id)) == "rectification"
        with pytest.raises(LookupError):
            recorder.rectify_alarm(raised.id, "again", "boss")
        with pytest.raises(LookupError):
            recorder.acknowledge_alarm(raised.id, "boss")
        assert len(list(store.iter_records(type_="rectification"))) == 1


def test_a_clear_written_before_closed_by_existed_reads_as_it_was(tmp_path):
    """An older agent cleared every alarm a 整改 resolved with "resolved: rectification <id>"."""
    config = make_config(tmp_path)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, lambda: T0, ClockMonitor(lambda: (True, "test")))
        for device, message in (("fridge-1", "resolved: rectification 0192f6c8"), ("fridge-2", "back in range")):
            recorder.raise_alarm("cold_chain_high", {"device_id": device}, "warm")
            row = store.open_alarms()[-1]
            draft = recorder.draft(AlarmData(kind="cold_chain_high", state="cleared", severity="info",
                                             subject={"device_id": device}, message=message))
            store.clear_alarm(row["key"], draft)
        closed = {r["subject"]: recorder.closed_by(r) for r in store.recent_alarms()}
        assert closed == {'{"device_id": "fridge-1"}': "rectification", '{"device_id": "fridge-2"}': "condition"}


def test_a_check_the_store_refused_says_not_saved_on_the_screen(tmp_path, morning):
    rig = Rig(station_config(tmp_path, {"kind": "morning_check", "badge": "badge-1",
                                        "thermometer": "thermo-1"}), morning)
    feed = StationFeed(["st-1"])
    rig.feedback.add_output(feed)

    def refuse(*args: object, **kwargs: object) -> None:
        raise StoreWriteError("database or disk is full")

    rig.recorder.record = refuse  # type: ignore[method-assign]
    rig.badge(ZHANG)
    rig.bus.publish(TemperatureReading(device_id="thermo-1", at=rig.clock(), object_c=36.5, ambient_c=24.0))
    rig.bus.drain()
    rig.close()
    state = feed.current("st-1")
    assert (state.next_step, state.verdict) == ("not_saved", "fail")
    assert "未保存，请告知主管" in state.text


def test_a_rectification_restores_fitness_until_a_later_check_fails(tmp_path, morning):
    rig = Rig(station_config(tmp_path, {"kind": "morning_check", "badge": "badge-1",
                                        "thermometer": "thermo-1"}), morning)
    rig.badge(WANG)
    rig.temperature(37.9)
    assert rig.store.duty("2026-11-30", "S003")["fit"] is False
    [alarm] = [a for a in rig.records("alarm") if a["data"]["kind"] == "fever"]
    fix = rig.recorder.rectify_alarm(alarm["id"], "复测正常，医生证明", "boss", restore_fitness=True)
    duty = rig.store.duty("2026-11-30", "S003")
    assert (duty["fit"], duty["reason"], duty["record_id"]) == (True, "rectification", fix.id)
    rig.advance(600)
    rig.badge(WANG)
    rig.temperature(36.6)  # a passing check after the rectification: fit, not "excluded earlier"
    assert rig.records("staff_health_check")[-1]["data"]["fit_for_duty"] is True
    rig.advance(600)
    rig.badge(WANG)
    rig.temperature(38.1)  # a new fever: unfit again
    assert rig.store.duty("2026-11-30", "S003")["fit"] is False
    rig.close()


# --- over HTTP: the sample discard page and the installer's doctor ----------------------------


class Http:
    """A client without a browser: cookies kept, redirects followed, each page's CSRF token kept."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: list[tuple[str, str]], csrf: bool = True) -> tuple[int, str]:
        body = urllib.parse.urlencode([("csrf", self.csrf)] * csrf + fields).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, method="POST"))

    def post_files(self, path: str, fields: list[tuple[str, str]],
                   files: dict[str, tuple[str, bytes]]) -> tuple[int, str]:
        """A multipart form (a photo or a document with the fields)."""
        boundary = "----canteen-test-boundary"
        parts = []
        for name, value in [("csrf", self.csrf), *fields]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                         .encode())
        for name, (filename, content) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._open(request)

    def log_in(self, name: str, password: str) -> None:
        self.get("/login")
        status, text = self.post("/login", [("name", name), ("password", password)])
        assert status == 200 and "/logout" in text, "login failed"

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as refused:
            status, text = refused.code, refused.read().decode("utf-8")
        token = re.search(r'name="csrf" value="([^"]+)"', text)
        self.csrf = token.group(1) if token else self.csrf
        return status, text


MANAGER, INSTALLER, PASSWORD = "boss", "fitter", "kitchen-secret-1"


def start_console(agent: Agent, *also: str) -> str:
    for component in agent.components:
        if component.name in ("console", *also):
            agent.supervisor.start(component)
    assert agent.console.server is not None and agent.console.server.started.wait(10)
    add_user(agent.store, MANAGER, "manager", PASSWORD, T0)
    add_user(agent.store, INSTALLER, "installer", PASSWORD, T0)
    return f"http://127.0.0.1:{agent.console.server.port}"


def sample(agent: Agent, meal: str, dish: str, at: datetime) -> str:
    keep = timedelta(hours=agent.config.rules.food_sample.keep_hours)
    saved = agent.recorder.record(FoodSample(meal=meal, dish=dish, grams=150.0, min_grams=125.0, sampled_at=at,
                                             kept_until=at + keep), occurred_at=at)
    return saved.id


@pytest.fixture
def kitchen_console(tmp_path):
    """A real agent on a manual clock (07:30, 30 Nov) serving its console; lunch samples of
    the 27th (past their keep time) and dinner samples of the 29th (kept until 1 Dec 17:10)."""
    config = make_config(tmp_path, console={"enabled": True, "port": 0})
    clock = ManualClock(T0)
    agent = Agent(config, now=clock, clock=ClockMonitor(lambda: (True, "test")))
    lunch = [sample(agent, "lunch", dish, datetime(2026, 11, 27, 11, 40 + n, tzinfo=TZ))
             for n, dish in enumerate(("米饭", "番茄炒蛋"))]
    sample(agent, "dinner", "青菜", datetime(2026, 11, 29, 17, 10, tzinfo=TZ))
    url = start_console(agent)
    yield agent, Http(url), lunch
    agent.stop()


def discards(agent: Agent) -> list[dict]:
    return list(agent.store.iter_records(type_="sample_discard"))


def test_the_sample_page_discards_only_past_the_keep_time_and_writes_the_record(kitchen_console):
    agent, client, lunch_ids = kitchen_console
    client.log_in(MANAGER, PASSWORD)
    status, today = client.get("/manager/today")
    assert status == 200 and 'href="/manager/samples"' in today  # the overdue discard links to the page
    status, text = client.get("/manager/samples")
    assert status == 200 and "留样销毁" in text
    assert 'name="batch" value="2026-11-27:lunch"' in text  # past its keep time: may be ticked
    assert 'name="batch" value="2026-11-29:dinner"' not in text  # inside it: no box to tick
    dinner_row = re.search(r'<tr class="kept" data-batch="2026-11-29:dinner">.*?</tr>', text, re.S)
    assert dinner_row and "还需留存 33.7 h" in dinner_row.group(0) and "12-01 17:10" in dinner_row.group(0)
    assert "米饭" in text and "11-27 11:40" in text

    who = [("discarded_by", "李四"), ("action", "selected")]
    for fields, status_wanted, refusal in (
            ([("batch", "2026-11-29:dinner"), *who], 409, "未满留样时间，暂不能销毁"),  # posted by hand
            ([("batch", "2026-11-27:lunch"), ("batch", "2026-11-29:dinner"), *who], 409, "未满留样时间"),
            ([("batch", "2026-11-20:lunch"), *who], 400, "未找到所选留样"),
            ([("batch", "../../etc"), *who], 400, "未找到所选留样"),
            ([("batch", "2026-11-27:lunch"), ("action", "selected")], 400, "请填写销毁人"),
            ([("discarded_by", "李四"), ("remark", "x" * 501), ("batch", "2026-11-27:lunch")], 400, "备注太长"),
            (who, 400, "请选择要销毁的留样")):
        status, text = client.post("/manager/samples", fields)
        assert (status, refusal in text) == (status_wanted, True), fields
        assert discards(agent) == [], f"{fields} changed something"
    status, text = client.post("/manager/samples", [("batch", "2026-11-27:lunch"), *who], csrf=False)
    assert status == 403 and "表单已失效" in text and discards(agent) == []

    status, text = client.post("/manager/samples", [("batch", "2026-11-27:lunch"), ("discarded_by", "李四"),
                                                    ("remark", "倒入餐厨垃圾桶，王主管见证"), ("action", "selected")])
    assert status == 200 and "已保存：留样销毁已记录" in text
    assert re.search(r'<tr class="discarded" data-batch="2026-11-27:lunch">.*?07:30 · <span class="name">李四', text, re.S)
    [record] = discards(agent)
    assert record["data"]["meal"] == "lunch" and record["data"]["sampled_on"] == "2026-11-27"
    assert record["data"]["samples"] == 2 and record["data"]["sample_ids"] == lunch_ids
    assert record["data"]["kept_hours"] == 67.82  # from the last sample, 11:41 on the 27th, to 07:30 on the 30th
    assert (record["data"]["discarded_by"], record["data"]["remark"]) == ("李四", "倒入餐厨垃圾桶，王主管见证")
    assert record["operator"]["staff_id"] == MANAGER and record["_delivered_at"] is None  # queued for the platform
    assert SchemaValidator().problem("sample_discard", {k: v for k, v in record.items() if k != "_delivered_at"}) \
        is None
    # the reminder reads the same confirmation: nothing left overdue
    assert [i for i in what_is_due(agent.store, agent.config, T0) if i.duty == "sample_discard"
            and not i.is_done] == []

    status, text = client.post("/manager/samples", [("batch", "2026-11-27:lunch"), *who])
    assert status == 409 and "已销毁过，未重复记录" in text and len(discards(agent)) == 1
    status, text = client.post("/manager/samples", [("discarded_by", "李四"), ("action", "all")])
    assert status == 400 and "目前没有可销毁的留样" in text and len(discards(agent)) == 1

    installer = Http(client.base)
    installer.log_in(INSTALLER, PASSWORD)
    assert installer.get("/manager/samples")[0] == 200  # an installer may look
    agent.now.advance(36 * 3600)  # the dinner samples' keep time is over now
    status, text = installer.post("/manager/samples", [("discarded_by", "x"), ("action", "all")])
    assert status == 403 and "只有主管或食安工作人员可以登记此项" in text and len(discards(agent)) == 1
    status, text = client.post("/manager/samples", [("discarded_by", "李四"), ("action", "all")])
    assert status == 200 and "已保存" in text
    assert [r["data"]["meal"] for r in discards(agent)] == ["lunch", "dinner"]


def test_the_cli_and_the_page_keep_a_keep_time_raised_since_sampling(tmp_path):
    config = make_config(tmp_path)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, lambda: T0, ClockMonitor(lambda: (True, "test")))
        at = datetime(2026, 11, 27, 11, 40, tzinfo=TZ)
        recorder.record(FoodSample(meal="lunch", dish="米饭", grams=150.0, min_grams=125.0, sampled_at=at,
                                   kept_until=at + timedelta(hours=48)), occurred_at=at)
        stricter = make_config(tmp_path, rules={"food_sample": {"keep_hours": 96}})
        batch = sample_batch(store, stricter, date(2026, 11, 27), "lunch")
        assert batch is not None and batch.kept_until == at + timedelta(hours=96)
        with pytest.raises(DiscardRefused) as refused:
            discard(store, recorder, stricter, date(2026, 11, 27), "lunch", T0, source=pages_meals.CONSOLE_SOURCE,
                    operator=None, discarded_by="李四")
        assert refused.value.reason == "too_early" and "must be kept 96 h" in str(refused.value)
        assert [i for i in what_is_due(store, stricter, T0) if i.duty == "sample_discard"] == []
        assert [i.duty for i in what_is_due(store, config, T0) if i.duty == "sample_discard"] == ["sample_discard"]
        assert list(store.iter_records(type_="sample_discard")) == []


class CountingGateway(TcpGatewayServer):
    """The simulated Modbus TCP gateway, counting the masters that connect to it."""

    connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await super()._serve(reader, writer)


@pytest.fixture
def gateway():
    loop = asyncio.new_event_loop()
    server = CountingGateway(build_bus(ScenarioClock(), load_profiles(),
                                       [SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel())]))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.disconnect(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


BROKER_SECRET, CAMERA_SECRET = "broker-secret-42", "cam-pass-77"


def test_the_installer_runs_the_doctor_beside_the_running_agent(tmp_path, gateway):
    master, slave = os.openpty()
    broker = Broker(tmp_path / "broker", users={"test-agent": BROKER_SECRET}).start()
    (tmp_path / "broker.pw").write_text(BROKER_SECRET)
    data = {
        "identity": {"agent_id": "test-agent", "school_id": "5101040042", "canteen_id": "k1"},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "console": {"enabled": True, "port": 0},
        "broker": {"host": "127.0.0.1", "port": broker.port, "username": "test-agent",
                   "password_file": str(tmp_path / "broker.pw"), "reconnect_min_s": 0.2, "reconnect_max_s": 1},
        "devices": [{"id": "thermo-1", "kind": "ir_thermometer", "protocol": "gy90615", "port": os.ttyname(slave)}],
        "modbus": [{"kind": "modbus_tcp", "id": "gw-1", "host": "127.0.0.1", "port": gateway.port,
                    "devices": [{"id": "fridge-1", "profile": "xy-md02", "slave": 1, "role": "fridge",
                                 "poll_s": 1}]}],
        "cameras": [{"id": "cam-1", "url": f"rtsp://admin:{CAMERA_SECRET}@127.0.0.1:9/Streaming/Channels/102"}],
        "vision": {"enabled": False},
    }
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    agent = Agent(load_config(path), config_path=path)
    try:
        base = start_console(agent, "reading-bus", "uplink", "modbus")
        wait_until(lambda: agent.devices.snapshot().get("fridge-1", {}).get("state") == "ok", message="fridge ok")
        wait_until(lambda: agent._uplink is not None and agent._uplink.connected.is_set(), message="uplink")
        manager = Http(base)
        manager.log_in(MANAGER, PASSWORD)
        for status, text in (manager.get("/installer/doctor"), manager.post("/installer/doctor", [])):
            assert status == 403 and "只有安装人员可以运行自检" in text
        assert 'href="/installer/doctor"' not in manager.get("/installer/devices")[1]

        installer = Http(base)
        installer.log_in(INSTALLER, PASSWORD)
        status, text = installer.get("/installer/doctor")
        assert status == 200 and "代理启动后尚未运行自检" in text and "data-check=" not in text  # not on page load
        assert installer.post("/installer/doctor", [], csrf=False)[0] == 403
        assert agent.console.server.console.doctor.latest is None
        status, text = installer.post("/installer/doctor", [])
        assert status == 200 and "运行于" in text
        rows = dict(re.findall(r'data-check="([^"]+)"><td>[^<]*</td><td class="status">(\w+)<', text))
        assert {k: rows[k] for k in ("config", "serial thermo-1", "modbus fridge-1", "broker tcp", "broker mqtt")} \
            == dict.fromkeys(("config", "serial thermo-1", "modbus fridge-1", "broker tcp", "broker mqtt"), "OK")
        assert rows["camera cam-1"] == "WARN" and {"clock", "disk", "models"} <= set(rows)
        fridge = re.search(r'data-check="modbus fridge-1">.*?</tr>', text, re.S)
        assert fridge and "live from the running agent, not opened by the doctor: ok" in fridge.group(0)
        assert "session is connected" in text and str(path) in text
        for secret in (BROKER_SECRET, CAMERA_SECRET, "admin:"):
            assert secret not in text, f"{secret!r} is on the page"
        # nothing was taken from the agent: one Modbus master, its MQTT session still up
        assert gateway.connections == 1
        assert agent._uplink is not None and agent._uplink.connected.is_set()
        assert "as test-agent" in broker.log_path.read_text()  # the agent's session ...
        assert broker.log_path.read_text().count("New client connected") == 1  # ... and no second one
    finally:
        agent.stop()
        broker.stop()
        os.close(master)
        os.close(slave)


def test_a_console_port_held_by_another_program_is_one_line_a_retry_and_a_doctor_row(tmp_path, caplog):
    """Issue 21: a busy port logged a full OSError traceback on every retry; the doctor had no row."""
    from agent.ops.doctor.checks import DoctorOptions
    from agent.ops.doctor.run import run_checks

    caplog.set_level(logging.INFO)
    other = socket.create_server(("127.0.0.1", 0))  # another program holds the port
    port = other.getsockname()[1]
    config = make_config(tmp_path, console={"enabled": True, "port": port})
    [row] = [c for c in run_checks(config, DoctorOptions()) if c.name == "console"]
    assert row.status == "FAIL" and "another program listens there" in row.detail and f"sport = :{port}" in row.fix
    agent = Agent(config, now=ManualClock(T0), clock=ClockMonitor(lambda: (True, "test")))
    agent.supervisor._min = 0.05  # retry soon
    try:
        start_console_component = next(c for c in agent.components if c.name == "console")
        agent.supervisor.start(start_console_component)
        wait_until(lambda: sum("component down name=console" in r.getMessage() for r in caplog.records) >= 2,
                   message="two refused attempts")
        down = [r for r in caplog.records if "component down name=console" in r.getMessage()]
        assert all(r.exc_info is None for r in down), "a traceback for a port in use"
        assert f"cannot listen on 127.0.0.1:{port}" in down[0].getMessage() and "Address already in use" in \
            down[0].getMessage()
        assert not any("component failed name=console" in r.getMessage() for r in caplog.records)
        other.close()  # the other program goes away: the console comes up on the next retry
        assert agent.console.server is not None and agent.console.server.started.wait(10)
        live = DoctorOptions(live_devices={}, agent_connected=None)
        [row] = [c for c in run_checks(config, live) if c.name == "console"]
        assert row.status == "OK" and "answers on" in row.detail
    finally:
        other.close()
        agent.stop()
