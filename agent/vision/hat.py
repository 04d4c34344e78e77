"""Per-site chef-hat enrolment: a logistic head on backbone features, fitted on the device.

No public chef-hat model or data exists, so the hat check is off until an installer
enrols the site: labelled head crops in ``DIR/hat/*.jpg`` and ``DIR/no_hat/*.jpg``.
Enrolment stores ``hat_head.npz`` and ``hat_enrolment.json`` (sha256 of the head and of
the backbone it was fitted on) in the site directory. ``HatClassifier.load`` returns None
when there is no enrolment, so callers can show the hat check as off.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.vision import crops
from agent.vision.crops import Box
from agent.vision.features import BackboneFeatures
from agent.vision.logreg import LogisticHead, cross_validated_accuracy, fit_logistic
from agent.vision.models import ModelIntegrityError, sha256_file

log = logging.getLogger(__name__)

HEAD_FILE = "hat_head.npz"
ENROLMENT_FILE = "hat_enrolment.json"
LABELS = {"no_hat": 0, "hat": 1}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
DEFAULT_SITE_DIR = Path("/var/lib/canteen-agent/vision")
MIN_PER_CLASS = 5


class HatEnrolmentError(RuntimeError):
    """Enrolment data unusable, or a stored enrolment that does not match this device."""


@dataclass
class EnrolmentReport:
    site_dir: str
    hat_images: int
    no_hat_images: int
    fold_accuracies: list[float]
    cv_accuracy: float
    head_sha256: str
    backbone_sha256: str
    created_at: str
    skipped: list[str]


def read_labelled_crops(source_dir: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Images under source_dir/{hat,no_hat}/; returns crops, labels (1 = hat), skipped."""
    images, labels, skipped = [], [], []
    for name, label in LABELS.items():
        folder = source_dir / name
        if not folder.is_dir():
            raise HatEnrolmentError(f"missing folder {folder} (need {source_dir}/hat and /no_hat)")
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(path))
            if image is None:
                skipped.append(str(path))
                continue
            images.append(image)
            labels.append(label)
    return images, np.array(labels, dtype=int), skipped


def check_counts(labels: np.ndarray) -> None:
    counts = np.bincount(labels, minlength=2)
    if counts.min() < MIN_PER_CLASS:
        raise HatEnrolmentError(
            f"need at least {MIN_PER_CLASS} images per class, have hat={counts[1]} "
            f"no_hat={counts[0]}")


def save_head(head: LogisticHead, site_dir: Path) -> Path:
    site_dir.mkdir(parents=True, exist_ok=True)
    path = site_dir / HEAD_FILE
    with open(path, "wb") as fh:  # a file object: np.savez would otherwise add ".npz"
        np.savez(fh, weights=head.weights, bias=np.float32(head.bias),
                 feature_mean=head.feature_mean, feature_std=head.feature_std)
    return path


def enroll(source_dir: Path | str, site_dir: Path | str = DEFAULT_SITE_DIR,
           models_dir: Path | str | None = None, folds: int = 5, seed: int = 0,
           l2: float = 1.0, threads: int | None = None) -> EnrolmentReport:
    """Fit and store the site's hat head; report k-fold cross-validated accuracy."""
    source_dir, site_dir = Path(source_dir), Path(site_dir)
    images, labels, skipped = read_labelled_crops(source_dir)
    check_counts(labels)
    backbone = BackboneFeatures.from_manifest(models_dir, threads)
    features = backbone.embed(images)
    fold_scores = cross_validated_accuracy(features, labels, folds, seed, l2)
    head_path = save_head(fit_logistic(features, labels, l2), site_dir)
    report = EnrolmentReport(
        site_dir=str(site_dir), hat_images=int(labels.sum()),
        no_hat_images=int((labels == 0).sum()), fold_accuracies=fold_scores,
        cv_accuracy=float(np.mean(fold_scores)), head_sha256=sha256_file(head_path),
        backbone_sha256=backbone.sha256, created_at=datetime.now(UTC).isoformat(),
        skipped=skipped)
    entry = {"file": HEAD_FILE, "classes": {"0": "no_hat", "1": "hat"}, "l2": l2,
             "input": "head crop (see agent.vision.crops.head_box)", **asdict(report)}
    (site_dir / ENROLMENT_FILE).write_text(json.dumps(entry, indent=2) + "\n")
    log.info("vision.hat.enrolled site_dir=%s hat=%d no_hat=%d cv_accuracy=%.3f",
             site_dir, report.hat_images, report.no_hat_images, report.cv_accuracy)
    return report


def load_head(site_dir: Path, backbone_sha256: str) -> tuple[LogisticHead, dict[str, Any]]:
    entry = json.loads((site_dir / ENROLMENT_FILE).read_text(encoding="utf-8"))
    head_path = site_dir / entry["file"]
    if not head_path.is_file() or sha256_file(head_path) != entry["head_sha256"]:
        raise HatEnrolmentError(f"{head_path} is missing or its sha256 differs from "
                                f"{ENROLMENT_FILE}; re-run enrolment")
    if entry["backbone_sha256"] != backbone_sha256:
        raise HatEnrolmentError("hat enrolment was fitted on a different backbone model; "
                                "re-run enrolment")
    with np.load(head_path) as data:
        head = LogisticHead(data["weights"], float(data["bias"]), data["feature_mean"],
                            data["feature_std"])
    return head, entry


class HatClassifier:
    def __init__(self, head: LogisticHead, backbone: BackboneFeatures, entry: dict[str, Any]) -> None:
        self.head = head
        self.backbone = backbone
        self.entry = entry

    @classmethod
    def load(cls, site_dir: Path | str = DEFAULT_SITE_DIR, models_dir: Path | str | None = None,
             threads: int | None = None) -> HatClassifier | None:
        """The site's hat classifier, or None when the site has not been enrolled."""
        site_dir = Path(site_dir)
        if not (site_dir / ENROLMENT_FILE).is_file():
            log.warning("vision.hat.not_enrolled site_dir=%s hat check is off", site_dir)
            return None
        backbone = BackboneFeatures.from_manifest(models_dir, threads)
        head, entry = load_head(site_dir, backbone.sha256)
        log.info("vision.hat.loaded site_dir=%s cv_accuracy=%.3f", site_dir,
                 entry["cv_accuracy"])
        return cls(head, backbone, entry)

    def predict_crops(self, head_crops: list[np.ndarray]) -> np.ndarray:
        """Probability of a hat for each BGR head crop."""
        return self.head.predict_proba(self.backbone.embed(head_crops)).astype(np.float32)

    def predict(self, image_bgr: np.ndarray, face_box: Box) -> float:
        """Probability of a hat on the head above a detected face."""
        return float(self.predict_crops([crops.crop(image_bgr, crops.head_box(face_box))])[0])


def format_report(report: EnrolmentReport) -> str:
    folds = ", ".join(f"{a:.0%}" for a in report.fold_accuracies)
    lines = [f"Hat enrolment stored in {report.site_dir}",
             f"  images: hat={report.hat_images} no_hat={report.no_hat_images}",
             f"  cross-validated accuracy: {report.cv_accuracy:.1%} "
             f"({len(report.fold_accuracies)} folds: {folds})"]
    if report.skipped:
        lines.append(f"  unreadable images skipped: {len(report.skipped)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`canteen-agent vision enroll --from DIR [--site-dir DIR] [--models DIR] ...`."""
    parser = argparse.ArgumentParser(prog="canteen-agent vision enroll",
                                     description="Enrol chef-hat detection for this site.")
    parser.add_argument("--from", dest="source", type=Path, required=True,
                        help="folder with hat/ and no_hat/ head crops")
    parser.add_argument("--site-dir", type=Path, default=DEFAULT_SITE_DIR)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        report = enroll(args.source, args.site_dir, args.models, args.folds,
                        threads=args.threads)
    except HatEnrolmentError as exc:
        print(f"error: {exc}")
        return 2
    except ModelIntegrityError as exc:
        print(f"error: {exc}")
        return 3
    print(format_report(report))
    return 0
