"""Faces found and judged in one frame: the one path the camera pipeline and the evaluation share.

``find_faces`` runs the detector on the frame (or on one region of it), keeps the faces
scored at least ``face_score_min``, at least ``keep_min_face_px`` on their short side and
outside the camera's ignore zones, in frame pixels, and (``verify_faces``) drops those the
mask classifier says are not a face at all (hands, jackets, decorations: the detector's
false alarms), keeping its mask probability for the judgement;
``judge_faces`` gives each face at least ``min_face_px`` on its short side a probability
of a mask violation (and of no hat, once the site is enrolled). ``vision eval --scenes``
calls exactly these with the config's defaults, so what it measures is what a camera does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.config.vision import VisionConfig
from agent.malloc_arenas import limit_malloc_arenas
from agent.vision.compliance import Kind
from agent.vision.crops import Box
from agent.vision.faces import Face, FaceDetector
from agent.vision.hat import HatClassifier
from agent.vision.mask import MaskClassifier
from agent.vision.motion import Polygon, in_zones
from agent.vision.nose import NoseCue, joined

log = logging.getLogger(__name__)

Region = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels
RECHECK_CONTEXT = 3.0  # the second pass's crop spans this many face sides
RECHECK_FACE_PX = 96  # ... enlarged so that the face is about this big
RECHECK_MAX_SCALE = 4.0
RECHECK_IOU = 0.4  # the second pass's face must overlap the first's this much


class VisionModels:
    """The ONNX sessions, shared by every camera, with one inference lock."""

    def __init__(self, detector: FaceDetector, mask: MaskClassifier | None,
                 hat: HatClassifier | None, slots: int = 1, nose: NoseCue | None = None) -> None:
        self.detector = detector
        self.mask = mask
        self.hat = hat
        self.nose = nose
        # onnxruntime sessions may run from several threads at once; the slots bound how
        # many cores the cameras' inference takes together (the rest is the agent's).
        self.lock = threading.BoundedSemaphore(slots)

    @classmethod
    def load(cls, vision: VisionConfig) -> VisionModels:
        limit_malloc_arenas()  # before any camera thread allocates: see agent/malloc_arenas.py
        detector = FaceDetector.from_manifest(
            vision.models_dir, vision.threads,
            score_threshold=min(0.6, vision.face_score_min, vision.recheck_score_min),
            upscale=vision.detect_upscale, max_side=vision.detect_max_side)
        mask = MaskClassifier.from_manifest(vision.models_dir, vision.threads)
        hat = HatClassifier.load(vision.site_dir, vision.models_dir, vision.threads)
        nose = NoseCue.from_manifest(vision.models_dir, vision.threads, vision.nose_gate) \
            if vision.nose_cue else None
        return cls(detector, mask, hat, vision.inference_slots, nose)


@dataclass(frozen=True)
class SeenFace(Face):
    """A detection the mask classifier has looked at and taken for a face."""

    no_mask: float | None = None  # its P(mask violation), reused by judge_faces


@dataclass(frozen=True)
class Judgement:
    """Probabilities for one face; None where the face is too small or the check is off."""

    no_mask: float | None = None
    no_hat: float | None = None

    def as_dict(self) -> dict[Kind, float | None]:
        return {"no_mask": self.no_mask, "no_hat": self.no_hat}


def find_faces(models: VisionModels, vision: VisionConfig, image: np.ndarray,
               region: Region | None = None, zones: Sequence[Polygon] = ()) -> list[Face]:
    """Faces in the frame (or in ``region`` of it), boxes in frame pixels, best kept only."""
    x0, y0 = (0, 0) if region is None else (region[0], region[1])
    view = image if region is None else image[region[1]:region[3], region[0]:region[2]]
    with models.lock:
        found = models.detector.detect(view)
    height, width = image.shape[:2]
    faces = []
    for face in found:
        if face.score < min(vision.face_score_min, vision.recheck_score_min) or \
                min(face.width, face.height) < vision.keep_min_face_px:
            continue
        box = (face.box[0] + x0, face.box[1] + y0, face.box[2] + x0, face.box[3] + y0)
        centre = ((box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height)
        if zones and in_zones(centre, zones):
            continue
        points = tuple((x + x0, y + y0) for x, y in face.landmarks)
        faces.append(Face(box, face.score, points))
    faces = [f for f in rechecked(models, vision, image, faces) if f.score >= vision.face_score_min]
    if vision.verify_faces and models.mask is not None and faces:
        return verified(models, models.mask, image, faces)
    return faces


def rechecked(models: VisionModels, vision: VisionConfig, image: np.ndarray,
              faces: list[Face]) -> list[Face]:
    """The faces, each small one scored below ``face_score_min`` (but at least
    ``recheck_score_min``) replaced by what a second detector pass finds on an enlarged crop
    around it: a 24-48 px face in a busy frame is often scored low at the frame's scale and
    clearly at RECHECK_FACE_PX. Costs one small inference per such face."""
    out = []
    for face in faces:
        small = min(face.width, face.height) < vision.recheck_max_px
        if not (small and vision.recheck_score_min <= face.score < vision.face_score_min):
            out.append(face)
            continue
        out.append(second_pass(models, image, face) or face)
    return out


def second_pass(models: VisionModels, image: np.ndarray, face: Face) -> Face | None:
    """The detector on a crop RECHECK_CONTEXT face sides wide around ``face``, enlarged so the
    face is about RECHECK_FACE_PX: the detection overlapping ``face`` best, in frame pixels."""
    height, width = image.shape[:2]
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    half = max(face.width, face.height) * RECHECK_CONTEXT / 2
    x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
    x2, y2 = int(min(width, cx + half)), int(min(height, cy + half))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    scale = min(RECHECK_MAX_SCALE, RECHECK_FACE_PX / max(face.width, face.height, 1.0))
    with models.lock:
        found = models.detector.detect_scaled(image[y1:y2, x1:x2], scale)
    best, best_iou = None, RECHECK_IOU
    for other in found:
        box = (other.box[0] + x1, other.box[1] + y1, other.box[2] + x1, other.box[3] + y1)
        overlap = box_iou(box, face.box)
        if overlap >= best_iou:
            points = tuple((x + x1, y + y1) for x, y in other.landmarks)
            best, best_iou = Face(box, other.score, points), overlap
    return best


def box_iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def verified(models: VisionModels, mask: MaskClassifier, image: np.ndarray,
             faces: list[Face]) -> list[Face]:
    """The faces the classifier takes for faces, each with its P(mask violation)."""
    with models.lock:
        p_violation, p_not_face = mask.classify_boxes(image, [f.box for f in faces])
    kept: list[Face] = []
    for face, violation, not_face in zip(faces, p_violation, p_not_face, strict=True):
        if not_face > 0.5:
            log.debug("vision.face.rejected score=%.2f side=%d p_not_face=%.2f", face.score,
                      min(face.width, face.height), not_face)
            continue
        kept.append(SeenFace(face.box, face.score, face.landmarks, float(violation)))
    return kept


def judgeable(face: Face, vision: VisionConfig) -> bool:
    """Big enough to judge: smaller faces are tracked, never called a violation."""
    return min(face.width, face.height) >= vision.min_face_px


def seen_no_mask(face: Face) -> float | None:
    return face.no_mask if isinstance(face, SeenFace) else None


def with_nose_cue(nose: NoseCue, vision: VisionConfig, image: np.ndarray, faces: Sequence[Face],
                  no_mask: dict[int, float]) -> dict[int, float]:
    """The faces the classifier is unsure of (above the cue's gate, not above the threshold),
    each with its P(mask violation) joined with the nose cue's (agent/vision/nose.py); the
    caller holds the inference lock."""
    unsure = [i for i, p in no_mask.items() if nose.gate < p <= vision.mask_threshold]
    if not unsure:
        return {}
    visible = nose.p_visible(image, [faces[i].landmarks for i in unsure])
    return {i: joined(no_mask[i], q, nose.gate, vision.mask_threshold)
            for i, q in zip(unsure, visible, strict=True)}


def judge_faces(models: VisionModels, vision: VisionConfig, image: np.ndarray,
                faces: Sequence[Face], mask_on: bool = True, hat_on: bool = False) -> list[Judgement]:
    """One judgement per face, in order; the classifiers see only faces big enough."""
    judged = [i for i, f in enumerate(faces) if judgeable(f, vision)]
    boxes: list[Box] = [faces[i].box for i in judged]
    no_mask: dict[int, float] = {}
    no_hat: dict[int, float] = {}
    if mask_on:
        no_mask = {i: p for i in judged if (p := seen_no_mask(faces[i])) is not None}
    todo = [i for i in judged if mask_on and i not in no_mask]
    if boxes:
        with models.lock:
            if todo and models.mask is not None:
                probs = models.mask.predict_boxes(image, [faces[i].box for i in todo]).tolist()
                no_mask.update(zip(todo, probs, strict=True))
            if models.nose is not None:
                no_mask.update(with_nose_cue(models.nose, vision, image, faces, no_mask))
            hat = models.hat
            if hat_on and hat is not None:
                hats = [hat.predict(image, box) for box in boxes]
                no_hat = {i: 1.0 - p for i, p in zip(judged, hats, strict=True)}
    return [Judgement(no_mask.get(i), no_hat.get(i)) for i in range(len(faces))]
