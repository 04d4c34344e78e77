"""Morning check (晨检): badge → roster → temperature → ``staff_health_check`` with a verdict.

One session per station at a time:

1. A badge starts it. An unknown card is answered ``未登记的工卡`` and starts nothing; a
   new card replaces an unfinished session (the earlier person is told it was dropped).
2. The thermometer streams; readings below ``presence_min_c`` are the room, not a
   person, and reset the settling. ``settle_readings`` consecutive readings within
   ``SETTLE_SPREAD_C`` of each other make the measurement (the last one is kept).
3. Answers (symptoms, hands) come from the station's keypad, any time in the session:

   ====== ===========================================================
   ``0``  no symptoms, hands fine
   ``1n`` symptom n: 11 fever (felt), 12 diarrhoea, 13 vomiting,
          14 throat_inflammation, 15 jaundice, 16 skin_infection
   ``2n`` hand finding n: 21 wound, 22 nail_fungus, 23 foreign_object,
          24 plaster, 25 ring, 26 nail_polish
   ====== ===========================================================

   Several codes on one line are separated by ``.``, ``+``, ``-``, ``*``, ``/``, ``,``
   or spaces (``13.25``); a full keyboard may type the English names instead. The
   last line entered counts. With ``answers_required`` the record waits up to
   ``answers_window_s`` after the temperature (a fever is recorded at once); without
   answers it is recorded with the finding ``answers_missing``.
4. No temperature within ``rules.morning_check.temperature_window_s`` of the badge:
   ``未测到体温`` and no record.

A steady reading outside ``rules.morning_check.plausible_range_c`` (34–43 °C by default) is
no forehead's: a hot pan, the sensor not aimed. The person is asked to measure again
within the same session, the thermometer's health counts it (``implausible_readings``)
and nothing is recorded.

The record carries ``attempt`` (1 for the day's first check of that person) and
``recheck_of`` (the id of the day's first check). A failing check (fever, an excluding
symptom or hand finding, an expired health certificate by default) records the person
not fit for duty today (``fit_for_duty: false``; ``store.duty`` reads fitness back from
the day's checks); a fever also raises a ``fever`` alarm for
(staff, day). docs/DOMAIN.md: staff with fever leave their post *until cleared*; clearing is
a manager's decision, not a second thermometer reading. So a passing re-check the same
day does not restore fitness: it is recorded with ``fit_for_duty: false`` and the
finding ``excluded_earlier_today``, and the person is told to see the manager.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.config.settings import Settings
from agent.core.feedback import Level, NextStep, Screen, Verdict
from agent.core.recorder import Recorded
from agent.records.findings import finding_term
from agent.records.staff_health_check import EXCLUDED_EARLIER, StaffHealthCheck
from agent.stations.base import Staff, StationWorkflow
from agent.stations.morning_check.config import MorningCheckConfig
from drivers.readings import BadgeScan, TemperatureReading, TextInput

log = logging.getLogger("agent.workflows.morning_check")

SETTLE_SPREAD_C = 0.3  # consecutive readings this close are one steady measurement
IMPLAUSIBLE = "implausible_readings"  # the thermometer's health counter (device registry)
MEASURE_AGAIN = "读数异常，请对准额头重新测温 / reading not plausible: measure again"
SYMPTOM_CODES = {"11": "fever", "12": "diarrhoea", "13": "vomiting", "14": "throat_inflammation",
                 "15": "jaundice", "16": "skin_infection"}
HAND_CODES = {"21": "wound", "22": "nail_fungus", "23": "foreign_object", "24": "plaster",
              "25": "ring", "26": "nail_polish"}
_SEPARATORS = re.compile(r"[\s.+\-*/,，]+")
FINDING_TEXT = {
    "fever": "温度异常，请复测；今日不得上岗 / fever: not fit for duty today",
    "temperature_low": "温度偏低，请复测 / low reading, measure again",
    "health_certificate_expired": "健康证已过期 / health certificate expired",
    "answers_missing": "未填写症状/手部检查 / answers missing",
    "excluded_earlier_today": "今日已停岗，请找负责人 / off duty today: see the manager",
}


@dataclass(frozen=True, slots=True)
class Answers:
    symptoms: list[str]
    hands: list[str]


def parse_answers(text: str, symptom_names: list[str], hand_names: list[str]) -> Answers:
    """Keypad grammar above; raises ValueError naming the token it cannot read."""
    symptoms: list[str] = []
    hands: list[str] = []
    tokens = [t for t in _SEPARATORS.split(text.strip().lower()) if t]
    if not tokens:
        raise ValueError("empty answer")
    for token in tokens:
        if token == "0":
            continue
        if token in SYMPTOM_CODES or token in symptom_names:
            name = SYMPTOM_CODES.get(token, token)
            if name not in symptoms:
                symptoms.append(name)
        elif token in HAND_CODES or token in hand_names:
            name = HAND_CODES.get(token, token)
            if name not in hands:
                hands.append(name)
        else:
            raise ValueError(f"unknown answer {token!r}")
    return Answers(symptoms, hands)


@dataclass
class Session:
    staff: Staff
    started: datetime
    deadline: datetime
    settling: list[TemperatureReading] = field(default_factory=list)
    measured: TemperatureReading | None = None
    rejected_c: float | None = None  # the last steady reading no forehead can have
    answers: Answers | None = None
    asked_answers: bool = False


class MorningCheck(StationWorkflow[MorningCheckConfig]):
    kind = "morning_check"

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # StationWorkflow's
        super().__init__(*args, **kwargs)
        self.rules = self.config.rules.morning_check
        self.settle = self.station.settle_readings or 1
        self.session: Session | None = None

    # --- readings --------------------------------------------------------------------

    def on_badge(self, scan: BadgeScan) -> None:
        staff = self.identify(scan)
        if staff is None:
            return
        if self.session is not None and self.session.staff.staff_id != staff.staff_id:
            self.say(f"{self.session.staff.name} 未完成测温，已取消 / previous check dropped", level="warn",
                     log_text=f"morning check dropped staff={self.session.staff.staff_id}")
        window = timedelta(seconds=self.rules.temperature_window_s)
        self.session = Session(staff, scan.at, scan.at + window)
        prompt = "请测温并输入症状/手部检查（0=无） / measure, then answers" if self.station.keypad \
            else "请测温 / measure temperature"
        self.say(f"{staff.name} {prompt}", log_text=f"morning check started staff={staff.staff_id}",
                 screen=Screen("identified", name=staff.name))

    def on_temperature(self, reading: TemperatureReading) -> None:
        session = self.session
        if session is None or session.measured is not None or reading.at > session.deadline:
            return
        value = reading.object_c
        if value < self.station.presence_min_c:
            session.settling.clear()  # nobody in front: start settling again
            session.rejected_c = None
            return
        settling = session.settling
        settling.append(reading)
        del settling[:-self.settle]
        values = [r.object_c for r in settling]
        if len(settling) == self.settle and max(values) - min(values) <= SETTLE_SPREAD_C:
            low, high = self.rules.plausible_range_c
            if not low <= value <= high:
                self._implausible(session, value)
                return
            session.measured = reading
            self._finish_if_ready(reading.at)

    def _implausible(self, session: Session, value: float) -> None:
        """A steady reading no forehead can have (a hot pan, the sensor not aimed): ask to
        measure again, count it in the thermometer's health, record nothing. The same
        reading held on is one bad reading, not one per frame."""
        session.settling.clear()
        if session.rejected_c is not None and abs(value - session.rejected_c) <= SETTLE_SPREAD_C:
            return
        session.rejected_c = value
        self.note_device("thermometer", IMPLAUSIBLE)
        self.say(f"{session.staff.name} {MEASURE_AGAIN}", level="warn",
                 log_text=f"morning check implausible reading staff={session.staff.staff_id}",
                 screen=Screen("identified", name=session.staff.name))

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        if self.open_session() is None:
            return
        try:
            answers = parse_answers(text, self.rules.excluding_symptoms,
                                    self.rules.hand_findings_fail + self.rules.hand_findings_warn)
        except ValueError:
            self.say("无法识别，0=正常 1x=症状 2x=手部 / not understood", level="warn",
                     log_text=f"morning check answer rejected length={len(text)}")
            return
        assert self.session is not None  # checked on entry
        self.session.answers = answers
        self.say("已记录回答 / answers noted", log_text="morning check answers noted")
        self._finish_if_ready(reading.at)

    def on_tick(self, now: datetime) -> None:
        session = self.session
        if session is None or now < session.deadline:
            return
        self.session = None
        if session.measured is not None:  # answers never came: the measurement still counts
            self._write(session, ["answers_missing"])
            return
        self.say(f"{session.staff.name} 未测到体温，请重新刷卡 / no temperature in time", level="warn",
                 log_text=f"morning check timed out staff={session.staff.staff_id}",
                 screen=Screen("verdict", name=session.staff.name, next_step="badge_again"))

    # --- the record ------------------------------------------------------------------

    def _finish_if_ready(self, at: datetime) -> None:
        session = self.session
        if session is None or session.measured is None:
            return
        waiting = self.station.keypad is not None and self.station.answers_required and session.answers is None
        fever = session.measured.object_c > self.rules.normal_range_c[1]
        if waiting and not fever:
            if not session.asked_answers:
                session.asked_answers = True
                session.deadline = max(session.deadline, at + timedelta(seconds=self.station.answers_window_s))
                self.say("请输入症状/手部检查（0=无） / answers please",
                         log_text=f"morning check waiting answers staff={session.staff.staff_id}")
            return
        self.session = None
        self._write(session, [] if session.answers is not None or not waiting else ["answers_missing"])

    def _write(self, session: Session, extra: list[str]) -> None:
        staff, measured = session.staff, session.measured
        assert measured is not None
        day = self.day_of(measured.at)
        earlier = self.records_today("staff_health_check", day, staff.staff_id)
        duty = self.reads.duty(day, staff.staff_id)
        excluded_earlier = duty is not None and not duty["fit"]
        answers = session.answers or Answers([], [])
        data = StaffHealthCheck(
            staff_id=staff.staff_id, name=staff.name, temperature_c=round(measured.object_c, 2),
            normal_range_c=self.rules.normal_range_c, ambient_c=measured.ambient_c,
            symptoms=answers.symptoms, hand_findings=answers.hands,
            health_cert_expires_on=staff.health_cert_expires_on, attempt=len(earlier) + 1,
            recheck_of=earlier[0]["id"] if earlier else None)
        if excluded_earlier:
            extra = [*extra, EXCLUDED_EARLIER]
        # The recorder judges it and settles fit_for_duty from the verdict; fitness for the
        # rest of the day is read back from these records (store.duty).
        saved = self.record(data, occurred_at=measured.at, source=self.source("thermometer"),
                            operator=staff.operator, extra_findings=extra)
        if "fever" in saved.findings:
            self.recorder.raise_alarm(
                "fever", {"staff_id": staff.staff_id, "day": day},
                f"晨检体温超标：员工 {staff.staff_id} 今日不得上岗 / "
                f"fever at the morning check: staff {staff.staff_id} not fit for duty today",
                severity="major", details={"record_id": saved.id, "station": self.station.id},
                occurred_at=measured.at, source=self.source("thermometer"))
        self._answer(staff, saved, day)
        log.info("morning check recorded station=%s staff=%s attempt=%d fit=%s id=%s", self.station.id,
                 staff.staff_id, saved.data.attempt, saved.data.fit_for_duty, saved.id)

    def _answer(self, staff: Staff, saved: Recorded[StaffHealthCheck], day: str) -> None:
        data, findings = saved.data, list(saved.findings)
        parts = [_finding_text(f) for f in findings]
        expires = staff.health_cert_expires_on
        if expires is not None and "health_certificate_expired" not in findings:
            left = (expires - datetime.fromisoformat(day).date()).days
            if left <= max(self.config.rules.expiry.warn_days, default=0):
                parts.append(f"健康证 {left} 天后到期 / certificate expires in {left} d")
        verdict: Verdict
        if not data.fit_for_duty and saved.verdict != "fail":
            # a passing re-check after a failed one: the reading is normal, the person is
            # still off duty until the manager decides (docs/DOMAIN.md) — not a red "fail"
            level: Level = "warn"
            status, verdict = "复测正常，仍停岗 / re-check normal, still off duty", "off_duty"
            parts = [p for p in parts if "停岗" not in p]
        elif not data.fit_for_duty:
            level, status, verdict = "error", "不合格", "fail"
            if not any("不得上岗" in p or "停岗" in p for p in parts):
                parts.append("今日不得上岗 / not fit for duty today")
        elif saved.verdict == "pass":
            level, status, verdict = "ok", "合格 / OK", "pass"
        else:
            level, status, verdict = "warn", "注意", "warn"
        reading = f"{data.temperature_c:.1f} °C"
        words = [staff.name, reading, status, *(["；".join(parts)] if parts else [])]
        screen = Screen("verdict", name=staff.name, reading=reading, verdict=verdict,
                        next_step=_next_step(data, findings))
        self.say(" ".join(words), level=level, screen=screen,
                 log_text=f"morning check staff={staff.staff_id} attempt={data.attempt} "
                          f"fit={data.fit_for_duty} findings={','.join(findings) or '-'}")


def _next_step(data: StaffHealthCheck, findings: list[str]) -> NextStep | None:
    """A first fever: measure again in 10 minutes; off duty earlier today: the manager
    decides; any other exclusion: leave the post and tell the manager."""
    if data.fit_for_duty:
        return None
    if "excluded_earlier_today" in findings:
        return "see_manager"
    if "fever" in findings and data.attempt == 1:
        return "recheck"
    return "leave_post"


def _finding_text(finding: str) -> str:
    return FINDING_TEXT.get(finding) or finding_term(finding).slash()


STREAMING_SETTLE_READINGS = 3  # a streaming thermometer: 3 steady frames (150 ms at 20 Hz) make a reading


def resolve(station: MorningCheckConfig, config: Settings) -> MorningCheckConfig:
    """Fill what a station leaves to its devices: how many steady readings make a
    measurement follows from the thermometer's protocol (streaming or one line each)."""
    if station.settle_readings is not None:
        return station
    thermometer = next(d for d in config.devices if d.id == station.thermometer)
    streaming = bool(getattr(thermometer, "streaming", False))  # ThermometerConfig.streaming
    return station.model_copy(update={"settle_readings": STREAMING_SETTLE_READINGS if streaming else 1})
