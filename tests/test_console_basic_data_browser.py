"""The school end's own data and people in a real browser (Debian's chromium via
Playwright) against a real agent with simulated devices and the reference platform on a
real Mosquitto: the data administrator adds a cook whose badge works at the morning check
at once and whose health certificate warns on today's page; the ``basic_data`` record
reaches the platform (which validates it against its schema); oversight reads every page
and is refused every write but verification; the installer sees no health certificate; a
fridge's maintenance and a thermometer's calibration show on their asset pages, become
records on the platform and warnings."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.console.auth import User, add_user
from agent.console.roles import may
from tests.conftest import REPO
from tests.fixtures_console import (  # noqa: F401
    MANAGER,
    MORNING,
    PASSWORD,
    STATION,
    Kitchen,
    broker_fixture,
    browser_fixture,
    kitchen_fixture,
    platform_fixture,
    screenshot,
    wait_until,
)
from tests.helpers.untranslated import page_offences
from tests.test_console_roles import filled, guard_of, routes

pytestmark = pytest.mark.timeout(180)
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1100, "height": 900}
STATION_SCREEN = {"width": 1024, "height": 600}
TODAY = MORNING.date()
ACCOUNTS = {"data_admin": "admin-liu", "oversight": "bureau-chen", "installer": "fitter-wu"}
NEW_BADGE = "0004200020"
CERT_NO = "HC510100-2026-0020"


def jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((60, 90, 3), (180, 200, 220), np.uint8))
    assert ok
    return data.tobytes()


def accounts(kitchen: Kitchen) -> None:
    for role, name in ACCOUNTS.items():
        add_user(kitchen.agent.store, name, role, PASSWORD, MORNING)


def log_in(browser, kitchen: Kitchen, name: str, viewport: dict | None = None):
    page = browser.new_page(viewport=viewport or PHONE, locale="zh-CN")
    page.goto(f"{kitchen.url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("nav.top")
    return page


def add_cook(page, kitchen: Kitchen, tmp_path: Path) -> None:
    photo = tmp_path / "cert.jpg"
    photo.write_bytes(jpeg())
    page.goto(f"{kitchen.url}/admin/staff")
    form = page.locator("#staff-form")
    form.locator("input[name=staff_id]").fill("S020")
    form.locator("input[name=name]").fill("赵厨")
    form.locator("select[name=post]").select_option("cook")
    form.locator("input[name=badges]").fill(NEW_BADGE)
    form.locator("input[name=health_cert_no]").fill(CERT_NO)
    form.locator("input[name=health_cert_valid_until]").fill((TODAY + timedelta(days=10)).isoformat())
    form.locator("input[name=health_cert_photo]").set_input_files(str(photo))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("p.ok")


def test_a_new_cook_badges_at_once_warns_on_today_and_reaches_the_platform(browser, kitchen, platform, tmp_path):
    accounts(kitchen)
    admin = log_in(browser, kitchen, ACCOUNTS["data_admin"], WIDE)
    # bad input first: a certificate already expired, a badge someone holds; nothing is stored
    admin.goto(f"{kitchen.url}/admin/staff")
    form = admin.locator("#staff-form")
    form.locator("input[name=staff_id]").fill("S020")
    form.locator("input[name=name]").fill("赵厨")
    form.locator("input[name=badges]").fill("0004212345")  # 张三's
    form.locator("input[name=health_cert_valid_until]").fill((TODAY - timedelta(days=3)).isoformat())
    form.locator("button[type=submit]").click()
    assert "已过期的证照不能录入" in admin.inner_text(".error")
    form = admin.locator("#staff-form")
    form.locator("input[name=health_cert_valid_until]").fill((TODAY + timedelta(days=10)).isoformat())
    form.locator("button[type=submit]").click()
    assert "工卡已被他人使用" in admin.inner_text(".error") and "S001" in admin.inner_text(".error")
    assert kitchen.agent.store.basic_data("staff", "S020") is None

    add_cook(admin, kitchen, tmp_path)
    facts = admin.inner_text("#person")
    assert CERT_NO in facts and "10" in admin.inner_text("#cert-until")
    assert admin.locator("#person img.thumb").count() == 1  # the certificate's photo
    assert "新增" in admin.inner_text("#history")
    assert page_offences(admin) == []
    admin.goto(f"{kitchen.url}/admin/staff")
    assert "赵厨" in admin.inner_text("tr[data-staff=S020]")
    screenshot(admin, "admin-staff")

    # the badge works at the morning check at once
    station = browser.new_page(viewport=STATION_SCREEN, locale="zh-CN")
    station.goto(f"{kitchen.url}/station/{STATION}")
    station.wait_for_selector("#link.link-up")
    kitchen.check(NEW_BADGE, 36.6)
    station.wait_for_selector("body.verdict-pass", timeout=8000)
    assert station.inner_text("#name") == "赵厨"

    # today's page warns about the certificate
    manager = log_in(browser, kitchen, MANAGER)
    manager.goto(f"{kitchen.url}/manager/today")
    assert re.search(r"健康证.*赵厨 \(S020\).*剩 10 天", manager.inner_text("main"))

    # the record reached the platform, which validated it against its schema
    [record] = wait_until(lambda: [r for r in platform.records(type="basic_data")
                                   if r["data"]["entity_id"] == "S020"], message="basic_data on the platform")
    assert record["data"]["staff"]["health_cert_no"] == CERT_NO and record["data"]["entered_by"] == ACCOUNTS[
        "data_admin"]
    assert [m["role"] for m in record["media"]] == ["photo"]
    assert platform.invalid == 0


def test_oversight_reads_every_page_and_is_refused_every_other_write(browser, kitchen, tmp_path):
    accounts(kitchen)
    admin = log_in(browser, kitchen, ACCOUNTS["data_admin"], WIDE)
    add_cook(admin, kitchen, tmp_path)
    oversight = log_in(browser, kitchen, ACCOUNTS["oversight"])
    user = User(ACCOUNTS["oversight"], "oversight")
    pages = [p for p in routes("GET") if "{" not in p and p not in ("/", "/login")
             and not p.endswith((".csv", ".jsonl"))] + ["/admin/staff/S020", "/admin/assets/thermo-1"]
    for path in pages:
        answer = oversight.goto(f"{kitchen.url}{path}")
        wanted = 403 if path in ("/admin/accounts", "/installer/doctor") else 200
        assert answer is not None and answer.status == wanted, (path, answer.status if answer else None)
    oversight.goto(f"{kitchen.url}/admin/staff/S020")
    assert CERT_NO in oversight.inner_text("#person")  # oversight reads personal data
    assert oversight.locator("#edit-form").count() == 0  # and is offered no form to change it
    token = oversight.locator("input[name=csrf]").first.get_attribute("value")
    before = kitchen.agent.store.last_seq()
    for path in routes("POST"):
        if path in ("/login", "/logout"):
            continue
        if may(user, guard_of(path)):
            continue  # verifying 整改: oversight's one write
        answer = oversight.request.post(f"{kitchen.url}{filled(path)}", form={"csrf": token, "name": "x"})
        assert answer.status == 403, (path, answer.status)
    assert kitchen.agent.store.last_seq() == before


def test_an_installer_sees_no_health_certificate(browser, kitchen, tmp_path):
    accounts(kitchen)
    admin = log_in(browser, kitchen, ACCOUNTS["data_admin"], WIDE)
    add_cook(admin, kitchen, tmp_path)
    photo = kitchen.agent.store.basic_data("staff", "S020")["value"]["health_cert_photo"]
    fitter = log_in(browser, kitchen, ACCOUNTS["installer"])
    for path in ("/admin/staff", "/admin/staff/S020", "/manager/today", "/manager/records", "/manager/alarms"):
        fitter.goto(f"{kitchen.url}{path}")
        text = fitter.inner_text("main")
        assert CERT_NO not in text and "健康证" not in text, path
        assert (TODAY + timedelta(days=10)).isoformat() not in text, path
    fitter.goto(f"{kitchen.url}/admin/staff")
    assert "赵厨" in fitter.inner_text("#staff")  # names, nothing more
    assert fitter.goto(f"{kitchen.url}/manager/media/{photo}").status == 403


def test_a_fridge_maintenance_and_a_thermometer_calibration_show_on_their_pages_with_records_and_warnings(
        browser, kitchen, platform, tmp_path):
    accounts(kitchen)
    admin = log_in(browser, kitchen, ACCOUNTS["data_admin"], WIDE)
    admin.goto(f"{kitchen.url}/admin/assets")
    assert "thermo-1" in admin.inner_text("tr[data-asset=thermo-1]")  # a device the agent knows: by itself
    assert "正常" in admin.inner_text("tr[data-asset=thermo-1]")  # with its live health
    form = admin.locator("#asset-form")
    form.locator("input[name=asset_id]").fill("fridge-2")
    form.locator("input[name=name]").fill("二号冷藏柜")
    form.locator("select[name=category]").select_option("fridge")
    form.locator("input[name=location]").fill("粗加工间")
    form.locator("button[type=submit]").click()
    admin.wait_for_selector("p.ok")
    photo = tmp_path / "fridge.jpg"
    photo.write_bytes(jpeg())
    entry = admin.locator("#maintenance-form")
    entry.locator("select[name=work]").select_option("maintenance")
    entry.locator("input[name=work_done]").fill("清洗冷凝器，更换门封条")
    entry.locator("input[name=done_by]").fill("海尔售后 王师傅")
    entry.locator("input[name=next_due]").fill((TODAY + timedelta(days=5)).isoformat())
    entry.locator("input[name=photo]").set_input_files(str(photo))
    entry.locator("button[type=submit]").click()
    admin.wait_for_selector("p.ok")
    assert "清洗冷凝器" in admin.inner_text("#maintenance-log")
    assert (TODAY + timedelta(days=5)).isoformat() in admin.inner_text("#maintenance-due")
    assert admin.locator("#maintenance-log img.thumb").count() == 1
    screenshot(admin, "admin-asset")

    admin.goto(f"{kitchen.url}/admin/assets/thermo-1")
    edit = admin.locator("#asset-edit")
    edit.locator("input[name=name]").fill("晨检额温仪")
    edit.locator("select[name=category]").select_option("thermometer")
    edit.locator("input[name=calibrated_on]").fill("2025-12-20")
    edit.locator("input[name=calibration_due]").fill((TODAY + timedelta(days=20)).isoformat())
    edit.locator("button[value=save]").click()
    admin.wait_for_selector("p.ok")
    assert (TODAY + timedelta(days=20)).isoformat() in admin.inner_text("#calibration-due")
    assert "20" in admin.inner_text("#calibration-due")
    assert page_offences(admin) == []
    admin.goto(f"{kitchen.url}/admin/assets")
    screenshot(admin, "admin-assets")

    [maintenance] = wait_until(lambda: platform.records(type="asset_maintenance"), message="maintenance on the platform")
    assert maintenance["data"]["asset_id"] == "fridge-2" and maintenance["data"]["done_by"] == "海尔售后 王师傅"
    wait_until(lambda: [r for r in platform.records(type="basic_data") if r["data"]["entity_id"] == "thermo-1"],
               message="the thermometer's calibration on the platform")
    kitchen.agent.schedule_engine.tick(kitchen.clock())
    due = {("maintenance", "fridge-2"), ("calibration", "thermo-1")}

    def due_warnings() -> set[tuple[str, str]] | None:
        # the two alarms are separate records: wait for both, not for the first to arrive
        seen = {(r["data"]["subject"]["what"], r["data"]["subject"]["id"]) for r in platform.records(type="alarm")
                if r["data"]["kind"] == "expiry_warning"
                and r["data"]["subject"]["what"] in ("maintenance", "calibration")}
        return seen if seen >= due else None

    assert wait_until(due_warnings, message="both due warnings on the platform") == due
    manager = log_in(browser, kitchen, MANAGER)
    manager.goto(f"{kitchen.url}/manager/today")
    text = manager.inner_text("main")
    assert "设备维保" in text and "二号冷藏柜" in text and "计量器具检定" in text and "晨检额温仪" in text
    assert platform.invalid == 0


def test_readme_shows_the_staff_and_asset_pages():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("console-admin-staff.png", "console-admin-asset.png"):
        assert f"docs/{name}" in readme and (REPO / "docs" / name).is_file(), name


