"""Measure the mask classifier on a labelled folder through the runtime path.

The folder is laid out like datasets/face-mask/val: ``with_mask/*.jpg`` and
``without_mask/*.jpg``, one face per image. Each image goes through what the device does:
RetinaFace finds the face (highest score), the classifier sees the margin crop and, when the
models folder ships the nose cue, the cue decides the faces the classifier is unsure of (as
on the camera, agent/vision/nose.py); when no face is found the whole image is taken as the
crop (counted in the report).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.vision.faces import FaceDetector
from agent.vision.mask import MaskClassifier
from agent.vision.nose import NoseCue, joined

log = logging.getLogger(__name__)

CLASSES = ("with_mask", "without_mask")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# The face in a dataset crop may be partly masked; a lower bar than live detection.
EVAL_DETECT_THRESHOLD = 0.5


@dataclass
class MaskReport:
    data_dir: str
    threshold: float
    confusion: list[list[int]]  # [true class][predicted class], order CLASSES
    no_face: int = 0
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return int(np.sum(self.confusion))

    @property
    def recalls(self) -> list[float]:
        return [row[i] / max(1, sum(row)) for i, row in enumerate(self.confusion)]

    @property
    def balanced_accuracy(self) -> float:
        return float(np.mean(self.recalls))

    @property
    def accuracy(self) -> float:
        return (self.confusion[0][0] + self.confusion[1][1]) / max(1, self.total)

    def summary(self) -> dict[str, Any]:
        return {"images": self.total, "confusion": self.confusion,
                "balanced_accuracy": round(self.balanced_accuracy, 4),
                "accuracy": round(self.accuracy, 4), "no_face": self.no_face,
                "threshold": self.threshold}


def labelled_images(data_dir: Path) -> list[tuple[Path, int]]:
    items = []
    for label, name in enumerate(CLASSES):
        folder = data_dir / name
        if not folder.is_dir():
            raise FileNotFoundError(f"expected a folder {folder} (layout: {'/, '.join(CLASSES)}/)")
        items += [(p, label) for p in sorted(folder.iterdir())
                  if p.suffix.lower() in IMAGE_SUFFIXES]
    return items


def evaluate_mask(data_dir: Path | str, models_dir: Path | str | None = None,
                  threads: int | None = None, threshold: float = 0.5) -> MaskReport:
    """Confusion matrix and balanced accuracy of no-mask prediction on a labelled folder."""
    data_dir = Path(data_dir)
    detector = FaceDetector.from_manifest(models_dir, threads,
                                          score_threshold=EVAL_DETECT_THRESHOLD)
    classifier = MaskClassifier.from_manifest(models_dir, threads)
    nose = NoseCue.from_manifest(models_dir, threads)  # the camera path's call: see agent/vision/nose.py
    report = MaskReport(str(data_dir), threshold, [[0, 0], [0, 0]])
    start = time.monotonic()
    for path, label in labelled_images(data_dir):
        image = cv2.imread(str(path))
        if image is None:
            report.unreadable.append(str(path))
            continue
        faces = detector.detect(image)
        if faces:
            best = max(faces, key=lambda f: f.score)
            p_no_mask = classifier.predict(image, best.box)
            if nose is not None:
                p_visible = nose.p_visible(image, [best.landmarks])[0]
                p_no_mask = joined(p_no_mask, p_visible, nose.gate, threshold)
        else:
            report.no_face += 1
            p_no_mask = classifier.predict(image)
        report.confusion[label][int(p_no_mask > threshold)] += 1
    report.seconds = time.monotonic() - start
    log.info("vision.eval.mask images=%d balanced_accuracy=%.4f no_face=%d", report.total,
             report.balanced_accuracy, report.no_face)
    return report


def format_report(report: MaskReport) -> str:
    width = max(len(c) for c in CLASSES) + 2
    lines = [f"Mask classifier on {report.data_dir} ({report.total} images, "
             f"no-mask threshold {report.threshold})",
             "",
             " " * (width + 7) + "predicted",
             "true".ljust(width + 7) + "".join(c.rjust(width) for c in CLASSES) + "   recall"]
    for name, row, recall in zip(CLASSES, report.confusion, report.recalls, strict=True):
        cells = "".join(str(v).rjust(width) for v in row)
        lines.append(f"       {name.ljust(width)}{cells}   {recall:6.1%}")
    lines += ["",
              f"balanced accuracy: {report.balanced_accuracy:.2%}",
              f"accuracy:          {report.accuracy:.2%}",
              f"no face found (whole image classified): {report.no_face}",
              f"time: {report.seconds:.1f} s"]
    if report.unreadable:
        lines.append(f"unreadable images skipped: {len(report.unreadable)}")
    return "\n".join(lines)
