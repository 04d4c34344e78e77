"""Evidence for a violation: snapshot, clip, the vision_violation record and its alarm.

When compliance raises a violation, ``EvidenceCollector.begin`` takes the snapshot at once
(the analysed frame, the person's box drawn, other faces pixelated when configured) and
waits for the post-roll. ``poll`` finishes it once the source's timeline has passed
``post_roll_s``: the clip is cut from the camera's ring buffer (pre-roll before the
moment the violation was raised, post-roll after), encoded as MJPEG in AVI (FFmpeg's
encoder when the build has it, else OpenCV's own, present in every opencv-python-headless
build, x86 or Raspberry Pi). The record is committed together with both files as its media
(``Recorder.record_with_media``, one transaction: no evidence is sent for a record that was
not saved), then the alarm, carrying the same media refs. A clear that arrives while its
violation is still collecting waits for it, so the platform always sees raise before clear.

Disk: clip frames are shrunk to ``clip_max_side`` at ``clip_fps``; when vision media
already use ``evidence_share`` of the store's disk budget, the clip is skipped (the
snapshot is kept) and the alarm's ``details.clip`` says why. The store's housekeeping
evicts old media under the budget as for any other media.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from agent.config.vision import VisionConfig
from agent.core.recorder import MediaDraft, Recorder
from agent.core.timeutil import uuid7
from agent.records.envelope import MediaRef, Source
from agent.records.vision_violation import VisionViolation
from agent.vision.camera import FrameRing
from agent.vision.compliance import Cleared, Raised
from agent.vision.crops import Box
from agent.words.alarms import kind_term

log = logging.getLogger("agent.vision.evidence")

CLIP_CONTENT_TYPE = "video/x-msvideo"
LABELS = {"no_mask": "NO MASK", "no_hat": "NO HAT"}
VIOLATION_COLOUR = (0, 0, 255)  # BGR red
FACE_HISTORY_S = 30.0
CLIP_BACKENDS = (cv2.CAP_FFMPEG, cv2.CAP_OPENCV_MJPEG)


def pixelate(image: np.ndarray, box: Box, blocks: int = 8) -> None:
    """Pixelate a face in place (a square around the box, 20 % larger)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    grow = 0.2 * max(x2 - x1, y2 - y1)
    xa, ya = int(max(0, x1 - grow)), int(max(0, y1 - grow))
    xb, yb = int(min(width, x2 + grow)), int(min(height, y2 + grow))
    if xb - xa < 2 or yb - ya < 2:
        return
    region = image[ya:yb, xa:xb]
    small = cv2.resize(region, (blocks, blocks), interpolation=cv2.INTER_AREA)
    image[ya:yb, xa:xb] = cv2.resize(small, (xb - xa, yb - ya), interpolation=cv2.INTER_NEAREST)


def draw_violation(image: np.ndarray, box: Box, label: str) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    thickness = max(2, image.shape[1] // 320)
    cv2.rectangle(image, (x1, y1), (x2, y2), VIOLATION_COLOUR, thickness)
    cv2.putText(image, label, (x1, max(14, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                max(0.5, image.shape[1] / 1280), VIOLATION_COLOUR, thickness)


def annotate(image: np.ndarray, box: Box | None, label: str, others: Sequence[Box],
             blur_others: bool) -> np.ndarray:
    """A copy with other faces pixelated (if asked) and the violator's box drawn."""
    out = image.copy()
    if blur_others:
        for other in others:
            pixelate(out, other)
    if box is not None:
        draw_violation(out, box, label)
    return out


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def encode_clip(frames: Sequence[np.ndarray], fps: float, quality: int) -> bytes:
    """MJPEG-in-AVI bytes of same-sized BGR frames."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    height, width = frames[0].shape[:2]
    fd, path = tempfile.mkstemp(suffix=".avi", prefix="clip-")
    os.close(fd)
    try:
        writer = _open_writer(path, fps, (width, height), quality)
        for frame in frames:
            if frame.shape[:2] != (height, width):
                frame = cv2.resize(frame, (width, height))
            writer.write(frame)
        writer.release()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def _open_writer(path: str, fps: float, size: tuple[int, int], quality: int) -> cv2.VideoWriter:
    """MJPEG AVI through FFmpeg (about half the bytes), else OpenCV's built-in encoder."""
    for backend in CLIP_BACKENDS:
        writer = cv2.VideoWriter(path, backend, cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
        if writer.isOpened():
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)  # honoured by the built-in one
            return writer
        writer.release()
    raise RuntimeError("no MJPEG video writer available in this OpenCV build")


@dataclass
class Pending:
    raised: Raised
    snapshot: bytes
    frame_width: int
    frame_height: int
    clears: list[Cleared] = field(default_factory=list)


@dataclass(frozen=True)
class Evidence:
    record_id: str
    alarm_id: str | None
    media: list[MediaRef]


class EvidenceCollector:
    """Per camera: pending violations, the face history for blurring, the store writes."""

    def __init__(self, recorder: Recorder, camera_id: str, vision: VisionConfig,
                 ring: FrameRing, disk_budget_bytes: int) -> None:
        self.recorder = recorder
        self.camera_id = camera_id
        self.vision = vision
        self.ring = ring
        self.media_budget = int(disk_budget_bytes * vision.evidence_share)
        self.pending: dict[tuple[int, str], Pending] = {}
        self.faces: deque[tuple[float, list[tuple[int, Box]]]] = deque()
        self.written: list[Evidence] = []

    # --- inputs from the pipeline --------------------------------------------------------

    def note_faces(self, t: float, faces: list[tuple[int, Box]]) -> None:
        """Every analysed frame's tracked faces (full-resolution boxes)."""
        self.faces.append((t, faces))
        while self.faces and t - self.faces[0][0] > FACE_HISTORY_S:
            self.faces.popleft()

    def begin(self, raised: Raised, image: np.ndarray, faces: list[tuple[int, Box]]) -> None:
        others = [box for track_id, box in faces if track_id != raised.track_id]
        shot = annotate(image, raised.box, LABELS[raised.kind], others, self.vision.blur_other_faces)
        snapshot = encode_jpeg(shot, self.vision.jpeg_quality)
        self.pending[(raised.track_id, raised.kind)] = Pending(raised, snapshot, image.shape[1],
                                                              image.shape[0])
        log.info("vision.evidence.begin camera=%s track=%d kind=%s", self.camera_id,
                 raised.track_id, raised.kind)

    def clear(self, cleared: Cleared) -> None:
        key = (cleared.track_id, cleared.kind)
        if key in self.pending:
            self.pending[key].clears.append(cleared)
            return
        self._clear_alarm(cleared)

    def poll(self, t: float, force: bool = False) -> list[Evidence]:
        """Finish every pending violation whose post-roll has passed (all when ``force``)."""
        done = []
        for key, pending in list(self.pending.items()):
            if force or t >= pending.raised.t + self.vision.post_roll_s:
                del self.pending[key]
                done.append(self._finish(pending))
        return done

    # --- store writes --------------------------------------------------------------------

    def _finish(self, pending: Pending) -> Evidence:
        raised = pending.raised
        created = raised.at.isoformat()
        media = [MediaDraft(uuid7(), pending.snapshot, "image/jpeg", role="snapshot", created_at=created,
                            suffix=".jpg")]
        clip, clip_note = self._clip(pending)
        if clip:
            media.append(MediaDraft(uuid7(), clip, CLIP_CONTENT_TYPE, role="clip", created_at=created,
                                    suffix=".avi"))
        data = VisionViolation(camera_id=self.camera_id, kind=raised.kind, started_at=raised.started_at,
                               seen_s=round(raised.seen_s, 2), track_id=raised.track_id,
                               confidence=round(min(1.0, max(0.0, raised.confidence)), 4),
                               box=self._normalised(raised.box, pending))
        # the record and its media in one transaction: no evidence is sent for a record not saved
        saved = self.recorder.record_with_media(data, media, occurred_at=raised.started_at,
                                                source=Source(device_id=self.camera_id, kind="camera"))
        refs = [MediaRef.model_validate(item.ref()) for item in media]
        details = {"record_id": saved.id, "track_id": raised.track_id,
                   "confidence": data.confidence, "seen_s": data.seen_s}
        if clip_note:
            details["clip"] = clip_note
        alarm = self.recorder.raise_alarm(
            raised.kind, self._subject(raised.track_id),
            f"{kind_term(raised.kind).zh}：摄像头 {self.camera_id} 第 {raised.track_id} 人，持续 {raised.seen_s:.0f} 秒 / "
            f"{kind_term(raised.kind).en} on camera {self.camera_id} (person {raised.track_id}, "
            f"{raised.seen_s:.0f} s)", severity="minor", details=details, occurred_at=raised.at,
            source=Source(device_id=self.camera_id, kind="camera"), media=refs)
        log.warning("vision.violation camera=%s track=%d kind=%s record=%s media=%d",
                    self.camera_id, raised.track_id, raised.kind, saved.id, len(refs))
        evidence = Evidence(saved.id, alarm.id if alarm else None, refs)
        self.written.append(evidence)
        for cleared in pending.clears:
            self._clear_alarm(cleared)
        return evidence

    def _clip(self, pending: Pending) -> tuple[bytes | None, str | None]:
        if self._vision_media_bytes() >= self.media_budget:
            log.warning("vision.evidence.clip_skipped camera=%s reason=media_share_full",
                        self.camera_id)
            return None, "skipped: vision media share of the disk budget is full"
        raised = pending.raised
        frames = self.ring.between(raised.t - self.vision.pre_roll_s, raised.t + self.vision.post_roll_s)
        if not frames:
            return None, "skipped: no buffered frames"
        images = [self._clip_frame(t, image, raised, pending.frame_width) for t, _, image in frames]
        return encode_clip(images, self.vision.clip_fps, self.vision.jpeg_quality), None

    def _clip_frame(self, t: float, image: np.ndarray, raised: Raised, full_width: int) -> np.ndarray:
        scale = image.shape[1] / full_width
        faces = self._faces_near(t)
        own = next((box for track_id, box in faces if track_id == raised.track_id), None)
        others = [box for track_id, box in faces if track_id != raised.track_id]
        return annotate(image, _scaled(own, scale) if own else None, LABELS[raised.kind],
                        [_scaled(b, scale) for b in others], self.vision.blur_other_faces)

    def _faces_near(self, t: float, within_s: float = 1.5) -> list[tuple[int, Box]]:
        best = min(self.faces, key=lambda entry: abs(entry[0] - t), default=None)
        if best is None or abs(best[0] - t) > within_s:
            return []
        return best[1]

    def _vision_media_bytes(self) -> int:
        return self.recorder.reads.kept_media_bytes(("snapshot", "clip"))

    def _clear_alarm(self, cleared: Cleared) -> None:
        saved = self.recorder.clear_alarm(
            cleared.kind, self._subject(cleared.track_id),
            f"{kind_term(cleared.kind).zh}已结束（摄像头 {self.camera_id} 第 {cleared.track_id} 人）/ "
            f"{kind_term(cleared.kind).en} cleared on camera {self.camera_id} "
            f"(person {cleared.track_id}): {cleared.reason}", occurred_at=cleared.at)
        log.info("vision.violation.cleared camera=%s track=%d kind=%s reason=%s alarm=%s",
                 self.camera_id, cleared.track_id, cleared.kind, cleared.reason,
                 saved.id if saved else None)

    def _subject(self, track_id: int) -> dict[str, str]:
        return {"camera_id": self.camera_id, "track_id": str(track_id)}

    @staticmethod
    def _normalised(box: Box, pending: Pending) -> tuple[float, float, float, float]:
        width, height = pending.frame_width, pending.frame_height
        x1, y1, x2, y2 = box
        return (_unit(x1 / width), _unit(y1 / height), _unit(x2 / width), _unit(y2 / height))


def _scaled(box: Box, scale: float) -> Box:
    return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)


def _unit(v: float) -> float:
    return round(min(1.0, max(0.0, v)), 4)
