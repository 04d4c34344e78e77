"""晨检 Morning check: badge, forehead at the infrared thermometer, answers at the keypad; a fever raises an alarm."""

from __future__ import annotations

from agent.stations.kind import StationKind
from agent.stations.morning_check.config import MorningCheckConfig
from agent.stations.morning_check.due import MORNING_CHECK_MISSING, morning_checks
from agent.stations.morning_check.workflow import MorningCheck, resolve
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=MorningCheckConfig,
    workflow=MorningCheck,
    label=Term("晨检", "Morning check"),
    role_words={"thermometer": Term("测温仪", "thermometer")},
    screen_words={
        'recheck': ('请10分钟后复测', 'Re-check in 10 min'),
        'leave_post': ('请离岗并告知主管', 'Leave your post and tell the manager'),
        'see_manager': ('请找主管确认后再上岗', 'See the manager before work'),
        'badge_again': ('请重新刷卡', 'Badge again'),
    },
    day_duties=morning_checks,
    duties=(MORNING_CHECK_MISSING,),
    due_records=('staff_health_check',),
    resolve=resolve,
)
