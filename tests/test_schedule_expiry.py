"""Expiry warnings (once per threshold, cleared when renewed) and sample discards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from agent.core.stock import discard
from agent.schedule.due import discard_key
from agent.schedule.engine import EXPIRY_EVERY_S
from agent.schedule.expiry import threshold_for
from tests.fixtures_schedule import DAY, STAFF, Canteen, at, schedule_config


@pytest.mark.parametrize(("days_left", "expected"), [
    (31, None), (30, "30"), (8, "30"), (7, "7"), (2, "7"), (1, "1"), (0, "1"), (-1, "expired")])
def test_threshold_for(days_left: int, expected: str | None) -> None:
    assert threshold_for(days_left, [30, 7, 1]) == expected


def test_thresholds_passed_before_it_was_known_are_skipped() -> None:
    assert threshold_for(5, [30, 7, 1], known_from=5) is None
    assert threshold_for(1, [30, 7, 1], known_from=5) == "1"
    assert threshold_for(20, [30, 7, 1], known_from=40) == "30"
    assert threshold_for(-1, [30, 7, 1], known_from=0) == "expired"


def expiry_events(canteen: Canteen, what: str, ident: str) -> list[tuple[str, str]]:
    return [(a["state"], a["subject"]["threshold"]) for a in canteen.alarm_events("expiry_warning")
            if a["subject"]["what"] == what and a["subject"]["id"] == ident]


@pytest.fixture
def canteen(tmp_path):
    staff = [dict(s) for s in STAFF]
    staff[0]["health_cert_expires_on"] = (DAY + timedelta(days=31)).isoformat()
    canteen = Canteen(schedule_config(tmp_path, site={"staff": staff, "suppliers": {}}), at("06:00"))
    yield canteen
    canteen.stop()


def test_certificate_walks_down_the_thresholds_once_each_and_clears_on_renewal(canteen: Canteen) -> None:
    expires = DAY + timedelta(days=31)
    for days_before in (31, 30, 29, 8, 7, 6, 1, 0, -1, -5):
        day = expires - timedelta(days=days_before)
        canteen.tick(at("08:00", day))
        canteen.tick(at("12:00", day))
        if days_before == 6:
            canteen.restart()  # nothing raised twice after a restart
    assert expiry_events(canteen, "health_certificate", "S001") == [
        ("raised", "30"), ("raised", "7"), ("cleared", "30"), ("raised", "1"), ("cleared", "7"),
        ("raised", "expired"), ("cleared", "1")]
    mine = [a for a in canteen.alarm_events("expiry_warning") if a["subject"]["id"] == "S001"]
    superseded = [a for a in mine if a["state"] == "cleared"]
    assert "superseded by the 7-day warning" in superseded[0]["message"]
    assert "superseded by the expired warning" in superseded[-1]["message"]
    raised = [a for a in mine if a["state"] == "raised"]
    assert [a["severity"] for a in raised] == ["info", "minor", "major", "critical"]
    assert "健康证将于" in raised[0]["message"] and "张三 (S001)" in raised[0]["message"]

    # the platform sends a renewed roster
    renewed = [dict(p) for p in canteen.store.roster()]
    next(p for p in renewed if p["staff_id"] == "S001")["health_cert_expires_on"] = "2028-01-01"
    canteen.store.replace_roster(renewed, canteen.clock().isoformat())
    report = canteen.tick(canteen.clock() + timedelta(seconds=EXPIRY_EVERY_S))  # re-read by then
    assert report.cleared == ["expiry_warning|id=S001,threshold=expired,what=health_certificate"]
    assert expiry_events(canteen, "health_certificate", "S001")[-1] == ("cleared", "expired")
    assert canteen.alarm_events("expiry_warning")[-1]["message"] == "已更新 / renewed"


def test_supplier_licence_renewed_at_receiving(canteen: Canteen) -> None:
    canteen.config.site.suppliers["粮油公司"] = (DAY + timedelta(days=5)).isoformat()
    canteen.tick(at("08:00"))
    assert expiry_events(canteen, "supplier_licence", "粮油公司") == [("raised", "7")]
    # goods arrive with the supplier's new licence: a later date than the config's
    canteen.purchase("大米", DAY + timedelta(days=300), at("09:00"), licence=date(2027, 12, 31))
    canteen.tick(at("09:01"))
    assert expiry_events(canteen, "supplier_licence", "粮油公司") == [("raised", "7"), ("cleared", "7")]


def test_an_expired_batch_on_hand_stays_flagged_until_the_last_of_it_is_discarded(canteen: Canteen) -> None:
    record_id = canteen.purchase("牛奶", DAY + timedelta(days=10), at("07:30"))
    canteen.purchase("大米", DAY + timedelta(days=200), at("07:31"))
    canteen.tick(at("08:00", DAY + timedelta(days=9)))  # 1 day left
    watch = canteen.config.rules.expiry.ingredient_expired_watch_days
    late = DAY + timedelta(days=11 + watch + 5)
    canteen.tick(at("08:00", late))  # long past the watch: still on hand, still flagged
    assert expiry_events(canteen, "ingredient", record_id) == [("raised", "1"), ("raised", "expired"), ("cleared", "1")]
    assert canteen.store.alarm_is_open(f"expiry_warning|id={record_id},threshold=expired,what=ingredient")
    raised = canteen.alarm_events("expiry_warning")[-2]
    assert "已于" in raised["message"] and "issue or discard it" in raised["message"]
    discard(canteen.recorder, record_id, 20000, "expired", "王五", now=at("08:30", late))
    canteen.tick(at("08:40", late) + timedelta(seconds=EXPIRY_EVERY_S))
    assert len(expiry_events(canteen, "ingredient", record_id)) == 3  # 5 kg still there: still flagged
    discard(canteen.recorder, record_id, None, "expired", "王五", now=at("09:00", late))  # the rest
    canteen.tick(at("09:10", late) + timedelta(seconds=2 * EXPIRY_EVERY_S))
    assert expiry_events(canteen, "ingredient", record_id)[-1] == ("cleared", "expired")
    assert "none left on hand" in canteen.alarm_events("expiry_warning")[-1]["message"]


def test_a_receipt_without_an_amount_is_warned_then_dropped_after_the_watch_days(canteen: Canteen) -> None:
    record_id = canteen.purchase("牛奶", DAY + timedelta(days=10), at("07:30"), grams=None)
    canteen.purchase("大米", DAY + timedelta(days=200), at("07:31"))
    assert not [k for k in canteen.tick(at("08:00")).raised if "what=ingredient" in k]
    # received with 10 days left: the 30-day threshold was passed on arrival, not news
    canteen.tick(at("08:00", DAY + timedelta(days=3)))
    opened = [a for a in canteen.alarm_events("expiry_warning") if a["subject"]["what"] == "ingredient"]
    assert [(a["subject"]["id"], a["subject"]["threshold"]) for a in opened] == [(record_id, "7")]
    assert "牛奶 batch B7 from 粮油公司" in opened[0]["message"]
    watch = canteen.config.rules.expiry.ingredient_expired_watch_days
    canteen.tick(at("08:00", DAY + timedelta(days=9)))  # 1 day left
    canteen.tick(at("08:00", DAY + timedelta(days=11)))  # expired yesterday: still flagged
    canteen.tick(at("08:00", DAY + timedelta(days=11 + watch)))  # past the watch: dropped
    # a closer threshold is raised before the earlier one is cleared: never a gap
    assert expiry_events(canteen, "ingredient", record_id) == [
        ("raised", "7"), ("raised", "1"), ("cleared", "7"), ("raised", "expired"), ("cleared", "1"),
        ("cleared", "expired")]
    assert canteen.alarm_events("expiry_warning")[-1]["message"] == (
        "已无库存或不再跟踪 / none left on hand, or no longer tracked")


def discards(keys: list[str]) -> list[str]:
    return [k for k in keys if k.startswith("sample_discard_due")]


def test_samples_past_their_keep_time_until_discard_is_confirmed(canteen: Canteen) -> None:
    canteen.sample("lunch", "米饭", at("11:40"))
    canteen.sample("lunch", "青菜", at("11:45"))
    two_days = DAY + timedelta(days=2)
    batch = "sample_discard_due|day=2026-11-23,meal=lunch"
    assert discards(canteen.tick(at("11:44", two_days)).raised) == []
    assert discards(canteen.tick(at("11:45", two_days)).raised) == [batch]  # the last reaches 48 h
    assert discards(canteen.tick(at("15:00", two_days)).raised) == []
    canteen.restart()
    assert discards(canteen.tick().raised) == []
    confirmed = {"at": at("15:10", two_days).isoformat(), "by": "S001"}
    canteen.store.kv_set_if_absent(discard_key(DAY.isoformat(), "lunch"), confirmed)
    report = canteen.tick(at("15:11", two_days))
    assert discards(report.cleared) == [batch]
    assert canteen.alarm_events("sample_discard_due")[-1]["message"] == "已确认处理 / discard confirmed"
    assert len([a for a in canteen.alarm_events("sample_discard_due") if a["state"] == "raised"]) == 1
