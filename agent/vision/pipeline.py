"""Per-camera analysis: frames in, violations (records, alarms, evidence) out.

For every frame the camera source hands over (at most ``analyse_fps``):

    working hours? -> motion gate -> face detector (on the moving region or the whole
    frame) -> mask classifier on each face -> hat classifier (once the site is enrolled)
    -> tracker -> compliance episodes -> evidence

Detection runs only while something moves, for ``motion_hold_s`` after, and while
somebody is being tracked; an idle kitchen costs a downscaled frame difference per
analysed frame. Model sessions are loaded once and shared by all cameras; one lock
serialises inference so two cameras never fight over the box's two cores.

``CameraWorker`` is the supervised component of one camera: it runs the camera's decode
thread, analyses what arrives, reports the camera's health (SILENT after ``silent_after_s``
without frames: the agent's device-health watch raises ``camera_offline``) and publishes its figures to ``agent.devices``. An
exception in one camera's worker is the supervisor's to restart; the other cameras go on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from agent.config.devices import CameraConfig
from agent.config.vision import VisionConfig
from agent.core.recorder import Recorder
from agent.device_registry import DeviceRegistry
from agent.vision.camera import CameraSource, Frame
from agent.vision.compliance import (
    Cleared,
    Compliance,
    Event,
    Kind,
    Observation,
    Raised,
    Rules,
    within_hours,
)
from agent.vision.crops import Box
from agent.vision.evidence import EvidenceCollector
from agent.vision.faces import Face
from agent.vision.motion import MotionDetector
from agent.vision.scene import VisionModels as VisionModels  # re-exported: its old home
from agent.vision.scene import find_faces, judge_faces
from agent.vision.tracking import FaceTracker
from drivers.readings import DeviceHealth, DeviceState, HealthSink

log = logging.getLogger("agent.vision.pipeline")

# Detect on the moving region only when it is at most this share of the frame.
CROP_MAX_SHARE = 0.5
CROP_MIN_SIDE = 160
FIGURES_EVERY_S = 5.0
VISION_ALARMS = ("no_mask", "no_hat")


@dataclass
class Timings:
    """Where an analysed frame's time goes (seconds, summed over ``frames``)."""

    frames: int = 0
    detected_frames: int = 0  # frames that passed the motion gate
    motion_s: float = 0.0
    detect_s: float = 0.0
    classify_s: float = 0.0
    other_s: float = 0.0  # tracking, compliance, evidence
    total_s: float = 0.0
    faces: int = 0

    def as_dict(self) -> dict[str, float | int]:
        per = max(1, self.frames)
        return {"frames": self.frames, "detected_frames": self.detected_frames,
                "motion_ms": round(1000 * self.motion_s / per, 2),
                "detect_ms": round(1000 * self.detect_s / max(1, self.detected_frames), 2),
                "classify_ms": round(1000 * self.classify_s / max(1, self.detected_frames), 2),
                "total_ms": round(1000 * self.total_s / per, 2)}


@dataclass
class FrameResult:
    """What one analysed frame produced (tests and the bench look at it)."""

    t: float
    gated: bool  # True: nothing moved, no detection ran
    faces: list[tuple[int, Box, dict[Kind, float | None]]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def compliance_rules(vision: VisionConfig) -> Rules:
    return Rules(persist_s=vision.persist_s, clear_s=vision.clear_s, agree=vision.agree_frames,
                 thresholds={"no_mask": vision.mask_threshold, "no_hat": 1.0 - vision.hat_threshold})


class CameraPipeline:
    """The analysis of one camera's frames; no threads of its own."""

    def __init__(self, cam: CameraConfig, vision: VisionConfig, models: VisionModels,
                 evidence: EvidenceCollector | None, tz: ZoneInfo) -> None:
        self.cam = cam
        self.vision = vision
        self.models = models
        self.evidence = evidence
        self.tz = tz
        zones = [z.points for z in cam.ignore_zones]
        self.zones = zones
        self.motion = MotionDetector(cam.motion_min_area, zones)
        self.tracker = FaceTracker(max_age_s=vision.track_max_age_s)
        self.compliance = Compliance(compliance_rules(vision))
        self.timings = Timings()
        self.last_motion_t: float | None = None
        self.in_hours = True
        self.hat_on = models.hat is not None and "hat" in cam.checks
        self.mask_on = "mask" in cam.checks

    def analyse(self, frame: Frame) -> FrameResult:
        started = time.perf_counter()
        result = self._analyse(frame)
        if self.evidence is not None:
            tail = time.perf_counter()
            self._evidence(frame, result)
            self.timings.other_s += time.perf_counter() - tail
        self.timings.frames += 1
        self.timings.total_s += time.perf_counter() - started
        return result

    def _analyse(self, frame: Frame) -> FrameResult:
        t, at = frame.t, frame.at
        if not within_hours(at, self.cam.working_hours, self.tz):
            if self.in_hours:
                log.info("vision.hours.closed camera=%s", self.cam.id)
            self.in_hours = False
            self.tracker.clear()
            return FrameResult(t, True, events=list(self.compliance.end_all(t, at, "outside_working_hours")))
        self.in_hours = True
        tick = time.perf_counter()
        motion = self.motion.update(frame.image)
        self.timings.motion_s += time.perf_counter() - tick
        if motion.moving:
            self.last_motion_t = t
        recent = self.last_motion_t is not None and t - self.last_motion_t <= self.vision.motion_hold_s
        if not (motion.moving or recent or self.tracker.active):
            return FrameResult(t, True)
        regions = list(motion.regions) + [tr.box for tr in self.tracker.tracks.values()]
        faces = self._detect(frame.image, regions)
        probs = self._classify(frame.image, faces)
        tick = time.perf_counter()
        ids, lost = self.tracker.update(t, [f.box for f in faces])
        observations = [Observation(i, f.box, p) for i, f, p in zip(ids, faces, probs, strict=True)]
        events: list[Event] = list(self.compliance.observe(t, at, observations))
        events += self.compliance.end_tracks(t, at, lost, "left")
        self.timings.other_s += time.perf_counter() - tick
        return FrameResult(t, False, [(i, f.box, p) for i, f, p in zip(ids, faces, probs, strict=True)],
                           events)

    def _detect(self, image: np.ndarray, regions: list[Box]) -> list[Face]:
        tick = time.perf_counter()
        faces = find_faces(self.models, self.vision, image, detection_region(image.shape, regions),
                           self.zones)
        self.timings.detect_s += time.perf_counter() - tick
        self.timings.detected_frames += 1
        self.timings.faces += len(faces)
        return faces

    def _classify(self, image: np.ndarray, faces: list[Face]) -> list[dict[Kind, float | None]]:
        tick = time.perf_counter()
        judgements = judge_faces(self.models, self.vision, image, faces, self.mask_on, self.hat_on)
        self.timings.classify_s += time.perf_counter() - tick
        return [j.as_dict() for j in judgements]

    def _evidence(self, frame: Frame, result: FrameResult) -> None:
        evidence = self.evidence
        assert evidence is not None  # called only with evidence configured
        if not result.gated:
            evidence.note_faces(frame.t, [(i, box) for i, box, _ in result.faces])
        for event in result.events:
            if isinstance(event, Raised):
                evidence.begin(event, frame.image, [(i, box) for i, box, _ in result.faces])
            elif isinstance(event, Cleared):
                evidence.clear(event)
        evidence.poll(frame.t)

    def end(self, t: float, at: datetime, reason: str) -> list[Cleared]:
        """The camera went away: every tracked person has left as far as we know."""
        self.tracker.clear()
        self.motion.reset()
        cleared = self.compliance.end_all(t, at, reason)
        if self.evidence is not None:
            for event in cleared:
                self.evidence.clear(event)
        return cleared


def detection_region(shape: tuple[int, ...], regions: list[Box]) -> tuple[int, int, int, int] | None:
    """The padded union of moving regions and tracked faces, or None for the whole frame."""
    if not regions:
        return None
    height, width = shape[:2]
    x1 = min(r[0] for r in regions)
    y1 = min(r[1] for r in regions)
    x2 = max(r[2] for r in regions)
    y2 = max(r[3] for r in regions)
    pad = max(x2 - x1, y2 - y1) * 0.25 + 16
    x1, y1 = max(0, int(x1 - pad)), max(0, int(y1 - pad))
    x2, y2 = min(width, int(x2 + pad)), min(height, int(y2 + pad))
    if x2 - x1 < CROP_MIN_SIDE:
        x1, x2 = _widen(x1, x2, CROP_MIN_SIDE, width)
    if y2 - y1 < CROP_MIN_SIDE:
        y1, y2 = _widen(y1, y2, CROP_MIN_SIDE, height)
    if (x2 - x1) * (y2 - y1) > CROP_MAX_SHARE * width * height:
        return None
    return (x1, y1, x2, y2)


def _widen(a: int, b: int, side: int, limit: int) -> tuple[int, int]:
    centre = (a + b) // 2
    a = max(0, centre - side // 2)
    return a, min(limit, a + side)


class CameraWorker:
    """One camera under the supervisor: decode thread, analysis loop, health, figures."""

    def __init__(self, cam: CameraConfig, vision: VisionConfig, models: VisionModels,
                 recorder: Recorder, devices: DeviceRegistry, now: Callable[[], datetime],
                 disk_budget_bytes: int, realtime: bool | None = None,
                 health: HealthSink | None = None) -> None:
        self.cam = cam
        self.name = f"vision-{cam.id}"
        self.recorder = recorder
        self.devices = devices
        self.now = now
        self._health = health  # the agent's device-health watch: camera_offline alarms
        buffer_s = vision.pre_roll_s + vision.post_roll_s + 2.0
        self.source = CameraSource(cam, now, clip_fps=vision.clip_fps, clip_max_side=vision.clip_max_side,
                                   buffer_s=buffer_s, realtime=realtime, on_state=self._on_state)
        self.evidence = EvidenceCollector(recorder, cam.id, vision, self.source.ring, disk_budget_bytes)
        self.pipeline = CameraPipeline(cam, vision, models, self.evidence, recorder.tz)
        self.offline: bool | None = None  # None until the first health report
        self.last_result: FrameResult | None = None
        self._figures_at = 0.0
        self._figures_frames = 0
        self.devices.update(cam.id, kind="camera", state="starting", checks=list(cam.checks),
                            hat_enrolled=self.pipeline.hat_on)

    def run(self, stop: threading.Event) -> None:
        self._clear_stale_alarms()
        source_stop = threading.Event()
        decoder = threading.Thread(target=self.source.run, args=(source_stop,),
                                   name=f"decode-{self.cam.id}", daemon=True)
        decoder.start()
        try:
            while not stop.is_set():
                frame = self.source.get(timeout=0.5)
                if frame is not None:
                    self._analyse(frame)
                else:
                    self._idle()
                self._watch_health()
                self._publish_figures()
                if self.source.ended.is_set() and frame is None:
                    self.evidence.poll(0.0, force=True)
                    stop.wait(0.5)
        finally:
            source_stop.set()
            decoder.join(10)
            self.evidence.poll(0.0, force=True)  # an interrupted post-roll still gets stored

    def _analyse(self, frame: Frame) -> None:
        self.last_result = self.pipeline.analyse(frame)
        self.source.counters.frames_analysed += 1

    def _idle(self) -> None:
        """No frame due: pending evidence still completes on a live timeline."""
        if self.source.paced:
            self.evidence.poll(time.monotonic())

    def _watch_health(self) -> None:
        """Silence is measured here (monotonic, frames); the health watch raises and clears."""
        silent = self.source.silent_for()
        if self.offline is not True and silent > self.cam.silent_after_s:
            self.offline = True
            self.devices.update(self.cam.id, state="offline")
            self.pipeline.end(time.monotonic() if self.source.paced else 0.0, self.now(), "camera_offline")
            self._report(DeviceState.SILENT, f"delivered no frame for {silent:.0f} s", silent)
        elif self.offline is not False and silent < 2.0 and self.source.counters.frames_read:
            self.offline = False
            self.devices.update(self.cam.id, state="ok")
            self._report(DeviceState.OK, "delivers again", silent)

    def _report(self, state: DeviceState, detail: str, silent_s: float) -> None:
        if self._health is None:
            return
        counters = self.source.counters
        self._health(DeviceHealth(device_id=self.cam.id, kind="camera", state=state, at=self.now(),
                                  good_frames=counters.frames_read, detail=detail,
                                  extra={"silent_s": round(silent_s, 1), "reconnects": counters.reconnects},
                                  reason="no_picture" if state is DeviceState.SILENT else ""))

    def _on_state(self, state: str, detail: str) -> None:
        self.devices.update(self.cam.id, state=state if not self.offline else "offline", detail=detail)

    def _publish_figures(self) -> None:
        now = time.monotonic()
        if now - self._figures_at < FIGURES_EVERY_S:
            return
        counters = self.source.counters
        elapsed = now - self._figures_at if self._figures_at else None
        fps = (counters.frames_analysed - self._figures_frames) / elapsed if elapsed else 0.0
        self._figures_at, self._figures_frames = now, counters.frames_analysed
        timings = self.pipeline.timings.as_dict()
        self.devices.update(self.cam.id, analysed_fps=round(fps, 2), inference_ms=timings["detect_ms"],
                            classify_ms=timings["classify_ms"], **counters.as_dict())

    def _clear_stale_alarms(self) -> None:
        """Violations left open by a previous run: those people are not tracked any more."""
        for row in self.recorder.reads.open_alarms():
            if row["kind"] not in VISION_ALARMS:
                continue
            try:
                subject = json.loads(row["subject"])
            except (TypeError, ValueError):
                continue
            if subject.get("camera_id") == self.cam.id:
                self.recorder.clear_alarm(row["kind"], subject,
                                          f"camera {self.cam.id} restarted: person no longer tracked")
