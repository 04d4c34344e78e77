"""A reminder for what is due over months, not a day: a drill once a term.

``drill_missing``: no ``drill`` recorded within ``rules.drill.every_days`` (counted from the
agent's first tick when it has never seen one, so a new box does not start with the
alarm); a condition alarm, cleared by the next drill. (People below the yearly training
hours are warned about on the console's today and training pages, not by an alarm.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.schedule.reminders import AlarmWant

DRILL_MISSING = "drill_missing"
KINDS = (DRILL_MISSING,)
SINCE_KEY = "schedule:practice_since"  # the day the agent first looked (kv)


def practice_wants(reads: Reads, config: Settings, now: datetime, since: date) -> list[AlarmWant]:
    local = now.astimezone(config.identity.tz)
    wants = []
    every = config.rules.drill.every_days
    if every:
        last = max((datetime.fromisoformat(r["occurred_at"]).astimezone(config.identity.tz).date()
                    for r in reads.iter_records(type_="drill")), default=None)
        start = last or since
        if local.date() - start > timedelta(days=every):
            held = f"上次演练 {last} / last drill {last}" if last else "尚未开展演练 / no drill recorded"
            wants.append(AlarmWant(DRILL_MISSING, {},
                                   f"已超过 {every} 天未开展应急演练（{held}） / no drill for {every} days",
                                   "minor", {"last_drill": last.isoformat() if last else None, "every_days": every}))
    return wants


def clear_message(kind: str) -> str:
    return "已开展演练 / a drill was held"
