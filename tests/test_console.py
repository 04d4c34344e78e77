"""The console's parts without a browser: catalog, passwords, login limit, station feed,
photo checks, resolving alarms, and no health data in any log."""

from __future__ import annotations

import gettext
import logging
import re
import time
from datetime import datetime

import cv2
import numpy as np
import pytest

from agent.console import pages_alarms, pages_entries, pages_station, pages_today
from agent.console.auth import LoginLimiter, add_user, authenticate, hash_password, verify_password
from agent.console.i18n import LOCALE_DIR, mo_bytes, parse_po
from agent.console.station_feed import StationFeed
from agent.console.uploads import UploadError, check_photo
from agent.feedback import ConsoleOutput, Feedback, Message, Screen
from agent.recorder import ClockMonitor, Recorder
from agent.store import Store, StoreWriteError
from drivers.readings import TemperatureReading
from tests.conftest import REPO, TZ, make_config
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
    for table in (pages_today.DUTY, pages_today.STATE, pages_today.OUTCOME, pages_alarms.KIND, pages_alarms.STATE,
                  pages_station.KINDS, pages_station.WORDS, pages_entries.WASTE_KINDS):
        found |= set(table.values())
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
    limiter = LoginLimiter(attempts=2, window_s=0.3)
    limiter.failed("client:a", "user:boss")
    assert not limiter.blocked("client:a")
    limiter.failed("client:a", "user:boss")
    assert limiter.blocked("client:b", "user:boss") and limiter.blocked("client:a")
    assert not limiter.blocked("client:b", "user:other")
    time.sleep(0.35)
    assert not limiter.blocked("client:a", "user:boss")


# --- station screens --------------------------------------------------------------------------


def message(text: str, station: str, screen: Screen | None = None, level: str = "info") -> Message:
    return Message(text, level, station, T0, text, screen)  # type: ignore[arg-type]


def test_a_screen_holds_only_the_current_person_and_forgets_after_the_hold():
    feed = StationFeed(["mc-1", "mc-2"], hold_s=0.2)
    assert feed.current("mc-1").phase == "waiting"
    feed.show(message("张三 …", "mc-1", Screen("verdict", "张三", "36.5 °C", "pass")))
    feed.show(message("李四 请测温", "mc-1", Screen("identified", "李四")))
    state = feed.current("mc-1")
    assert (state.phase, state.name, state.reading, state.verdict) == ("identified", "李四", None, None)
    feed.show(message("李四 37.9 °C", "mc-1", Screen("verdict", "李四", "37.9 °C", "fail", "recheck"), "error"))
    assert feed.current("mc-1").next_step == "recheck"
    assert feed.current("mc-2").phase == "waiting", "a screen shows only its own station"
    feed.show(message("reminder", "schedule"))  # no screen: ignored
    time.sleep(0.25)
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


def test_resolving_links_the_alarm_clears_it_and_refuses_a_second_time(tmp_path):
    config = make_config(tmp_path)
    with Store(config.store.path, config.store.media_dir) as store:
        recorder = Recorder(config, store, lambda: T0, ClockMonitor(lambda: (True, "test")))
        raised = recorder.raise_alarm("cold_chain_high", {"device_id": "fridge-1"}, "fridge-1 warm")
        assert raised is not None
        ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
        fix = recorder.resolve_alarm(raised.id, "压缩机已维修", "boss", restore_fitness=True,
                                     photo=check_photo(jpeg.tobytes()))
        record = store.get_record(fix.id)
        assert record["type"] == "rectification" and record["data"]["alarm_id"] == raised.id
        assert record["data"]["restores_fitness"] is None  # not a fever: nobody's fitness changes
        [media] = record["media"]
        assert store.media_info(media["id"])["record_id"] == fix.id
        assert store.open_alarms() == []
        [cleared] = [r for r in store.iter_records(type_="alarm") if r["data"]["state"] == "cleared"]
        assert cleared["data"]["raised_id"] == raised.id
        with pytest.raises(LookupError):
            recorder.resolve_alarm(raised.id, "again", "boss")
        assert len(list(store.iter_records(type_="rectification"))) == 1


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
    fix = rig.recorder.resolve_alarm(alarm["id"], "复测正常，医生证明", "boss", restore_fitness=True)
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
