"""签到 Check-in: a leader's meal, a training session or an inspection, by badge."""

from __future__ import annotations

from agent.stations.checkin.config import CheckinConfig
from agent.stations.checkin.due import LEADER_MEAL_MISSING, leader_meal_duty
from agent.stations.checkin.workflow import CheckinStation
from agent.stations.kind import StationKind
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=CheckinConfig,
    workflow=CheckinStation,
    label=Term("签到", "Check-in"),
    meal_duties=leader_meal_duty,
    duties=(LEADER_MEAL_MISSING,),
    due_records=('leader_meal',),
)
