"""What every serial station workflow shares: device routing, badges, meals, menus, dates.

A station (``StationConfig``) binds devices to one duty. Its workflow is a small state
machine fed the readings of *its* devices only, ticked once a second by the bus. It
answers the person through ``Feedback`` after every step and writes through the
``Recorder`` (records are committed before the feedback says "saved"). A write the
store cannot commit (disk full) is answered "not saved, tell the manager" and noted for
the ``storage_failed`` alarm; the station then takes the next badge as usual.

A station that names a camera writes every record through ``record``, which attaches the
photo of that moment (``agent.core.photos``): at most ``photos.wait_ms`` later, and never
instead of the record.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from agent.config.settings import Settings
from agent.config.stations import StationConfig, WeighingStationConfig
from agent.core.feedback import Feedback, Level, Screen
from agent.core.menu import meal_dishes
from agent.core.photos import StationCamera
from agent.core.recorder import Recorded, Recorder, StoreWriteError
from agent.records.base import RecordData
from agent.records.envelope import Operator, Source
from agent.words import terms as words
from drivers.readings import (
    BadgeScan,
    Reading,
    StableWeight,
    TemperatureReading,
    TextInput,
    mask_card,
)

log = logging.getLogger("agent.workflows.stations")


@dataclass(frozen=True, slots=True)
class Staff:
    staff_id: str
    name: str
    role: str | None
    health_cert_expires_on: date | None
    badge: str

    @classmethod
    def from_roster(cls, row: dict[str, Any], badge: str) -> Staff:
        expires = row.get("health_cert_expires_on")
        return cls(row["staff_id"], row.get("name") or row["staff_id"], row.get("role"),
                   _to_date(expires), badge)

    @property
    def operator(self) -> Operator:
        return Operator(staff_id=self.staff_id, badge=self.badge)


def _to_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


# what every station's devices are called (a kind names the roles it adds: ``StationKind.role_words``)
COMMON_ROLE_WORDS = {"badge": words.Term("刷卡器", "badge reader"), "keypad": words.Term("键盘", "keypad")}
BADGE_FIRST = "请先刷卡 / badge first"
NOT_SAVED = "未保存，请告知主管 / not saved, tell the manager"
EMPTY_PAN_G = 1.0  # at or below this (after tare) nothing is on the scale
DataT = TypeVar("DataT", bound=RecordData)
ConfigT = TypeVar("ConfigT", bound=StationConfig)
WeighingT = TypeVar("WeighingT", bound=WeighingStationConfig)
DeviceNotes = Callable[[str, str], None]  # (device id, counter): agent.device_registry.DeviceRegistry.count


class StationWorkflow(Generic[ConfigT]):
    """Base of the station workflows: routing by device id, badge handling, feedback."""

    kind: ClassVar[str]

    def __init__(self, station: ConfigT, config: Settings, recorder: Recorder,
                 feedback: Feedback, camera: StationCamera | None = None,
                 device_notes: DeviceNotes | None = None) -> None:
        self.station = station
        self.camera = camera  # the station's camera: a photo on every record
        self.device_notes = device_notes  # counts in a device's health what the station found wrong
        self.config = config
        self.recorder = recorder
        self.reads = recorder.reads  # questions to the store; writes go through the recorder
        self.state = recorder.state  # this workflow's own notes that outlive a restart
        self.feedback = feedback
        self.tz = config.identity.tz
        self.name = f"{self.kind}:{station.id}"
        self.devices = station.devices()  # device id -> role: the readings of these only
        # device id -> its kind (``ir_thermometer`` ...), for each record's source
        self._device_kinds = {d.id: str(type(d).model_fields["kind"].default) for d in config.devices}
        self._last_card: tuple[str, datetime] | None = None

    # --- the Workflow protocol -------------------------------------------------------

    def wants(self, reading: Reading) -> bool:
        return reading.device_id in self.devices

    def on_reading(self, reading: Reading) -> None:
        with self.saving():
            self._route(reading)

    def tick(self, now: datetime) -> None:
        with self.saving():
            self.on_tick(now)

    @contextmanager
    def saving(self) -> Iterator[None]:
        """A commit that fails is told to the person (never a silent traceback)."""
        try:
            yield
        except StoreWriteError as exc:
            self.recorder.note_storage_failure(exc)
            log.error("station write not saved station=%s error=%s", self.station.id, exc)
            self.say(NOT_SAVED, level="error", log_text=f"not saved station={self.station.id}",
                     screen=Screen("verdict", verdict="fail", next_step="not_saved"))

    def _route(self, reading: Reading) -> None:
        if isinstance(reading, BadgeScan):
            if not self._repeat(reading):
                self.on_badge(reading)
        elif isinstance(reading, TemperatureReading):
            self.on_temperature(reading)
        elif isinstance(reading, StableWeight):
            self.on_weight(reading)
        elif isinstance(reading, TextInput):
            text = reading.text.strip()
            if text:
                self.on_text(reading, text, self.devices.get(reading.device_id) == "barcode")
        else:
            self.on_other(reading)

    def on_tick(self, now: datetime) -> None:
        """Sessions past their deadline end here (subclasses); once a second."""

    # --- hooks -------------------------------------------------------------------------

    def on_badge(self, scan: BadgeScan) -> None:
        raise NotImplementedError

    def on_temperature(self, reading: TemperatureReading) -> None:
        """Thermometers stream: readings outside a session are simply not for anyone."""

    def on_weight(self, reading: StableWeight) -> None:
        self.say(BADGE_FIRST, level="warn")

    def on_text(self, reading: TextInput, text: str, from_barcode: bool) -> None:
        self.say(BADGE_FIRST, level="warn")

    def on_other(self, reading: Reading) -> None:
        """A reading of a type the base does not route (a kind with a new device overrides it)."""

    # --- helpers ---------------------------------------------------------------------

    def record(self, data: DataT, *, occurred_at: datetime, source: Source | None, operator: Operator | None,
               extra_findings: list[str] | None = None) -> Recorded[DataT]:
        """Commit one record, with the photo of this moment when the station has a camera."""
        if self.camera is None:
            return self.recorder.record(data, occurred_at=occurred_at, source=source, operator=operator,
                                        extra_findings=extra_findings)
        shot = self.camera.take()
        saved = self.recorder.record_with_photo(data, shot.photo, photo_note=shot.note, occurred_at=occurred_at,
                                                source=source, operator=operator, extra_findings=extra_findings)
        shot.follow(lambda photo: self.recorder.attach_photo(saved.id, photo), saved.id)
        note = saved.photo or shot.note  # as stored: a photo the store refused is unavailable
        if note.state == "unavailable":
            log.warning("station record without photo station=%s camera=%s record=%s reason=%s detail=%s",
                        self.station.id, note.camera_id, saved.id, note.reason, shot.detail or "-")
        else:
            log.info("station record photo station=%s camera=%s record=%s photo=%s", self.station.id,
                     note.camera_id, saved.id, note.state)
        return saved

    def open_session(self, at: datetime | None = None) -> Any:
        """The station's open session, its idle timeout restarted at ``at`` (if given);
        without one, ask the person to badge first (None)."""
        session = getattr(self, "session", None)
        if session is None:
            self.say(BADGE_FIRST, level="warn")
        elif at is not None:
            session.deadline = self.session_deadline(at)
        return session

    def session_deadline(self, at: datetime) -> datetime:
        """When a session idle since ``at`` ends."""
        return at + timedelta(seconds=self.station.session_timeout_s)

    def say(self, text: str, *, level: Level = "info", log_text: str | None = None,
            screen: Screen | None = None) -> None:
        self.feedback.say(text, level=level, station=self.station.id, log_text=log_text, screen=screen)

    def identify(self, scan: BadgeScan) -> Staff | None:
        """The person on the roster for this card; unknown cards are answered here."""
        row = self.reads.staff_by_badge(scan.card)
        if row is None:
            self.say("未登记的工卡 / unknown badge", level="error",
                     log_text=f"unknown badge card={mask_card(scan.card)}")
            return None
        return Staff.from_roster(row, scan.card)

    def _repeat(self, scan: BadgeScan) -> bool:
        """Readers repeat a card held against them: the same card within repeat_scan_s is one scan."""
        last, self._last_card = self._last_card, (scan.card, scan.at)
        if last is None or last[0] != scan.card:
            return False
        return abs((scan.at - last[1]).total_seconds()) < self.station.repeat_scan_s

    def source(self, role: str) -> Source | None:
        device_id = getattr(self.station, role)
        if device_id is None:
            return None
        return Source(device_id=device_id, kind=self._device_kinds[device_id])

    def note_device(self, role: str, counter: str) -> None:
        """Count in the health of the station's ``role`` device (e.g. a thermometer's
        ``implausible_readings``); the device registry shows it to the installer."""
        device_id = getattr(self.station, role, None)
        if device_id is not None and self.device_notes is not None:
            self.device_notes(device_id, counter)

    def day_of(self, at: datetime) -> str:
        return at.astimezone(self.tz).date().isoformat()

    def records_today(self, type_: str, day: str, staff_id: str | None = None) -> list[dict[str, Any]]:
        """Today's records of one type (optionally one person's), oldest first."""
        return self.reads.records_of_day(type_, day, staff_id)

    def meal_at(self, at: datetime) -> str | None:
        """The meal whose window (from ``meal_margin_min`` before its start to its end or
        sample deadline, whichever is later) contains ``at``; the latest-starting wins."""
        local = at.astimezone(self.tz)
        margin = timedelta(minutes=self.station.meal_margin_min)
        found: tuple[datetime, str] | None = None
        for meal, window in self.config.schedules.meals.items():
            if local.isoweekday() not in getattr(window, "weekdays", range(1, 8)):
                continue  # no such meal on this weekday
            start = datetime.combine(local.date(), window.start, self.tz)
            end_time = max(window.end, window.sample_deadline or window.end)
            end = datetime.combine(local.date(), end_time, self.tz)
            if start - margin <= local <= end and (found is None or start > found[0]):
                found = (start, meal)
        return found[1] if found else None

    def dishes(self, meal: str, day: str) -> list[str]:
        """Today's dishes of ``meal`` (``agent.core.menu``: the platform's menu, else the
        school's plan, else the config's)."""
        return meal_dishes(self.reads, self.config, meal, date.fromisoformat(day))


class WeighingWorkflow(StationWorkflow[WeighingT]):
    """A station that weighs: net grams on the pan within an open session."""

    def weighing_session(self, reading: StableWeight) -> tuple[Any, float] | None:
        """The open session and the net grams on the pan (less ``tare_g``); None without a
        session, or when the pan is empty (lifting the container is not activity)."""
        session = self.open_session()
        if session is None:
            return None
        grams = round(reading.grams - self.station.tare_g, 1)
        if grams <= EMPTY_PAN_G:
            return None
        session.deadline = self.session_deadline(reading.at)
        return session, grams

def meal_label(meal: str) -> str:
    """A meal's Chinese name, as the stations say it (``午餐``); a site's own meal as named."""
    return words.meal(meal).zh


# --- typed values at a keypad or barcode reader --------------------------------------------

_DATE_FORMATS = (
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), False),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), False),
    (re.compile(r"^(\d{2})(\d{2})(\d{2})$"), True),  # YYMMDD (GS1 style, 20YY)
)


def parse_date(text: str) -> date:
    """``2026-11-30``, ``2026/11/30``, ``20261130`` or ``261130``; GS1 day ``00`` = month end."""
    for pattern, short in _DATE_FORMATS:
        m = pattern.match(text.strip())
        if m is None:
            continue
        year, month, day = (int(g) for g in m.groups())
        if short:
            year += 2000
        if day == 0 and 1 <= month <= 12:
            day = calendar.monthrange(year, month)[1]
        return date(year, month, day)  # ValueError for 2026-02-30
    raise ValueError(f"not a date: {text!r}")


def parse_choice(text: str, count: int) -> int | None:
    """``"3"`` → 2 (0-based) when 1 ≤ 3 ≤ count; None when the text is not such a number."""
    if text.isdigit() and 1 <= int(text) <= count:
        return int(text) - 1
    return None
