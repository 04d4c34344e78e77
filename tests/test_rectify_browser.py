"""整改 to the end, in a real browser (Debian's chromium) against a real agent and the reference
platform on a real Mosquitto: a failed daily-check item becomes a task, overdue on the
injected clock, done with a photo by the supervisor, verified by oversight, every step on
the platform in order; an incident filed while the broker is down overtakes a backlog;
a drill, a training session and a chlorine soak by hand."""

from __future__ import annotations

import io
from datetime import timedelta

import cv2
import numpy as np
import pytest

from agent.console.auth import add_user
from agent.records.staff_training import StaffTraining
from simulator.platform.platform import Platform
from tests.fixtures_console import (  # noqa: F401
    MANAGER,
    MORNING,
    PASSWORD,
    Kitchen,
    broker_fixture,
    browser_fixture,
    kitchen_fixture,
    platform_fixture,
    screenshot,
    wait_until,
)
from tests.fixtures_serial_stations import STAFF
from tests.helpers.untranslated import page_offences

pytestmark = pytest.mark.timeout(180)
PHONE = {"width": 390, "height": 844}
LEAD, LEAD_PASSWORD = "lead", "oversight-secret-1"


def jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 180, np.uint8))
    assert ok
    return io.BytesIO(data.tobytes()).getvalue()


def log_in(browser, kitchen: Kitchen, name: str = MANAGER, password: str = PASSWORD):
    page = browser.new_page(viewport=PHONE, locale="zh-CN")
    page.goto(f"{kitchen.url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/manager/**")
    return page


def steps_on_platform(platform, task_id: str) -> list[dict]:
    return [r for r in platform.records(type="rectification_task") if r["data"]["task_id"] == task_id]


def test_a_failed_daily_check_item_is_fixed_and_verified_and_the_platform_sees_each_step(browser, kitchen,
                                                                                      platform):
    add_user(kitchen.agent.store, LEAD, "oversight", LEAD_PASSWORD, MORNING)
    boss = log_in(browser, kitchen)
    boss.goto(f"{kitchen.url}/manager/daily-check")
    items = kitchen.agent.config.console.daily_check_items
    for n in range(len(items) - 1):
        boss.check(f"input[name=ok-{n}][value=yes]")
    boss.check(f"input[name=ok-{len(items) - 1}][value=no]")
    boss.fill(f"input[name=note-{len(items) - 1}]", "后门垃圾桶未加盖")
    boss.click("button:has-text('提交')")
    assert "已生成整改单" in boss.inner_text("p.tasks-opened")

    boss.click("nav >> text=整改")
    row = boss.locator("a.task-row")
    assert row.count() == 1 and row.get_attribute("data-state") == "opened"
    assert "后门垃圾桶未加盖" in row.inner_text() and "常规日检" in row.inner_text()
    row.click()
    task = boss.locator("article.task")
    deadline = (MORNING + timedelta(hours=24)).strftime("%m-%d %H:%M")
    assert boss.inner_text("dd.deadline") == deadline and "食堂主管" in boss.inner_text("dd.owner")
    task_id = boss.url.rsplit("/", 1)[-1]

    # the deadline passes on the agent's clock: overdue, here and as an alarm
    kitchen.clock.advance(timedelta(hours=25))
    boss.reload()
    assert task.get_attribute("data-state") == "overdue" and "已逾期" in boss.inner_text("article.task p.badge")
    report = kitchen.agent.schedule.engine.tick(kitchen.clock())
    assert f"rectification_overdue|task_id={task_id}" in report.raised
    boss.goto(f"{kitchen.url}/manager/today")
    assert "逾期整改单" in boss.inner_text("main")
    boss.goto(f"{kitchen.url}/manager/tasks/{task_id}")

    # done by the supervisor, with a photo; a bad photo is refused and nothing moves
    boss.fill("textarea[name=action]", "已加盖并安排专人检查")
    boss.locator("input[name=photo]").set_input_files(
        {"name": "fix.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"})
    boss.click("form.task-done button")
    assert "照片须为JPEG或PNG图片" in boss.inner_text(".error")
    boss.fill("textarea[name=action]", "已加盖并安排专人检查")
    boss.locator("input[name=photo]").set_input_files({"name": "fix.jpg", "mimeType": "image/jpeg",
                                                       "buffer": jpeg()})
    screenshot(boss, "task-done")
    boss.click("form.task-done button")
    boss.wait_for_selector("p.ok")
    assert task.get_attribute("data-state") == "done" and boss.locator("img.thumb").count() == 1
    assert boss.locator("form.task-check").count() == 0  # the one who did it does not verify it
    assert not [a for a in kitchen.agent.store.open_alarms() if a["kind"] == "rectification_overdue"]

    lead = log_in(browser, kitchen, LEAD, LEAD_PASSWORD)
    lead.goto(f"{kitchen.url}/manager/tasks/{task_id}")
    lead.fill("textarea[name=note]", "现场复查合格")
    lead.click("form.task-check button[value=verified]")
    lead.wait_for_selector("p.ok")
    assert lead.locator("article.task").get_attribute("data-state") == "verified"
    screenshot(lead, "task-verified")
    assert page_offences(lead) == []

    steps = wait_until(lambda: len(steps_on_platform(platform, task_id)) == 3 and steps_on_platform(platform, task_id),
                       message="three steps on the platform")
    assert [s["data"]["step"] for s in steps] == ["opened", "done", "verified"]
    assert [s["seq"] for s in steps] == sorted(s["seq"] for s in steps)
    [check] = platform.records(type="routine_daily_check")
    assert steps[0]["data"]["source_id"] == check["id"] and steps[0]["data"]["source_type"] == "routine_daily_check"
    assert steps[1]["data"]["by"] == MANAGER and steps[1]["media"][0]["role"] == "photo"
    assert steps[2]["data"]["by"] == LEAD and steps[2]["data"]["note"] == "现场复查合格"
    assert platform.rejections == []
    overdue = [a for a in platform.records(type="alarm") if a["data"]["kind"] == "rectification_overdue"]
    assert [a["data"]["state"] for a in overdue] == ["raised", "cleared"]


def test_an_incident_filed_while_the_broker_is_down_overtakes_a_backlog(browser, tmp_path, broker):
    # a durable platform: the broker keeps its subscriptions across the restart, so what
    # the agent sends first after it is queued for the platform in that order
    platform = Platform("127.0.0.1", broker.port, tmp_path / "durable.db", client_id="platform-d", durable=True).start()
    kitchen = Kitchen(tmp_path, broker.port)
    try:
        _incident_overtakes_the_backlog(browser, kitchen, broker, platform)
    finally:
        kitchen.close()
        platform.stop()


def _incident_overtakes_the_backlog(browser, kitchen: Kitchen, broker, platform: Platform) -> None:
    page = log_in(browser, kitchen)
    wait_until(lambda: kitchen.agent.uplink_capability.uplink.connected.is_set(), message="uplink connected")
    broker.stop()
    wait_until(lambda: not kitchen.agent.uplink_capability.uplink.connected.is_set(), message="uplink down")
    recorder = kitchen.agent.recorder
    pending = [kitchen.agent.store.submit_record(recorder.draft(StaffTraining(session=f"晨会 {n}", staff_id="S001",
                                                                               hours=0.5)))
               for n in range(1000)]
    backlog = {p.result(30).id for p in pending}

    page.goto(f"{kitchen.url}/manager/incidents")
    page.check("input[name=kind][value=foreign_object]")
    page.fill("textarea[name=what]", "午餐米饭中发现头发")
    page.fill("input[name=where]", "一楼餐厅")
    page.fill("input[name=people_affected]", "1")
    page.fill("textarea[name=actions_taken]", "已撤下该批米饭")
    page.locator("input[name=photo]").set_input_files({"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg()})
    page.click("form.incident button")
    page.wait_for_selector("p.ok")
    assert page.get_attribute("dd.delivery", "data-delivered") == "no" and "待上报" in page.inner_text("dd.delivery")
    screenshot(page, "incident-queued")

    broker.start()
    [incident] = wait_until(lambda: platform.records(type="incident_report"), timeout=30, message="incident")
    wait_until(lambda: len(platform.records(type="staff_training")) == 1000, timeout=60, message="backlog")
    order = [r["id"] for r in platform.store.query("SELECT id FROM records ORDER BY rowid")]
    assert order.index(incident["id"]) < min(order.index(i) for i in backlog)
    assert incident["data"]["people_affected"] == 1 and incident["media"][0]["role"] == "photo"
    assert platform.rejections == []
    wait_until(lambda: kitchen.agent.store.delivered_at(incident["id"]), message="ack applied")
    page.reload()
    assert page.get_attribute("dd.delivery", "data-delivered") == "yes" and "已上报" in page.inner_text("dd.delivery")
    [task] = wait_until(lambda: platform.records(type="rectification_task"), message="its task")
    assert task["data"]["source_id"] == incident["id"]


def test_a_drill_a_training_session_and_a_chlorine_soak_by_hand(browser, kitchen, platform):
    page = log_in(browser, kitchen)
    cook, other = STAFF[0], STAFF[1]
    page.goto(f"{kitchen.url}/manager/drills")
    page.fill("input[name=scenario]", "燃气泄漏应急预案")
    page.fill("input[name=minutes]", "30")
    page.fill("textarea[name=badges]", f"{cook['badges'][0]}\n{other['badges'][0]}")
    page.fill("textarea[name=findings]", "疏散通道堆放杂物")
    photo = page.locator("form.drill input[name=photo]")
    photo.set_input_files({"name": "fake.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture"})
    page.click("form.drill button")
    page.wait_for_selector("p.error")  # a renamed file is refused in words, nothing is recorded
    assert kitchen.agent.store.latest_records(type_="drill", limit=5) == []
    page.fill("textarea[name=badges]", f"{cook['badges'][0]}\n{other['badges'][0]}")
    page.locator("form.drill input[name=photo]").set_input_files(
        [{"name": f"d{n}.jpg", "mimeType": "image/jpeg", "buffer": jpeg()} for n in range(2)])
    page.click("form.drill button")
    page.wait_for_selector("p.ok")
    assert "照片" in page.inner_text("li.drill-row")
    [drill] = wait_until(lambda: platform.records(type="drill"), message="drill")
    assert [(p["staff_id"], p["via"]) for p in drill["data"]["participants"]] == [
        (cook["staff_id"], "badge"), (other["staff_id"], "badge")]
    assert [m["role"] for m in drill["media"]] == ["photo", "photo"]
    assert platform.rejections == []

    page.goto(f"{kitchen.url}/manager/training")
    page.fill("input[name=topic]", "食品安全法与操作规范")
    page.fill("input[name=trainer]", "李老师")
    page.fill("input[name=hours]", "2.5")
    page.check(f"input[name=staff][value={cook['staff_id']}]")
    page.select_option(f"select[name=result-{cook['staff_id']}]", "pass")
    page.fill(f"input[name=score-{cook['staff_id']}]", "92")
    page.click("form.training button")
    page.wait_for_selector("p.ok")
    [session] = wait_until(lambda: platform.records(type="training_session"), message="training session")
    assert session["data"]["attendees"][0] == {"staff_id": cook["staff_id"], "name": cook["name"], "via": "picked",
                                               "result": "pass", "score": 92.0}
    [attended] = wait_until(lambda: platform.records(type="staff_training"), message="staff_training")
    assert (attended["data"]["hours"], attended["data"]["session_id"]) == (2.5, session["id"])
    page.goto(f"{kitchen.url}/admin/staff/{cook['staff_id']}")  # the cook's page (basic data)
    assert page.inner_text("dd.training-hours").startswith("2.5")
    page.click("dd.training-hours a")
    assert page.get_attribute("dd.yearly-hours", "data-hours") == "2.5"
    screenshot(page, "cook-training-hours")
    assert page_offences(page) == []

    page.goto(f"{kitchen.url}/manager/disinfection")
    for minutes, verdict in (("4", "fail"), ("6", "pass")):
        page.check("form.tableware input[name=method][value=chlorine]")
        page.fill("form.tableware input[name=mg_per_l]", "250")
        page.fill("form.tableware input[name=minutes]", minutes)
        page.click("form.tableware button")
        page.wait_for_selector(f"[data-verdict={verdict}]")
    soaks = wait_until(lambda: len(platform.records(type="tableware_disinfection")) == 2
                       and platform.records(type="tableware_disinfection"), message="two soaks")
    assert [(s["verdict"], s["findings"], s["data"]["by_hand"]) for s in soaks] == [
        ("fail", ["immersion_too_short"], True), ("pass", [], True)]
    assert platform.rejections == []


def test_bad_entries_are_refused_with_their_reason_and_nothing_is_stored(kitchen):
    from simulator.demo.console import ConsoleManager, ConsoleRefused

    boss = ConsoleManager.create(kitchen.agent, "boss2", "kitchen-secret-2")
    fitter = ConsoleManager.create(kitchen.agent, "fitter", "fitter-secret-1", role="installer")
    later = (MORNING + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    refusals = [
        (boss, "/manager/incidents", {"kind": "fire", "what": "灶台起火", "where": "后厨", "happened_at": later},
         "发生时间：不能晚于现在"),
        (boss, "/manager/incidents", {"kind": "flood", "what": "x", "where": "y", "happened_at": "2026-11-30T07:00"},
         "请选择事件类别"),
        (boss, "/manager/incidents", {"kind": "fire", "what": "灶台起火", "where": "", "happened_at": "2026-11-30T07:00",
                                      "people_affected": "-3"}, "请填写地点"),
        (boss, "/manager/disinfection", {"target": "tableware", "method": "chlorine", "mg_per_l": "250",
                                         "minutes": "0"}, "时长：大于0"),
        (boss, "/manager/disinfection", {"target": "tableware", "method": "chlorine", "minutes": "6"},
         "有效氯浓度"),
        (boss, "/manager/drills", {"scenario": "火灾疏散", "held_at": "2026-11-30T07:00", "minutes": "20",
                                   "badges": "9999999"}, "所刷卡号不在从业人员名单中"),
        (boss, "/manager/training", {"topic": "法规", "trainer": "李", "held_at": "2026-11-30T07:00", "hours": "30",
                                     "staff": "S001"}, "学时：大于0且不超过24"),
        (boss, "/manager/tasks", {"problem": "", "days": "3"}, "请填写存在的问题"),
        (boss, "/manager/tasks", {"problem": "洗手液用完", "days": "365"}, "整改期限：1至90"),
    ]
    for who, path, fields, reason in refusals:
        with pytest.raises(ConsoleRefused, match=reason):
            who.post(path, fields)
    # an installer files an incident (anyone may) but opens no task and makes no entry
    with pytest.raises(ConsoleRefused, match="只有食堂主管可以开单"):
        fitter.post("/manager/tasks", {"problem": "洗手液用完", "days": "3"}, form_page="/manager/incidents")
    stored = {t: list(kitchen.agent.store.iter_records(type_=t)) for t in (
        "incident_report", "tableware_disinfection", "drill", "training_session", "staff_training",
        "rectification_task")}
    assert all(v == [] for v in stored.values()), stored


def test_an_additive_entered_at_the_console_names_the_dish_from_the_days_menu(kitchen, platform):
    from simulator.demo.console import ConsoleManager, ConsoleRefused
    from simulator.platform.commands import build_command

    agent_id = kitchen.agent.config.identity.agent_id
    command = build_command("set_menu", {"day": MORNING.date().isoformat(),
                                         "meals": {"lunch": ["番茄炒蛋", "红烧肉"], "dinner": ["米饭"]}},
                            agent_id=agent_id, now=kitchen.agent.now())  # issued on the kitchen's simulated clock
    # The agent's first session starts clean: a command published before its SUBSCRIBE reached
    # the broker would reach no one. Its retained status follows the SUBSCRIBE on the same
    # connection, so once the platform has it, the broker has the subscription too.
    wait_until(lambda: (platform.status(agent_id) or {}).get("online"), timeout=30, message="the agent online")
    platform.publish_command(agent_id, command)
    pushed = platform.wait_result(command["id"], timeout=30)
    assert pushed["ok"] and pushed["result"] == {"day": MORNING.date().isoformat(), "meals": 2, "dishes": 3,
                                                 "replaced": False, "withdrawn": False}, pushed
    boss = ConsoleManager.create(kitchen.agent, "boss3", "kitchen-secret-3")
    assert "#2 红烧肉" in boss.get("/manager/additive")
    for fields, reason in [
        ({"additive": "焦糖色", "grams": "12", "dish": "宫保鸡丁"}, "请从今日菜单中选择菜品"),
        ({"additive": "焦糖色", "grams": "12", "food": "#7"}, "今日菜单没有这个菜品编号"),
        ({"additive": "焦糖色", "grams": "12"}, "请从今日菜单选择菜品，或填写食品批次"),
        ({"additive": "焦糖色", "grams": "0", "dish": "红烧肉"}, "用量：克数"),
    ]:
        with pytest.raises(ConsoleRefused, match=reason):
            boss.post("/manager/additive", fields)
    assert list(kitchen.agent.store.iter_records(type_="additive_usage")) == []
    boss.post("/manager/additive", {"additive": "焦糖色", "grams": "12", "dish": "红烧肉"})
    boss.post("/manager/additive", {"additive": "食用盐", "grams": "8.5", "food": "#3"})
    boss.post("/manager/additive", {"additive": "泡打粉", "grams": "3", "food": "馒头 第2批", "batch": "B-77"})
    used = wait_until(lambda: len(platform.records(type="additive_usage")) == 3
                      and platform.records(type="additive_usage"), message="three additive uses")
    assert sorted((u["data"]["additive"], u["data"]["food"], u["data"]["batch"]) for u in used) == sorted([
        ("焦糖色", "红烧肉", None), ("食用盐", "米饭", None), ("泡打粉", "馒头 第2批", "B-77")])
    assert platform.rejections == []
