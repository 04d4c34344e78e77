"""Ledgers and reminders after a bad boot clock: they follow the clock as corrected by NTP."""

from __future__ import annotations

from datetime import timedelta

from agent.schedule.ledger import VOID_KEY
from agent.schedule.run_days import DAYS_RAN_KEY
from tests.fixtures_schedule import DAY, Canteen, at, schedule_config


def ledgers(canteen: Canteen) -> list[dict]:
    return list(canteen.store.iter_records(type_="daily_ledger"))


def test_booted_three_days_ahead_then_corrected(tmp_path) -> None:
    # really DAY 23:50; the box believes DAY+3 23:50
    canteen = Canteen(schedule_config(tmp_path), at("23:50", DAY + timedelta(days=3)))
    try:
        canteen.tick()
        canteen.tick(at("00:00", DAY + timedelta(days=4)))  # "day end" of DAY+3 passes on the wrong clock
        [early] = ledgers(canteen)
        assert early["data"]["day"] == (DAY + timedelta(days=3)).isoformat()
        assert early["data"]["duties_done"] == 0  # written early, nothing of that day had happened

        canteen.clock.step(-timedelta(days=3))  # NTP: it is really DAY+1 00:00
        report = canteen.tick()
        assert report.ledgers == [DAY.isoformat()]  # the agent really ran at the end of DAY
        assert canteen.store.kv_get(VOID_KEY) == [early["id"]]
        assert canteen.store.kv_get(DAYS_RAN_KEY) == [DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()]
        future = (DAY + timedelta(days=3)).isoformat()
        assert not [k for k in canteen.open_keys() if future in k]  # the wrong clock's reminders closed

        for n in (1, 2, 3):  # the real days, each ledger at its real end
            day = DAY + timedelta(days=n)
            assert canteen.tick(at("23:50", day)).ledgers == []  # never before the day has ended
            assert canteen.tick(at("23:56", day)).ledgers == [day.isoformat()]
        by_day = [(r["data"]["day"], r["data"].get("replaces")) for r in ledgers(canteen)]
        assert by_day == [(future, None), (DAY.isoformat(), None),
                          ((DAY + timedelta(days=1)).isoformat(), None),
                          ((DAY + timedelta(days=2)).isoformat(), None), (future, early["id"])]
    finally:
        canteen.stop()


def test_booted_six_weeks_behind_then_corrected(tmp_path) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("06:00", DAY - timedelta(weeks=6)))
    try:
        canteen.tick()
        canteen.clock.advance(600)
        canteen.clock.step(timedelta(weeks=6))  # NTP: it is really DAY 06:10
        assert canteen.tick().ledgers == []  # not one for the weeks the agent never ran
        assert canteen.store.kv_get(DAYS_RAN_KEY) == [DAY.isoformat()]
        assert canteen.tick(at("23:56")).ledgers == [DAY.isoformat()]
        assert [r["data"]["day"] for r in ledgers(canteen)] == [DAY.isoformat()]
    finally:
        canteen.stop()
