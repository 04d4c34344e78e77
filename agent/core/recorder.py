"""The Recorder: the one door through which facts become stored records, alarms and media.

Workflows, screens and cameras never touch SQL or MQTT. They hand typed ``data`` to the
Recorder, which judges it against the rules, wraps it in the v1 envelope (id, times,
clock state, identity) and stores it. A call returns only once the record is committed,
so the feedback "saved" shown to a person is true. Telemetry and media go through it
too; beside it are ``reads`` (the store's named queries, read-only) and ``state`` (a
workflow's own notes that outlive a restart, ``agent.core.workflow_state``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.storage_alarm import ALARM as STORAGE_ALARM
from agent.core.storage_alarm import SUBJECT as STORAGE_SUBJECT
from agent.core.storage_alarm import StorageFailures
from agent.core.timeutil import clock_synced, rfc3339, uuid7
from agent.core.workflow_state import WorkflowState
from agent.records.alarm import AlarmData, Severity
from agent.records.asset_maintenance import AssetMaintenance
from agent.records.base import Judgement, RecordData, judge
from agent.records.basic_data import (
    AssetFacts,
    BasicData,
    CanteenProfile,
    DocumentFacts,
    Facts,
    StaffFacts,
    SupplierFacts,
)
from agent.records.envelope import ClockState, Envelope, MediaRef, Operator, PhotoNote, Source
from agent.records.rectification import Rectification
from agent.store import (
    PRIORITY_BY_NAME,
    BadgeTaken,
    BasicChange,
    BasicDataConflict,
    MediaDraft,
    RecordDraft,
    Saved,
    Store,
    StoreWriteError,
    staff_change,
)
from agent.words.alarms import bilingual, closes_by_rectification

__all__ = ["BadgeTaken", "BasicDataConflict", "MediaDraft", "Photo", "Recorded", "Recorder",
           "StoreWriteError"]  # the door's own types

log = logging.getLogger("agent.recorder")

DataT = TypeVar("DataT", bound=RecordData)


@dataclass(frozen=True, slots=True)
class Recorded(Generic[DataT]):
    """A committed record with its judgement, so callers never judge again or parse it back."""

    id: str
    seq: int
    payload: str  # the exact JSON that will be published
    type: str
    verdict: str | None
    findings: tuple[str, ...]
    data: DataT  # as stored: settled by its verdict (e.g. ``fit_for_duty``)
    photo: PhotoNote | None = None  # as stored: a station camera's photo, attached or why not


@dataclass(frozen=True, slots=True)
class Photo:
    """A checked image a person attached (a corrective action, a checklist item)."""

    content: bytes
    content_type: str  # image/jpeg or image/png
    suffix: str  # .jpg / .png


class ClockMonitor:
    """Caches whether the clock is trusted (checked at most once a minute)."""

    def __init__(self, probe: Callable[[], tuple[bool, str]] = clock_synced, every_s: float = 60) -> None:
        self._probe = probe
        self._every_s = every_s
        self._state: ClockState | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def state(self) -> ClockState:
        with self._lock:
            if self._state is None or time.monotonic() - self._checked > self._every_s:
                synced, source = self._probe()
                self._state = ClockState(synced=synced, source=source)
                self._checked = time.monotonic()
            return self._state


class Recorder:
    def __init__(self, config: Settings, store: Store, now: Callable[[], datetime],
                 clock: ClockMonitor | None = None) -> None:
        self.config = config
        self.store = store
        self.reads: Reads = store  # what workflows, screens and cameras may ask; never a write
        self.state = WorkflowState(store)  # a workflow's own notes that outlive a restart
        self.now = now
        self.clock = clock or ClockMonitor()
        self.tz = config.identity.tz
        self.storage = StorageFailures()  # commits that failed: storage_failed, held until it saves

    # --- records ---------------------------------------------------------------------

    def draft(self, data: RecordData, *, occurred_at: datetime | None = None, source: Source | None = None,
              operator: Operator | None = None, extra_findings: list[str] | None = None,
              media: list[MediaRef] | None = None) -> RecordDraft:
        """Build and validate the envelope (verdict from the rules); nothing stored yet."""
        return self._judged_draft(data, occurred_at=occurred_at, source=source, operator=operator,
                                  extra_findings=extra_findings, media=media)[0]

    def _judged_draft(self, data: DataT, *, occurred_at: datetime | None = None,
                      source: Source | None = None, operator: Operator | None = None,
                      extra_findings: list[str] | None = None, media: list[MediaRef] | None = None,
                      photo: PhotoNote | None = None) -> tuple[RecordDraft, DataT]:
        """The draft and the data as settled by its verdict."""
        occurred = (occurred_at or self.now()).astimezone(self.tz)
        judgement = judge(data, self.config.rules, occurred)
        findings = list(judgement.findings)
        for extra in extra_findings or []:
            if extra not in findings:
                findings.append(extra)
        verdict = judgement.verdict
        if extra_findings and verdict in (None, "pass"):
            verdict = "warn"
        data = data.settled(Judgement(verdict, findings))
        identity = self.config.identity
        envelope = Envelope[type(data)](  # type: ignore[misc,operator]  # parametrised at run time
            id=uuid7(), type=data.record_type, agent_id=identity.agent_id,
            school_id=identity.school_id, canteen_id=identity.canteen_id, seq=1,
            occurred_at=occurred, recorded_at=self.now().astimezone(self.tz),
            clock=self.clock.state(), source=source, operator=operator, verdict=verdict,
            findings=findings, data=data, media=media or [], photo=photo)
        payload = envelope.model_dump(mode="json")
        if photo is None:
            del payload["photo"]  # records of stations without a camera stay exactly v1
        payload["occurred_at"] = rfc3339(envelope.occurred_at)
        payload["recorded_at"] = rfc3339(envelope.recorded_at)
        draft = RecordDraft(payload, PRIORITY_BY_NAME[data.priority], occurred.date().isoformat(),
                            self._keep_until(data))
        return draft, data

    def record(self, data: DataT, *, occurred_at: datetime | None = None, source: Source | None = None,
               operator: Operator | None = None, extra_findings: list[str] | None = None,
               media: list[MediaRef] | None = None, photo_note: PhotoNote | None = None) -> Recorded[DataT]:
        """Judge, wrap and store one record; returns after commit, with its judgement."""
        draft, settled = self._judged_draft(data, occurred_at=occurred_at, source=source, operator=operator,
                                            extra_findings=extra_findings, media=media, photo=photo_note)
        saved: Saved = self._write(self.store.add_record, draft)
        log.info("record saved type=%s id=%s seq=%d verdict=%s", saved.type, saved.id, saved.seq,
                 saved.verdict)
        return Recorded(saved.id, saved.seq, saved.payload, saved.type, saved.verdict, saved.findings, settled,
                        photo_note)

    def record_once(self, key: str, marker: dict[str, Any], data: DataT, *, occurred_at: datetime | None = None,
                    source: Source | None = None, operator: Operator | None = None,
                    photo: Photo | None = None) -> Recorded[DataT] | None:
        """``record``, at most once per ``key``: the record commits together with the kv ``key``
        (``marker`` plus the record's id as ``record_id``), in one transaction that no other
        process can interleave (``Store.add_record_once``). None, nothing written, when
        ``key`` was set before. A ``photo`` (a person's upload) commits in the same
        transaction, linked to the record, or not at all."""
        if photo is not None:
            ref = photo_ref(photo)
            draft, settled = self._judged_draft(data, occurred_at=occurred_at, source=source, operator=operator,
                                                media=[ref])
            media = MediaDraft(ref.id, photo.content, photo.content_type, role="photo",
                               created_at=draft.envelope["recorded_at"], suffix=photo.suffix)
            saved_with: Saved | None = self._write(self.store.add_record_once_with_media, key,
                                                   {**marker, "record_id": draft.id}, draft, [media])
            if saved_with is None:
                log.info("record not saved type=%s: %s was set before", data.record_type, key)
                return None
            log.info("record saved type=%s id=%s seq=%d verdict=%s media=1", saved_with.type, saved_with.id,
                     saved_with.seq, saved_with.verdict)
            return Recorded(saved_with.id, saved_with.seq, saved_with.payload, saved_with.type, saved_with.verdict,
                            saved_with.findings, settled)
        draft, settled = self._judged_draft(data, occurred_at=occurred_at, source=source, operator=operator)
        saved: Saved | None = self._write(self.store.add_record_once, key, {**marker, "record_id": draft.id}, draft)
        if saved is None:
            log.info("record not saved type=%s: %s was set before", data.record_type, key)
            return None
        log.info("record saved type=%s id=%s seq=%d verdict=%s", saved.type, saved.id, saved.seq,
                 saved.verdict)
        return Recorded(saved.id, saved.seq, saved.payload, saved.type, saved.verdict, saved.findings, settled)

    def flush_storage_failure(self) -> bool:
        """Commit a held ``storage_failed`` alarm once the store takes writes (agent.core.storage_alarm)."""
        return self.storage.flush(self.store, self.draft, alarm_key(STORAGE_ALARM, STORAGE_SUBJECT))

    def note_storage_failure(self, exc: StoreWriteError) -> None:
        """A write that failed outside the Recorder (a workflow's own store call)."""
        self.storage.note(self.now(), exc)

    def _write(self, write: Callable[..., Any], *args: Any, note_failure: bool = True) -> Any:
        """One store write; a failure is noted for ``storage_failed`` (unless told not to)
        and re-raised (not saved)."""
        self.flush_storage_failure()  # a held storage_failed goes first, once the store works
        try:
            return write(*args)
        except StoreWriteError as exc:
            if note_failure:
                self.note_storage_failure(exc)
            raise

    def _keep_until(self, data: RecordData) -> str | None:
        """Purchase records: 6 months past the product's expiry, if that is beyond 2 years; the
        issues and discards of a batch as long as its receipt (on hand is the receipt less
        them: a movement deleted before its receipt would put stock back on the shelf)."""
        expiry = getattr(data, "expiry_date", None)
        if data.record_type not in ("ingredient_purchase", "stock_issue", "stock_discard") or not isinstance(
                expiry, date):
            return None
        days = self.config.store.purchase_retention_days_past_expiry
        return (expiry + timedelta(days=days)).isoformat()

    # --- alarms ----------------------------------------------------------------------

    def raise_alarm(self, kind: str, subject: dict[str, str], message: str, *,
                    severity: Severity = "major", details: dict[str, Any] | None = None,
                    occurred_at: datetime | None = None, source: Source | None = None,
                    media: list[MediaRef] | None = None) -> Saved | None:
        """Raise an alarm once per (kind, subject); None when it is already open."""
        data = AlarmData(kind=kind, state="raised", severity=severity, subject=subject,
                         message=bilingual(kind, message), details=details or {})
        draft = self.draft(data, occurred_at=occurred_at, source=source, media=media)
        saved: Saved | None = self._write(self.store.raise_alarm, alarm_key(kind, subject), draft)
        if saved:
            log.warning("alarm raised kind=%s subject=%s id=%s", kind, _subject_text(subject), saved.id)
        return saved

    def clear_alarm(self, kind: str, subject: dict[str, str], message: str = "cleared", *,
                    occurred_at: datetime | None = None, details: dict[str, Any] | None = None,
                    rectification_id: str | None = None) -> Saved | None:
        """Clear the open alarm for (kind, subject); None when none is open. Its condition
        cleared (``closed_by: condition``), or, with ``rectification_id``, a person's 整改
        closed it (an event alarm: ``rectify_alarm``)."""
        if not self.store.alarm_is_open(alarm_key(kind, subject)):
            return None
        data = AlarmData(kind=kind, state="cleared", severity="info", subject=subject,
                         message=bilingual(kind, message), details=details or {},
                         closed_by="rectification" if rectification_id else "condition",
                         rectification_id=rectification_id)
        draft = self.draft(data, occurred_at=occurred_at)
        saved: Saved | None = self._write(self.store.clear_alarm, alarm_key(kind, subject), draft)
        if saved:
            log.info("alarm cleared kind=%s subject=%s id=%s closed_by=%s", kind, _subject_text(subject), saved.id,
                     data.closed_by)
        return saved

    def acknowledge_alarm(self, raised_id: str, by: str, note: str | None = None) -> bool:
        """A person has seen an open alarm (with a note, e.g. "technician called"): local to
        the agent, it changes nothing on the platform and does not end the alarm. False when
        it was acknowledged before; LookupError when no such alarm is open."""
        row = self.store.alarm_by_raise(raised_id)
        if row is None or row["state"] != "raised":
            raise LookupError(f"no open alarm {raised_id}")
        done: bool = self._write(self.store.acknowledge_alarm, raised_id, by, self.now().isoformat(), note or None)
        log.info("alarm acknowledged kind=%s alarm=%s by=%s note=%s", row["kind"], raised_id, by, bool(note))
        return done

    def rectify_alarm(self, raised_id: str, action_text: str, resolved_by: str, *,
                      restore_fitness: bool = False, photo: Photo | None = None) -> Recorded[Rectification]:
        """A person's 整改 on an alarm: the ``rectification`` record linked to its raise.

        An event alarm (a fever: ``alarm_texts.closes_by_rectification``) is closed by it:
        the clear follows, ``closed_by: rectification``. A condition alarm (a device
        offline, a fridge too warm) is not: the 整改 is recorded and linked, and the alarm
        stays open until its condition clears (and comes back if it returns). A 整改 may
        also follow a condition alarm that has cleared already (what was done about the
        cook without a mask). For a fever, ``restore_fitness`` puts the person back on duty
        that day (the reason is the action text): ``store.duty`` reads it from this record.
        Raises LookupError for an alarm never raised, or one a 整改 has closed already."""
        row = self.store.alarm_by_raise(raised_id)
        if row is None:
            raise LookupError(f"no alarm {raised_id}")
        closes = closes_by_rectification(row["kind"])
        is_open = row["state"] == "raised"
        if not is_open and (closes or self.closed_by(row) == "rectification"):
            raise LookupError(f"alarm {raised_id} is rectified already")
        subject = json.loads(row["subject"])
        fever = row["kind"] == "fever"
        data = Rectification(alarm_id=raised_id, alarm_kind=row["kind"], subject=subject,
                             action_text=action_text, resolved_by=resolved_by,
                             restores_fitness=restore_fitness if fever else None,
                             clears_alarm=closes and is_open)
        saved = self.record_with_photo(data, photo)
        if data.clears_alarm:
            self.clear_alarm(row["kind"], subject, f"已整改 / rectified: rectification {saved.id}",
                             rectification_id=saved.id)
        log.info("alarm rectified kind=%s alarm=%s rectification=%s by=%s clears=%s restores_fitness=%s",
                 row["kind"], raised_id, saved.id, resolved_by, data.clears_alarm, data.restores_fitness)
        return saved

    def closed_by(self, row: Any) -> str | None:
        """How a stored alarm (a row of ``store.alarms``) ended: ``condition``, ``rectification``,
        or None while open. Clears written before ``closed_by`` existed were rectifications
        when their message named one."""
        if row["state"] != "cleared" or not row["cleared_id"]:
            return None
        clear = self.store.get_record(row["cleared_id"])
        data = clear["data"] if clear else {}
        if data.get("closed_by"):
            return str(data["closed_by"])
        return "rectification" if "rectification" in str(data.get("message", "")) else "condition"

    def record_with_photo(self, data: DataT, photo: Photo | None, *, photo_note: PhotoNote | None = None,
                          occurred_at: datetime | None = None, operator: Operator | None = None,
                          source: Source | None = None, extra_findings: list[str] | None = None) -> Recorded[DataT]:
        """``record`` with an optional photo (role ``photo``): the one way a photo joins a
        record, for console uploads and station cameras alike. The record and the photo's
        media object (linked to the record's id) are committed in one transaction: a record
        never names missing media, and no photo is sent for a record that was not saved.

        ``photo_note`` is a station camera's account (``PhotoNote``); it goes on the record
        and, when a photo is given, becomes ``attached``. A station photo the store cannot
        take (its file, or the transaction with it) never costs the record: the record is
        then stored alone, ``unavailable`` (``not_stored``); if that fails too, it raises.
        Without a note (a person's upload) the first failure is raised, so the person can
        try again."""
        kwargs: dict[str, Any] = {"occurred_at": occurred_at, "operator": operator, "source": source,
                                  "extra_findings": extra_findings}
        if photo is None:
            return self.record(data, photo_note=photo_note, **kwargs)
        ref = photo_ref(photo)
        note = photo_note.model_copy(update={"state": "attached", "reason": None}) if photo_note else None
        draft, settled = self._judged_draft(data, media=[ref], photo=note, **kwargs)
        media = MediaDraft(ref.id, photo.content, photo.content_type, role="photo",
                           created_at=draft.envelope["recorded_at"], suffix=photo.suffix)
        try:
            # a station's failure is noted only if the record alone, tried next, fails as well
            return self._commit_with_media(draft, settled, [media], note, note_failure=photo_note is None)
        except (StoreWriteError, OSError) as exc:
            if photo_note is None:
                raise
            log.error("record photo not stored type=%s camera=%s error=%s", data.record_type,
                      photo_note.camera_id, exc)
            unstored = photo_note.model_copy(update={"state": "unavailable", "reason": "not_stored",
                                                     "taken_at": None})
            return self.record(data, photo_note=unstored, **kwargs)

    def record_with_media(self, data: DataT, media: list[MediaDraft], *, occurred_at: datetime | None = None,
                          source: Source | None = None, operator: Operator | None = None) -> Recorded[DataT]:
        """``record`` naming ``media`` (their refs, in that order), e.g. a vision violation's
        snapshot and clip: the record and the media objects (linked to the record's id) are
        committed in one transaction, so no media is sent for a record that was not saved.
        A failure (the store's, or a media file's) is raised and leaves none of it behind."""
        refs = [MediaRef.model_validate(item.ref()) for item in media]
        draft, settled = self._judged_draft(data, occurred_at=occurred_at, source=source, operator=operator,
                                            media=refs)
        return self._commit_with_media(draft, settled, media)

    def _commit_with_media(self, draft: RecordDraft, settled: DataT, media: list[MediaDraft],
                           photo: PhotoNote | None = None, *, note_failure: bool = True) -> Recorded[DataT]:
        saved: Saved = self._write(self.store.add_record_with_media, draft, media, note_failure=note_failure)
        log.info("record saved type=%s id=%s seq=%d verdict=%s media=%d", saved.type, saved.id, saved.seq,
                 saved.verdict, len(media))
        return Recorded(saved.id, saved.seq, saved.payload, saved.type, saved.verdict, saved.findings, settled,
                        photo)

    def add_media(self, media_id: str, content: bytes, content_type: str, *, role: str, created_at: str,
                  suffix: str = ".bin", record_id: str | None = None) -> dict[str, Any]:
        """Store a media object (a snapshot the platform asked for, ``record_id`` None) and queue
        it for the platform; returns its MediaRef dict. Nothing stays behind when it fails."""
        return self.store.add_media(media_id, content, content_type, record_id=record_id, role=role,
                                    created_at=created_at, suffix=suffix)

    # --- basic data ------------------------------------------------------------------------

    def change_basic_data(self, facts: Facts, *, action: str, by: str, origin: str = "console",
                          expected_version: int | None, files: dict[str, Photo] | None = None,
                          occurred_at: datetime | None = None) -> Recorded[BasicData]:
        """One entity of the school's basic data as it is after a change, and the
        ``basic_data`` record that tells the platform, with its photos or documents, in one
        transaction (``Store.apply_basic_data``). ``expected_version``: the version the
        change was made on (the console's form); the store refuses it when the entity has
        changed since (``BasicDataConflict``), or a badge another active person holds
        (``BadgeTaken``), and nothing is written. None: made on whatever is stored (the
        config's seed, a platform item without a version). ``files``: field -> a checked
        photo or PDF, stored as media of the record; the field names its media id (a
        supplier's ``documents`` gets one more)."""
        entity = ENTITY_OF[type(facts)]
        entity_id = self.config.identity.canteen_id if entity == "canteen" else str(getattr(facts, ID_FIELD[entity]))
        old = self.store.basic_data(entity, entity_id)
        current = int(old["version"]) if old else 0
        base = current if expected_version is None else expected_version
        refs, media = [], []
        when = rfc3339((occurred_at or self.now()).astimezone(self.tz))
        for field_name, content in (files or {}).items():
            ref = photo_ref(content)
            refs.append(ref.model_copy(update={"role": MEDIA_ROLE.get(field_name, "photo")}))
            media.append(MediaDraft(ref.id, content.content, content.content_type, role=refs[-1].role,
                                    created_at=when, suffix=content.suffix))
            if field_name == "documents":
                assert isinstance(facts, SupplierFacts)
                facts = facts.model_copy(update={"documents": [*facts.documents, ref.id]})
            else:
                facts = facts.model_copy(update={field_name: ref.id})
        value = facts.model_dump(mode="json")
        before = old["value"] if old else {}
        changed = sorted(k for k in value if value.get(k) != before.get(k)) if old else sorted(
            k for k, v in value.items() if v not in (None, [], ""))
        data = BasicData(entity=entity, entity_id=entity_id, action=action, version=base + 1,
                         origin=origin, entered_by=by, changed=changed, **{entity: facts})
        operator = Operator(staff_id=by) if origin == "console" else None
        source = Source(device_id=origin, kind=origin)
        draft, settled = self._judged_draft(data, occurred_at=occurred_at, operator=operator, source=source,
                                            media=refs)
        at = self.now().isoformat()
        change = (staff_change(value, by, origin, at, base) if entity == "staff"
                  else BasicChange(entity, entity_id, value, by, origin, at, base))
        saved: Saved = self._write(self.store.apply_basic_data, [change], draft, media)[0]
        log.info("basic data changed entity=%s id=%s version=%d action=%s by=%s origin=%s record=%s", entity,
                 entity_id, base + 1, action, by, origin, saved.id)
        return Recorded(saved.id, saved.seq, saved.payload, saved.type, saved.verdict, saved.findings, settled)

    def record_maintenance(self, entry: AssetMaintenance, asset: AssetFacts, *, photo: Photo | None = None,
                           occurred_at: datetime | None = None) -> Recorded[AssetMaintenance]:
        """A maintenance, repair or calibration entry (``asset_maintenance``) and the asset's
        dates it moves (calibrated on / calibration due, or maintenance due), in one
        transaction with its photo. An asset the agent knew only as a device gets its row."""
        update: dict[str, Any] = {}
        if entry.work == "calibration":
            update = {"calibrated_on": entry.done_on, "calibration_due": entry.next_due}
        elif entry.next_due is not None:
            update = {"maintenance_due": entry.next_due}
        moved = asset.model_copy(update=update)
        refs, media = [], []
        if photo is not None:
            ref = photo_ref(photo)
            refs.append(ref)
            media.append(MediaDraft(ref.id, photo.content, photo.content_type, role="photo",
                                    created_at=rfc3339((occurred_at or self.now()).astimezone(self.tz)),
                                    suffix=photo.suffix))
        draft, settled = self._judged_draft(entry, occurred_at=occurred_at, operator=Operator(staff_id=entry.entered_by),
                                            source=Source(device_id="console", kind="console"), media=refs)
        change = BasicChange("asset", asset.asset_id, moved.model_dump(mode="json"), entry.entered_by, "console",
                             self.now().isoformat())
        saved: Saved = self._write(self.store.apply_basic_data, [change], draft, media)[0]
        log.info("asset maintenance recorded asset=%s work=%s next_due=%s record=%s", asset.asset_id, entry.work,
                 entry.next_due, saved.id)
        return Recorded(saved.id, saved.seq, saved.payload, saved.type, saved.verdict, saved.findings, settled)

    # --- telemetry -----------------------------------------------------------------------

    def add_telemetry(self, batch_id: str, device_id: str, batch: dict[str, Any],
                      samples: list[tuple[str, dict[str, Any]]]) -> None:
        """Keep a device's downsampled samples locally and queue their batch for the platform."""
        self.store.add_telemetry(batch_id, device_id, batch, samples)

    def attach_photo(self, record_id: str, photo: Photo, *, media_id: str | None = None,
                     created_at: str | None = None) -> dict[str, Any]:
        """Store a photo as a media object (role ``photo``) linked to ``record_id``, a record
        already committed; it is queued for the platform like any media. For a station photo
        that came in once its record was saved (``pending``)."""
        return self.store.add_media(media_id or uuid7(), photo.content, photo.content_type, record_id=record_id,
                                    role="photo", created_at=created_at or rfc3339(self.now().astimezone(self.tz)),
                                    suffix=photo.suffix)


# what a file field's media object is: a health certificate's photo, or a document
MEDIA_ROLE = {"documents": "document", "licence_photo": "document", "media_id": "document"}
ENTITY_OF: dict[type[Facts], str] = {CanteenProfile: "canteen", DocumentFacts: "document", StaffFacts: "staff",
                                     SupplierFacts: "supplier", AssetFacts: "asset"}
ID_FIELD = {"document": "document_id", "staff": "staff_id", "supplier": "supplier_id", "asset": "asset_id"}


def photo_ref(photo: Photo, media_id: str | None = None) -> MediaRef:
    return MediaRef(id=media_id or uuid7(), content_type=photo.content_type, bytes=len(photo.content),
                    sha256=hashlib.sha256(photo.content).hexdigest(), role="photo")


def alarm_key(kind: str, subject: dict[str, str]) -> str:
    return kind + "|" + _subject_text(subject)


def _subject_text(subject: dict[str, str]) -> str:
    return ",".join(f"{k}={subject[k]}" for k in sorted(subject))
