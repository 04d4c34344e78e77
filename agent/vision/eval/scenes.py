"""Whole-photo evaluation: VOC-annotated scenes through the camera's own path.

Layout like datasets/face-mask-scenes/val: ``images/<id>.jpg`` and ``annotations/<id>.xml``
(PASCAL VOC; classes ``with_mask``, ``without_mask``, ``mask_weared_incorrect``). Each
photo goes through ``scene.find_faces`` and ``scene.judge_faces`` with the vision config
as given (the defaults unless a config says otherwise), exactly what ``CameraPipeline``
runs on a frame in which everything moved. Then:

* an annotated face is *found* when a kept detection overlaps it with IoU >= 0.4 (each
  detection matches one face at most, best overlap first);
* recall per size bucket, by the annotated box's short side: < 16, 16-24, 24-48, >= 48 px;
* on found faces of at least 24 px (the targets' population; the config's ``min_face_px``
  decides what is judged): the 3-class confusion against the call (compliant / violation /
  not judged because the detected box came out smaller than ``min_face_px``);
  ``mask_weared_incorrect`` is a violation, like a face without a mask (a mask under the nose is a violation in a kitchen);
* balanced accuracy of the violation call on those found faces (a face left unjudged
  raises nothing: it counts as called compliant);
* end-to-end violation recall: violating faces of at least 24 px that were found,
  judged and called a violation, of all of them;
* false detections: kept detections with no annotated face near (IoU < 0.1 with every
  box and no box centre inside them), per photo.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from agent.config.vision import VisionConfig
from agent.vision.crops import Box
from agent.vision.faces import Face
from agent.vision.scene import Judgement, VisionModels, find_faces, judge_faces, judgeable

log = logging.getLogger(__name__)

SCENE_CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
VIOLATION_CLASSES = frozenset({"without_mask", "mask_weared_incorrect"})
CALLS = ("compliant", "violation", "not judged")
BUCKETS = ((0, 16, "<16"), (16, 24, "16-24"), (24, 48, "24-48"), (48, 1 << 30, ">=48"))
# The figures are for faces of at least this size (the targets' population), whatever the
# config's min_face_px: a larger min_face_px shows up as faces found but not judged.
REPORT_MIN_PX = 24
MATCH_IOU = 0.4
NEAR_IOU = 0.1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Annotated:
    box: Box
    label: str

    @property
    def short_side(self) -> float:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


@dataclass(frozen=True)
class Scene:
    image_path: Path
    faces: tuple[Annotated, ...]


@dataclass
class PhotoResult:
    """One photo: what matched what, for counting (and for the build's crops)."""

    faces: list[Face]
    judgements: list[Judgement]
    matches: dict[int, int]  # annotated index -> detection index
    false_detections: list[int]  # detection indices with no annotated face near


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer may want to see: a false detection or a missed face."""

    photo: str  # the image's file name in images/
    box: Box
    label: str  # a missed face's class; "detection" for a false detection
    score: float | None = None  # the detector's, for a false detection


@dataclass
class SceneReport:
    scenes_dir: str
    min_face_px: int
    threshold: float
    photos: int = 0
    bucket_total: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    bucket_found: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    # [true class][call], order SCENE_CLASSES x CALLS, found faces >= min_face_px
    confusion: list[list[int]] = field(default_factory=lambda: [[0] * len(CALLS) for _ in SCENE_CLASSES])
    violations: int = 0  # annotated violating faces >= min_face_px
    violations_called: int = 0  # ... found, judged and called a violation
    false_detections: int = 0
    false_judged: int = 0  # of which big enough to be judged (could raise an alarm)
    false_found: list[Finding] = field(default_factory=list)
    missed: list[Finding] = field(default_factory=list)  # annotated faces >= min_face_px not found
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def judged_total(self) -> int:
        return sum(b for (lo, _hi, _n), b in zip(BUCKETS, self.bucket_total, strict=True)
                   if lo >= self.min_face_px)

    @property
    def judged_found(self) -> int:
        return sum(b for (lo, _hi, _n), b in zip(BUCKETS, self.bucket_found, strict=True)
                   if lo >= self.min_face_px)

    @property
    def face_recall(self) -> float:
        """Recall of faces >= min_face_px (the faces the device is meant to judge)."""
        return self.judged_found / max(1, self.judged_total)

    def call_recall(self, violating: bool) -> float:
        """Share of found faces of one side called right; a face left unjudged raises
        nothing, so it counts as called compliant (right for a mask, a miss for a violation)."""
        rows = [r for name, r in zip(SCENE_CLASSES, self.confusion, strict=True)
                if (name in VIOLATION_CLASSES) == violating]
        right = sum(r[1] if violating else r[0] + r[2] for r in rows)
        return right / max(1, sum(sum(r) for r in rows))

    @property
    def balanced_accuracy(self) -> float:
        return (self.call_recall(False) + self.call_recall(True)) / 2

    @property
    def violation_recall(self) -> float:
        return self.violations_called / max(1, self.violations)

    @property
    def false_per_image(self) -> float:
        return self.false_detections / max(1, self.photos)

    @property
    def ms_per_photo(self) -> float:
        return 1000 * self.seconds / max(1, self.photos)

    def false_by_photo(self) -> list[tuple[str, int]]:
        """Photos with false detections, most first: a crowd left unboxed shows at once."""
        counts: dict[str, int] = {}
        for f in self.false_found:
            counts[f.photo] = counts.get(f.photo, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def summary(self) -> dict[str, object]:
        return {"photos": self.photos, "min_face_px": self.min_face_px, "threshold": self.threshold,
                "buckets": {n: [f, t] for (_lo, _hi, n), f, t in
                            zip(BUCKETS, self.bucket_found, self.bucket_total, strict=True)},
                "face_recall": round(self.face_recall, 4),
                "confusion": dict(zip(SCENE_CLASSES, self.confusion, strict=True)),
                "balanced_accuracy": round(self.balanced_accuracy, 4),
                "violation_recall": round(self.violation_recall, 4),
                "false_detections_per_image": round(self.false_per_image, 4),
                "false_judged_per_image": round(self.false_judged / max(1, self.photos), 4),
                "ms_per_photo": round(self.ms_per_photo, 1)}


def read_voc(path: Path) -> tuple[Annotated, ...]:
    """The labelled boxes of one VOC annotation; an unknown class is an error."""
    root = ET.parse(path).getroot()
    faces = []
    for obj in root.iter("object"):
        label = (obj.findtext("name") or "").strip()
        if label not in SCENE_CLASSES:
            raise ValueError(f"{path}: unknown class {label!r} (expected one of {SCENE_CLASSES})")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise ValueError(f"{path}: object without bndbox")
        box = tuple(float(bndbox.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
        faces.append(Annotated(box, label))  # type: ignore[arg-type]
    return tuple(faces)


def load_scenes(scenes_dir: Path) -> list[Scene]:
    images, annotations = scenes_dir / "images", scenes_dir / "annotations"
    if not images.is_dir() or not annotations.is_dir():
        raise FileNotFoundError(f"expected {images}/ and {annotations}/ (VOC layout)")
    scenes = []
    for xml in sorted(annotations.glob("*.xml")):
        image = next((images / (xml.stem + s) for s in IMAGE_SUFFIXES
                      if (images / (xml.stem + s)).is_file()), None)
        if image is None:
            raise FileNotFoundError(f"no image for {xml}")
        scenes.append(Scene(image, read_voc(xml)))
    return scenes


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match(annotated: Sequence[Annotated], faces: Sequence[Face]) -> dict[int, int]:
    """Greedy one-to-one matching, best IoU first, at IoU >= MATCH_IOU."""
    pairs = sorted(((iou(a.box, f.box), i, j) for i, a in enumerate(annotated)
                    for j, f in enumerate(faces)), reverse=True)
    matches: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < MATCH_IOU:
            break
        if i not in matches and j not in used:
            matches[i] = j
            used.add(j)
    return matches


def near_an_annotation(box: Box, annotated: Sequence[Annotated]) -> bool:
    for a in annotated:
        cx, cy = (a.box[0] + a.box[2]) / 2, (a.box[1] + a.box[3]) / 2
        if iou(box, a.box) >= NEAR_IOU or (box[0] <= cx <= box[2] and box[1] <= cy <= box[3]):
            return True
    return False


def analyse_photo(models: VisionModels, vision: VisionConfig, image: np.ndarray,
                  annotated: Sequence[Annotated]) -> PhotoResult:
    """The camera's path on one still photo (everything moved: the whole frame is searched)."""
    faces = find_faces(models, vision, image)
    judgements = judge_faces(models, vision, image, faces)
    matches = match(annotated, faces)
    matched = set(matches.values())
    false = [j for j, f in enumerate(faces)
             if j not in matched and not near_an_annotation(f.box, annotated)]
    return PhotoResult(faces, judgements, matches, false)


def bucket_of(short_side: float) -> int:
    return next(k for k, (lo, hi, _n) in enumerate(BUCKETS) if lo <= short_side < hi)


def count_photo(report: SceneReport, vision: VisionConfig, annotated: Sequence[Annotated],
                result: PhotoResult, photo: str = "") -> None:
    report.photos += 1
    for i, face in enumerate(annotated):
        k = bucket_of(face.short_side)
        report.bucket_total[k] += 1
        found = i in result.matches
        report.bucket_found[k] += int(found)
        if face.short_side < REPORT_MIN_PX:
            continue
        violating = face.label in VIOLATION_CLASSES
        report.violations += int(violating)
        if not found:
            report.missed.append(Finding(photo, face.box, face.label))
            continue
        p = result.judgements[result.matches[i]].no_mask
        call = 2 if p is None else int(p > vision.mask_threshold)
        report.confusion[SCENE_CLASSES.index(face.label)][call] += 1
        report.violations_called += int(violating and call == 1)
    report.false_detections += len(result.false_detections)
    report.false_found += [Finding(photo, result.faces[j].box, "detection", result.faces[j].score)
                           for j in result.false_detections]
    report.false_judged += sum(judgeable(result.faces[j], vision) for j in result.false_detections)


def evaluate_scenes(scenes_dir: Path | str, vision: VisionConfig | None = None,
                    models: VisionModels | None = None) -> SceneReport:
    """Run every annotated photo of the folder through the camera path and count."""
    scenes_dir = Path(scenes_dir)
    vision = vision or VisionConfig()
    scenes = load_scenes(scenes_dir)
    models = models or VisionModels.load(vision)
    report = SceneReport(str(scenes_dir), REPORT_MIN_PX, vision.mask_threshold)
    for scene in scenes:
        image = cv2.imread(str(scene.image_path))
        if image is None:
            report.unreadable.append(str(scene.image_path))
            continue
        tick = time.perf_counter()
        result = analyse_photo(models, vision, image, scene.faces)
        report.seconds += time.perf_counter() - tick
        count_photo(report, vision, scene.faces, result, scene.image_path.name)
    log.info("vision.eval.scenes photos=%d face_recall=%.4f balanced_accuracy=%.4f "
             "violation_recall=%.4f false_per_image=%.3f", report.photos, report.face_recall,
             report.balanced_accuracy, report.violation_recall, report.false_per_image)
    return report


def format_scene_report(r: SceneReport, extra: Sequence[str] = ()) -> str:
    """The report; ``extra`` lines (an audit's) go just before the four headline figures."""
    lines = [f"Scenes {r.scenes_dir}: {r.photos} photos, figures for faces from {r.min_face_px} px, "
             f"violation when P > {r.threshold}", "", "face recall by short side (px):"]
    for (_lo, _hi, name), found, total in zip(BUCKETS, r.bucket_found, r.bucket_total, strict=True):
        lines.append(f"  {name:>6}  {found:5d} / {total:<5d} {found / max(1, total):7.1%}")
    width = max(len(c) for c in SCENE_CLASSES) + 2
    lines += ["", f"found faces >= {r.min_face_px} px: true class x call",
              " " * (width + 2) + "".join(c.rjust(12) for c in CALLS)]
    for name, row in zip(SCENE_CLASSES, r.confusion, strict=True):
        lines.append("  " + name.ljust(width) + "".join(str(v).rjust(12) for v in row))
    lines += ["",
              f"compliant called compliant: {r.call_recall(False):.1%}, "
              f"violating called a violation: {r.call_recall(True):.1%}",
              f"false detections judged (could alarm): {r.false_judged} "
              f"({r.false_judged / max(1, r.photos):.3f} per image)",
              "false detections by photo: " + (", ".join(f"{name} {n}" for name, n in r.false_by_photo()[:5])
                                               or "none"),
              f"time: {r.ms_per_photo:.1f} ms per photo"]
    if r.unreadable:
        lines.append(f"unreadable images skipped: {len(r.unreadable)}")
    lines += list(extra)
    lines += [f"face recall: {r.face_recall:.1%} of faces >= {r.min_face_px} px "
              f"({r.judged_found} / {r.judged_total})",
              f"balanced accuracy on found faces: {r.balanced_accuracy:.1%}",
              f"end-to-end violation recall: {r.violation_recall:.1%} "
              f"({r.violations_called} / {r.violations})",
              f"false detections per image: {r.false_per_image:.3f} "
              f"({r.false_detections} in {r.photos} photos)"]
    return "\n".join(lines)
