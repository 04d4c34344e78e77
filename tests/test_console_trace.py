"""Stock and traceability on the console, in a real browser against a real agent and the
reference platform (issue 25): a receipt, two issues to two meals, a sample per dish and a
discard give the right on-hand quantity; the trace page goes from the batch to both meals,
their diners and samples, and back; an expired batch is refused until a manager overrides."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from agent.records.food_sample import FoodSample
from agent.records.ingredient_purchase import IngredientPurchase
from agent.records.meal_service import MealService
from simulator.year import generate_year
from tests.conftest import TZ
from tests.fixtures_console import (  # noqa: F401
    SCREENSHOTS,
    Kitchen,
    broker_fixture,
    browser_fixture,
    kitchen_fixture,
    platform_fixture,
    wait_until,
)
from tests.fixtures_serial_stations import STAFF
from tests.helpers.untranslated import page_offences
from tests.test_console_browser import log_in

pytestmark = pytest.mark.timeout(120)
DAY = date(2026, 11, 30)
DISHES = {"lunch": ["米饭", "番茄炒蛋"], "dinner": ["米饭", "青椒肉丝"]}
DINERS = {"lunch": 812, "dinner": 406}


def receive(kitchen: Kitchen, item: str, batch: str, grams: float, expiry: date) -> str:
    """Goods received at the receiving station (the record it writes)."""
    return kitchen.agent.recorder.record(IngredientPurchase(
        supplier="粮油公司", item=item, batch=batch, grams=grams, production_date=date(2026, 11, 20),
        expiry_date=expiry, supplier_licence_expires_on=date(2027, 12, 31), certificate_checked=True)).id


def serve(kitchen: Kitchen, meal: str, hour: int) -> list[str]:
    """The meal registered with its diners and a sample of each dish (the food-sample station's records)."""
    at = datetime(2026, 11, 30, hour, 0, tzinfo=TZ)
    kitchen.agent.recorder.record(MealService(meal=meal, served_on=DAY, diners=DINERS[meal], dishes=DISHES[meal]),
                                  occurred_at=at)
    return [kitchen.agent.recorder.record(FoodSample(meal=meal, dish=dish, grams=150, min_grams=125, sampled_at=at,
                                                     kept_until=at + timedelta(hours=48)), occurred_at=at).id
            for dish in DISHES[meal]]


def issue(page, receipt: str, grams: str, meal: str, *, override: str | None = None) -> None:
    form = page.locator("form#issue")
    form.locator("select[name=receipt]").select_option(receipt)
    form.locator("input[name=amount]").fill(grams)
    form.locator("select[name=meal]").select_option(meal)
    form.locator("input[name=dishes]").fill("米饭")
    if override:
        form.locator("input[name=override]").check()
        form.locator("input[name=override_reason]").fill(override)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def shot(element, name: str) -> None:
    """One part of the page, as the README shows it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def on_hand(page, receipt: str) -> str:
    return page.locator(f"tr[data-receipt='{receipt}'] td.on-hand").inner_text()


def test_stock_issue_discard_and_trace_both_ways(browser, kitchen, platform):
    rice = receive(kitchen, "大米", "B1", 10_000, date(2027, 6, 1))
    milk = receive(kitchen, "牛奶", "M1", 5_000, date(2026, 11, 29))  # expired yesterday
    page = log_in(browser, kitchen)
    page.wait_for_url("**/manager/today")
    page.goto(f"{kitchen.url}/manager/stock")
    assert on_hand(page, rice) == "10000 g"
    assert "库存中有过期批次" in page.inner_text(".error") and "已过期" in page.locator(f"tr[data-receipt='{milk}']").inner_text()

    issue(page, rice, "3000", "lunch")
    assert "已出库" in page.inner_text("p.ok")
    issue(page, rice, "4000", "dinner")
    issue(page, rice, "3500", "dinner")  # more than the 3 kg left
    assert "超过库存数量" in page.inner_text(".error") and "3000 g" in page.inner_text(".error")
    issue(page, milk, "1000", "lunch")  # expired: refused without an override
    assert "该批次已过期" in page.inner_text(".error")
    issue(page, milk, "1000", "lunch", override="复检合格，当日用完")
    assert "已出库" in page.inner_text("p.ok")
    form = page.locator("form#discard")
    form.locator("select[name=receipt]").select_option(rice)
    form.locator("input[name=amount]").fill("1000")
    form.locator("select[name=reason]").select_option("spoiled")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "报废已登记" in page.inner_text("p.ok")
    assert on_hand(page, rice) == "2000 g"  # 10 kg - 3 - 4 - 1
    lunch_samples, dinner_samples = serve(kitchen, "lunch", 12), serve(kitchen, "dinner", 18)
    page.goto(f"{kitchen.url}/manager/stock")
    assert on_hand(page, rice) == "2000 g"  # samples are of dishes, not taken from stock
    assert page_offences(page) == []

    # from the batch to both meals, their diners and samples
    page.goto(f"{kitchen.url}/manager/trace")
    page.fill("input[name=batch]", "B1")
    page.click("text=由批次查餐次")
    section = page.locator(f"section.trace-batch[data-receipt='{rice}']")
    assert section.locator(".meal-count").inner_text() == "2"
    assert section.locator(".diner-total").inner_text() == str(812 + 406)
    for meal, samples in (("lunch", lunch_samples), ("dinner", dinner_samples)):
        block = section.locator(f"article.trace-meal[data-meal='2026-11-30:{meal}']")
        assert block.locator(".diners").inner_text() == str(DINERS[meal])
        assert [block.locator("li.sample").nth(i).get_attribute("data-id") for i in range(2)] == samples
    assert "变质" in section.inner_text() and "2000 g" in section.locator(".on-hand").inner_text()
    assert page_offences(page) == []
    shot(section, "manager-trace")
    # ... and back from a meal to its batches, supplier and papers
    section.locator("article.trace-meal[data-meal='2026-11-30:lunch'] h3 a").click()
    back = page.locator("section.trace-back[data-meal='2026-11-30:lunch']")
    assert back.locator(f"tr[data-receipt='{rice}']").count() == 1
    milk_row = back.locator(f"tr[data-receipt='{milk}']").inner_text()
    assert "粮油公司" in milk_row and "主管放行" in milk_row and "复检合格" in milk_row
    assert "certificate checked" in back.inner_text()
    assert page_offences(page) == []
    shot(back, "manager-trace-meal")

    # every movement reached the platform, valid, the override with who decided it
    issues = wait_until(lambda: len(platform.records(type="stock_issue")) == 3 and platform.records(type="stock_issue"),
                        message="three issues on the platform")
    overridden = [r for r in issues if r["data"].get("override")]
    assert [(r["data"]["override"]["by"], r["verdict"]) for r in overridden] == [("boss", "warn")]
    discards = wait_until(lambda: platform.records(type="stock_discard"), message="the discard on the platform")
    assert discards[0]["data"]["grams"] == 1000 and discards[0]["data"]["receipt_id"] == rice


def test_the_scorecard_draws_its_charts(browser, kitchen):
    staff = [s["staff_id"] for s in STAFF]
    generate_year(kitchen.agent.recorder, date(2026, 11, 1), 29, diners=1500, staff_ids=staff, seed=5)
    page = log_in(browser, kitchen)
    page.wait_for_url("**/manager/today")
    page.click("nav >> text=汇总分析")
    assert "2026-11-01 – 2026-11-30" in page.inner_text("h1")
    charts = page.locator("section.charts svg.chart")
    assert charts.count() == 7
    morning = charts.nth(0)
    # one bar per day with meals served (the 30th: today, nothing served yet), each its own rate
    assert morning.locator("rect").count() == 29
    assert all(0 < float(v) <= 1 for v in morning.locator("rect").evaluate_all("rs => rs.map(r => r.dataset.value)"))
    assert page.locator("tr[data-figure=meals_served] td").inner_text() == str(29 * 3)
    assert page_offences(page) == []
    shot(page.locator("main"), "manager-scorecard")
    shot(page.locator("section.charts"), "manager-scorecard-charts")
    page.click("text=打印版")
    assert page.locator("nav.top").count() == 0 and page.locator("section.charts svg.chart").count() == 7


def test_a_days_menu_shows_energy_per_portion_against_the_target(browser, kitchen):
    page = log_in(browser, kitchen)
    page.wait_for_url("**/manager/today")
    page.click("nav >> text=带量食谱")
    form = page.locator("form#plan")
    form.locator("select[name=meal]").select_option("lunch")
    form.locator("textarea[name=dishes]").fill("番茄炒蛋：西红柿 80，鸡蛋 50，食用油 5\n米饭：大米 100\n"
                                              "青椒肉丝：青椒 60、猪肉 40、食用油 5")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("p.ok")
    lunch = page.locator("section.menu[data-meal=lunch]")
    assert lunch.locator(".kcal").inner_text() == "656.5" and lunch.locator(".target").inner_text() == "630–880"
    assert page_offences(page) == []
    shot(lunch, "manager-menu")
