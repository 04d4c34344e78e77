"""The social end in Chromium (Debian's, through Playwright), with the real agent and the
reference platform: a representative on a phone, an anonymous complaint from the QR code
accepted by the supervisor on the console, and the survey's chart."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from agent.console.auth import add_user
from agent.core.recorder import Photo
from agent.records.food_sample import FoodSample
from agent.records.menu_plan import MenuDishPlan, MenuIngredient, MenuPlan, Nutrients
from agent.social.surveys import parse_questions
from tests.fixtures_console import (  # noqa: F401
    MORNING,
    browser_fixture,
    screenshot,
)
from tests.fixtures_mqtt import wait_until
from tests.fixtures_public import Device, broker_fixture, platform_fixture, public_kitchen_fixture  # noqa: F401
from tests.fixtures_serial_stations import WANG
from tests.helpers.untranslated import page_offences
from tests.test_console_browser import log_in
from tests.test_public import jpeg

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN"}
DOCS = Path(__file__).resolve().parent.parent / "docs"
ADMIN, ADMIN_PASSWORD = "ziliao", "data-admin-secret-1"  # the school's data administrator (食安资料管理员)


def test_a_representative_on_a_phone_sees_the_menu_samples_and_rate_but_no_name_beside_a_temperature(
        browser, public_kitchen):
    kitchen = public_kitchen
    kitchen.check(WANG, 37.9)  # 王五 has a fever: off duty today
    [check] = wait_until(lambda: list(kitchen.agent.store.iter_records(type_="staff_health_check")),
                         message="the morning check")
    assert check["verdict"] == "fail" and check["data"]["name"] == "王五"
    sample = kitchen.agent.recorder.record_with_photo(
        FoodSample(meal="lunch", dish="番茄炒蛋", grams=131.0, min_grams=125, sampled_at=MORNING,
                   kept_until=MORNING + timedelta(hours=48)), Photo(jpeg(), "image/jpeg", ".jpg"))
    for day, dishes, kcal in ((MORNING.date(), ["番茄炒蛋", "米饭"], 712.0),  # today's lunch, planned (带量食谱)
                              (MORNING.date() + timedelta(days=1), ["红烧肉", "青菜"], 805.0)):  # tomorrow's
        kitchen.agent.recorder.record(MenuPlan(
            day=day, meal="lunch", age_group="9-11", energy_target_kcal=(630, 880),
            dishes=[MenuDishPlan(name=d, ingredients=[MenuIngredient(item="大米", grams=100)]) for d in dishes],
            per_portion=Nutrients(energy_kcal=kcal, protein_g=24.5, fat_g=21.0, carbohydrate_g=98.2)))
    code, _invite = kitchen.console.console.invites.issue("李家长", "parent", 30, "boss", MORNING)

    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.goto(kitchen.public_url + "/public/")
    phone.click("text=输入邀请码")
    phone.fill("input[name=code]", code)
    phone.click("button[type=submit]")
    phone.wait_for_url("**/public/view")
    assert "番茄炒蛋" in phone.inner_text("#menu") and "米饭" in phone.inner_text("#menu")
    assert phone.inner_text("header p") == ""  # no canteen profile entered yet: no identifier instead
    assert phone.inner_text("#morning-rate") == "20%" and "1/5" in phone.inner_text("#morning-check")  # 5 on duty
    assert "不合格停岗 sent off duty: 1" in phone.inner_text("#morning-check")
    assert "晨检 Morning checks\t1/5" in phone.inner_text("#duties")
    assert "每份 per portion 712 kcal（目标 target 630–880 ✓）" in phone.inner_text("#menu")
    assert "12-01 午餐：红烧肉、青菜（805 kcal）" in phone.inner_text("#week")
    image = phone.locator("#samples img")
    assert image.count() == 1 and sample.id not in phone.content()
    assert phone.evaluate("img => img.complete && img.naturalWidth > 0", image.element_handle())
    html = phone.content()
    for secret in ("张三", "王五", "37.9", "37.8", "S001", "S003", "李家长", "°C", "发热", "fever"):
        assert secret not in html, f"{secret!r} on the public page"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    assert page_offences(phone) == []
    shot = screenshot(phone, "public-view-phone")
    phone.screenshot(path=str(shot), full_page=False)
    shutil.copyfile(shot, DOCS / "public-phone.png")
    context.close()


def test_an_anonymous_complaint_with_a_photo_is_accepted_and_its_receipt_shows_the_task(
        browser, public_kitchen, platform, tmp_path):
    kitchen = public_kitchen
    photo = tmp_path / "tray.jpg"
    photo.write_bytes(jpeg())
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.goto(kitchen.public_url + "/public/complain?c=k1")
    phone.select_option("select[name=category]", "hygiene")
    phone.fill("textarea[name=text]", "餐盘有油渍，没洗干净")
    phone.set_input_files("input[name=photo]", str(photo))
    phone.click("button[type=submit]")
    receipt = phone.inner_text("#receipt")
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", receipt)
    assert phone.get_attribute("#state", "data-state") == "received"
    [record] = wait_until(lambda: platform.records(type="public_complaint"), message="the complaint on the platform")
    assert record["data"]["category"] == "hygiene" and record["media"][0]["role"] == "photo"
    wait_until(lambda: [m for m in platform.media_files() if m["id"] == record["media"][0]["id"]],
               message="the photo on the platform")

    manager = log_in(browser, kitchen)
    manager.goto(kitchen.url + "/manager/complaints")
    card = manager.locator(f"article.complaint[data-complaint='{record['id']}']")
    assert "餐盘有油渍" in card.inner_text() and card.locator("img").count() == 1
    card.locator("select[name=decision]").select_option("accepted")
    card.locator("textarea[name=reply]").fill("已受理，餐具重新清洗消毒")
    card.locator("button[type=submit]").click()
    manager.wait_for_selector("p.ok")
    assert manager.get_attribute(f"article.complaint[data-complaint='{record['id']}']", "data-state") == "accepted"
    [response] = wait_until(lambda: platform.records(type="complaint_response"), message="the answer on the platform")
    task = response["data"]["task_id"]
    assert task and response["data"]["decision"] == "accepted"
    [opened] = wait_until(lambda: [t for t in platform.records(type="rectification_task")
                                   if t["data"]["task_id"] == task], message="the task on the platform")
    assert opened["data"]["source_type"] == "complaint" and opened["data"]["source_id"] == record["id"]

    phone.goto(kitchen.public_url + "/public/receipt")
    phone.fill("input[name=code]", receipt.lower())
    phone.click("button[type=submit]")
    assert phone.get_attribute("#state", "data-state") == "accepted"
    assert "已受理，餐具重新清洗消毒" in phone.inner_text("#state")
    assert page_offences(phone) == [] and page_offences(manager) == []
    screenshot(phone, "public-receipt")

    # the supervisor carries out the task on the tasks page: the receipt reads 已整改
    manager.goto(f"{kitchen.url}/manager/tasks/{task}")
    manager.fill("textarea[name=action]", "全部餐盘回收重洗，消毒柜检修")
    manager.click("form.task-done button")
    manager.wait_for_selector("p.ok")
    wait_until(lambda: [t for t in platform.records(type="rectification_task")
                        if t["data"]["task_id"] == task and t["data"]["step"] == "done"], message="done on the platform")
    phone.reload()
    assert phone.get_attribute("#state", "data-state") == "rectified"
    context.close()


def test_fifty_phones_answer_the_survey_and_the_console_charts_it(browser, public_kitchen, platform):
    kitchen = public_kitchen
    survey = kitchen.console.console.surveys.define("2026秋季满意度", "2026秋",
                                                    parse_questions("饭菜口味\n卫生\n?建议"), "boss", MORNING)
    for n in range(49):  # 49 devices over HTTP, the 50th in the browser
        device = Device(kitchen.public_url)
        form = device.get(f"/public/survey/{survey.id}")
        assert device.post(f"/public/survey/{survey.id}", {"csrf": form.csrf(), "q1": str(n % 5 + 1),
                                                          "q2": "5", "q3": ""}).status == 200
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.goto(f"{kitchen.public_url}/public/survey/{survey.id}")
    phone.check("input[name=q1][value='5']")
    phone.check("input[name=q2][value='4']")
    phone.fill("textarea[name=q3]", "希望多些蔬菜")
    phone.click("button[type=submit]")
    assert "感谢" in phone.inner_text("main")
    phone.goto(f"{kitchen.public_url}/public/survey/{survey.id}")  # the same phone again
    assert "已提交过" in phone.inner_text("main")
    context.close()

    # surveys and invite codes are the data administrator's (the supervisor answers complaints)
    add_user(kitchen.agent.store, ADMIN, "data_admin", ADMIN_PASSWORD, MORNING)
    manager = log_in(browser, kitchen, ADMIN_PASSWORD, ADMIN)
    manager.goto(kitchen.url + "/manager/surveys")
    card = manager.locator(f"article.survey[data-survey='{survey.id}']")
    assert "50" in card.locator("h2").inner_text()
    assert card.locator("svg.chart").count() == 2 and card.locator("svg.chart rect").count() == 10
    assert "希望多些蔬菜" in card.inner_text()  # free text stays on the box, readable here
    screenshot(manager, "console-survey")
    assert page_offences(manager) == []
    manager.goto(kitchen.url + "/manager/invites")
    manager.fill("input[name=name]", "李家长")
    manager.click("button:has-text('生成邀请码')")
    assert re.fullmatch(r"([2-9A-Z]{5}-){3}[2-9A-Z]{5}", manager.inner_text("#new-code"))
    assert page_offences(manager) == []
    manager.goto(kitchen.url + "/manager/surveys")
    card = manager.locator(f"article.survey[data-survey='{survey.id}']")
    card.locator("input[name=close]").check()
    card.locator("button[type=submit]").click()
    manager.wait_for_selector("p.ok")
    [summary] = wait_until(lambda: platform.records(type="survey_summary"), message="the summary on the platform")
    assert summary["data"]["responses"] == 50 and summary["data"]["closed"] is True
    assert summary["data"]["questions"][0]["counts"] == [10, 10, 10, 10, 10]
    assert summary["data"]["questions"][1]["mean"] == round((49 * 5 + 4) / 50, 2)
    assert "希望多些蔬菜" not in str(summary)


def test_the_dining_halls_qr_code_opens_the_complaint_form(browser, public_kitchen):
    kitchen = public_kitchen
    page = browser.new_page(viewport={"width": 600, "height": 900})
    page.goto(kitchen.public_url + "/public/poster")
    qr = page.locator("img[alt=QR]")
    qr.wait_for()
    shot = qr.screenshot()
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert text == kitchen.public_url + "/public/complain?c=k1"
    page.goto(text)
    assert page.locator("select[name=category]").count() == 1
    page.close()
