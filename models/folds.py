"""Model selection by k-fold cross-validation over scene photos: the split, the operating
points chosen on pooled out-of-fold predictions, and the figures per fold.

No torch here: the rules are plain arrays in, numbers out, so the tests check them on a
small fixture.

* **The split is by photo**: every face of a photo, and every not-a-face crop mined from
  it, lands in the same fold, so no fold's model has seen a face of the photos it is
  judged on. Photos are stratified by the rarest class they hold (a mask worn incorrectly,
  else a face without a mask, else neither), so the ~30 masks worn incorrectly spread over
  the folds.
* **The operating points** are chosen on all folds' out-of-fold predictions pooled:
  P(not a face) at the lowest point that drops at most ``MAX_FACES_DROPPED`` of the faces
  (scene faces and ``face-mask/val``, each, and of the scene's masked faces and its
  violations, each); P(violation | face) where the scene's balanced
  accuracy plus a quarter of the masks-worn-incorrectly recall is highest, while masked
  faces called a violation stay at most ``MAX_MASKED_CALLED`` and ``face-mask/val`` at
  least ``MIN_CROP_SET_BA`` (ties go to the point nearest 0.5).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.config.vision import VisionConfig
from agent.vision.eval.scenes import (
    REPORT_MIN_PX,
    Annotated,
    PhotoResult,
    SceneReport,
    count_photo,
    match,
    near_an_annotation,
)
from agent.vision.faces import Face
from agent.vision.scene import Judgement, SeenFace

WITH, WITHOUT, INCORRECT, NOT_FACE = 0, 1, 2, 3
MAX_FACES_DROPPED = 0.01
MAX_MASKED_CALLED = 0.015  # the target is 2 %: a margin for the photos never seen
MIN_CROP_SET_BA = 0.99
INCORRECT_WEIGHT = 0.25
GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
NOT_FACE_GRID = np.round(np.arange(0.05, 0.991, 0.01), 2)


def stratum(labels: Sequence[str]) -> int:
    """2: holds a mask worn incorrectly; 1: a face without a mask; 0: neither."""
    if "mask_weared_incorrect" in labels:
        return 2
    return 1 if "without_mask" in labels else 0


def photo_folds(photos: Sequence[tuple[str, Sequence[str]]], k: int, seed: int) -> dict[str, int]:
    """Each photo (name, its annotated labels) -> a fold in 0..k-1; seeded, stratified, every
    photo in exactly one fold."""
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    names = sorted({name for name, _ in photos})
    if len(names) != len(photos):
        raise ValueError("a photo is listed twice")
    labels = dict(photos)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda n: -stratum(labels[n]))  # stable: shuffled within each stratum
    return {name: i % k for i, name in enumerate(names)}


# --------------------------------------------------------------------------- probabilities

def mean_of_members(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several classifier members' predictions of the same photos (or crops), by key: their
    mean probabilities. Members are cross-validated on the same folds (``photo_folds`` takes
    the build's seed, never a member's), so each photo's mean is still out of fold."""
    keys = set(parts[0])
    if any(set(p) != keys for p in parts):
        raise ValueError("the members predicted different photos: were they cross-validated on the same folds?")
    return {k: np.mean([p[k] for p in parts], axis=0) for k in parts[0]}


def p_violation(probs: np.ndarray) -> np.ndarray:
    """P(violation | a face) from the 4-class softmax, as the runtime reads it."""
    face = probs[:, :NOT_FACE].sum(axis=1)
    return (probs[:, WITHOUT] + probs[:, INCORRECT]) / np.maximum(face, 1e-12)


def rate(called: np.ndarray) -> float:
    return float(np.mean(called)) if called.size else 0.0


def balanced_accuracy(violating: np.ndarray, called: np.ndarray) -> float:
    return (rate(~called[~violating]) + rate(called[violating])) / 2


@dataclass(frozen=True)
class Calls:
    """The violation call on labelled faces (0-2) at one threshold."""

    balanced_accuracy: float
    incorrect_called: float
    masked_called: float
    without_called: float

    @classmethod
    def of(cls, labels: np.ndarray, pv: np.ndarray, t: float) -> Calls:
        called = pv > t
        return cls(balanced_accuracy(labels > WITH, called), rate(called[labels == INCORRECT]),
                   rate(called[labels == WITH]), rate(called[labels == WITHOUT]))


def choose_not_face_threshold(scene_nf: np.ndarray, crop_nf: np.ndarray,
                              max_dropped: float = MAX_FACES_DROPPED,
                              scene_labels: np.ndarray | None = None) -> float:
    """The lowest P(not_face) point that drops at most ``max_dropped`` of each set's faces and,
    given the scene faces' labels, of the masked faces and of the violations (without a mask or
    worn incorrectly) each: unboxed bare faces in crowds teach the not-a-face class that a small
    bare face may be none, so a point held on all faces together can drop several times more of
    the violations than of the masked faces, and a dropped face is never called."""
    groups = [scene_nf] if scene_labels is None else \
        [scene_nf, scene_nf[scene_labels == WITH], scene_nf[scene_labels != WITH]]
    for u in NOT_FACE_GRID:
        if max(rate(crop_nf > u), *(rate(g > u) for g in groups)) <= max_dropped:
            return float(u)
    return float(NOT_FACE_GRID[-1])


@dataclass(frozen=True)
class Choice:
    threshold: float
    feasible: bool  # the constraints held at it
    objective: float


def choose_violation_threshold(labels: np.ndarray, pv: np.ndarray, crop_labels: np.ndarray,
                               crop_pv: np.ndarray, max_masked: float = MAX_MASKED_CALLED,
                               min_crop_ba: float = MIN_CROP_SET_BA) -> Choice:
    """Best scene balanced accuracy (+ a quarter of incorrect masks called) under the caps."""
    best: tuple[bool, float, float, float] | None = None
    for t in GRID:
        calls = Calls.of(labels, pv, float(t))
        crop_ba = balanced_accuracy(crop_labels > 0, crop_pv > t)
        feasible = calls.masked_called <= max_masked and crop_ba >= min_crop_ba
        objective = calls.balanced_accuracy + INCORRECT_WEIGHT * calls.incorrect_called
        key = (feasible, objective, -abs(float(t) - 0.5), float(t))
        if best is None or key > best:
            best = key
    assert best is not None
    return Choice(best[3], best[0], best[1])


def agreement(view_pv: np.ndarray, t: float, need: int) -> np.ndarray:
    """Called a violation when at least ``need`` of a face's views (columns) say so: what the
    alarm's N-of-M agreement across frames does to one face seen several times."""
    return (view_pv > t).sum(axis=1) >= need


# --------------------------------------------------------------------------- scene figures

@dataclass
class PhotoCalls:
    """One held-out photo: its annotation, the detections, the classifier's softmax on each."""

    name: str
    annotated: tuple[Annotated, ...]
    found: list[Face]
    probs: np.ndarray  # (len(found), 4)


def photo_result(photo: PhotoCalls, vision: VisionConfig, not_face_t: float) -> PhotoResult:
    """What ``find_faces`` + ``judge_faces`` return on this photo, from the recorded softmax:
    kept by score and size, dropped when P(not_face) > ``not_face_t``, judged from
    ``min_face_px``."""
    faces: list[Face] = []
    judgements = []
    pv = p_violation(photo.probs) if len(photo.found) else np.zeros(0)
    for j, face in enumerate(photo.found):
        if face.score < vision.face_score_min or min(face.width, face.height) < vision.keep_min_face_px:
            continue
        if vision.verify_faces and photo.probs[j, NOT_FACE] > not_face_t:
            continue
        faces.append(SeenFace(face.box, face.score, face.landmarks, float(pv[j])))
        big = min(face.width, face.height) >= vision.min_face_px
        judgements.append(Judgement(float(pv[j]) if big else None))
    matches = match(photo.annotated, faces)
    used = set(matches.values())
    false = [j for j, f in enumerate(faces) if j not in used and not near_an_annotation(f.box, photo.annotated)]
    return PhotoResult(faces, judgements, matches, false)


def scene_report(photos: Sequence[PhotoCalls], violation_t: float, not_face_t: float,
                 label: str) -> SceneReport:
    """``vision eval --scenes``'s counting of these photos at these operating points."""
    vision = VisionConfig(mask_threshold=violation_t)
    report = SceneReport(label, REPORT_MIN_PX, violation_t)
    for photo in photos:
        count_photo(report, vision, photo.annotated, photo_result(photo, vision, not_face_t), photo.name)
    return report


def headline(report: SceneReport) -> dict[str, float | None]:
    """The issue's figures from one report (masks worn incorrectly and masked faces called;
    None where the photos hold no such face)."""
    rows = dict(zip(("with_mask", "without_mask", "mask_weared_incorrect"), report.confusion, strict=True))

    def called(row: list[int]) -> float | None:
        return row[1] / sum(row) if sum(row) else None

    return {"face_recall": round(report.face_recall, 4),
            "balanced_accuracy": round(report.balanced_accuracy, 4),
            "incorrect_called": rounded(called(rows["mask_weared_incorrect"])),
            "masked_called": rounded(called(rows["with_mask"])),
            "violation_recall": round(report.violation_recall, 4),
            "false_per_photo": round(report.false_per_image, 4),
            "incorrect_faces": sum(rows["mask_weared_incorrect"]),
            "masked_faces": sum(rows["with_mask"])}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def spread(per_fold: Sequence[dict[str, float | None]]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation, lowest and highest of each figure over the folds (a fold
    without such faces left out of that figure)."""
    out = {}
    for key in ("face_recall", "balanced_accuracy", "incorrect_called", "masked_called",
                "violation_recall", "false_per_photo"):
        values = np.array([f[key] for f in per_fold if f[key] is not None], dtype=float)
        if not values.size:
            continue
        out[key] = {"mean": round(float(values.mean()), 4), "std": round(float(values.std(ddof=1)), 4)
                    if len(values) > 1 else 0.0, "min": round(float(values.min()), 4),
                    "max": round(float(values.max()), 4)}
    return out
