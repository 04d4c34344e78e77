"""The scene photos the mask classifier's stage 2 learns from, cut as the device cuts them.

Every photo of ``face-mask-scenes`` train and val goes once through the runtime's own
``find_faces`` (the config's detector settings, no verification yet) at a lower score
(``MINE_SCORE``), and the detections are kept with the photo. From them:

* face crops (small faces scored low get the runtime's second pass, ``scene.rechecked``):
  each detection the runtime keeps (score >= ``face_score_min``) matched to an
  annotated face (IoU >= 0.4), both at least 24 px, the crop around the *detected* box,
  labelled from the annotation (with_mask / without_mask / mask_weared_incorrect);
* not-a-face crops: detections with no annotated face near (hands, jackets, decorations,
  backs of heads, and also blurred background faces the data set leaves unboxed; an audit
  file can keep only those a person calls not a face);
* the cross-validation's out-of-fold figures: the classifier's call on every detection of a
  held-out photo, counted by ``models.folds.scene_report`` exactly as ``vision eval
  --scenes`` counts the camera path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.config.vision import VisionConfig
from agent.vision.eval.review import read_audit, verdict_of
from agent.vision.eval.scenes import Annotated, Finding, load_scenes, match, near_an_annotation
from agent.vision.faces import Face, FaceDetector
from agent.vision.scene import VisionModels, find_faces, rechecked
from models.mask_data import Sample

log = logging.getLogger("models.build")

SCENE_CROP_MIN_PX = 24  # annotated and detected short side of the scene crops trained on
MINE_SCORE = 0.3  # detector score from which unannotated detections become not_face crops
LABELS = ("with_mask", "without_mask", "mask_weared_incorrect")


@dataclass
class ScenePhoto:
    split: str
    name: str  # file name in images/
    image: np.ndarray
    annotated: tuple[Annotated, ...]
    found: list[Face]  # find_faces at MINE_SCORE, not verified

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.annotated]


def load_photos(scenes: Path, splits: Sequence[str], detector: FaceDetector) -> list[ScenePhoto]:
    vision = VisionConfig()
    mining = vision.model_copy(update={"face_score_min": MINE_SCORE, "verify_faces": False})
    runtime = FaceDetector(detector.model, score_threshold=MINE_SCORE,
                           upscale=vision.detect_upscale, max_side=vision.detect_max_side)
    models = VisionModels(runtime, None, None)
    photos = []
    for split in splits:
        for scene in load_scenes(scenes / split):
            image = cv2.imread(str(scene.image_path))
            if image is None:
                raise SystemExit(f"unreadable photo {scene.image_path}")
            found = rechecked(models, vision, image, find_faces(models, mining, image))
            photos.append(ScenePhoto(split, scene.image_path.name, image, scene.faces, found))
    log.info("build.scenes photos=%d detections=%d", len(photos), sum(len(p.found) for p in photos))
    return photos


def matched_faces(photo: ScenePhoto, score_min: float | None = None) -> list[tuple[int, int]]:
    """(annotated index, detection index) of the runtime's kept detections matched to a face,
    both at least SCENE_CROP_MIN_PX."""
    score_min = VisionConfig().face_score_min if score_min is None else score_min
    kept = [j for j, f in enumerate(photo.found) if f.score >= score_min]
    pairs = []
    for i, k in match(photo.annotated, [photo.found[j] for j in kept]).items():
        face = photo.found[kept[k]]
        if photo.annotated[i].short_side >= SCENE_CROP_MIN_PX and \
                min(face.width, face.height) >= SCENE_CROP_MIN_PX:
            pairs.append((i, kept[k]))
    return sorted(pairs)


def sample_of(photo: ScenePhoto, j: int, label: int) -> Sample:
    face = photo.found[j]
    return Sample(photo.image, face.box, label, Path(photo.name).stem, face.landmarks)


def face_samples(photos: Sequence[ScenePhoto]) -> list[Sample]:
    return [sample_of(p, j, LABELS.index(p.annotated[i].label))
            for p in photos for i, j in matched_faces(p)]


def mined_indices(photo: ScenePhoto) -> list[int]:
    return [j for j, f in enumerate(photo.found) if not near_an_annotation(f.box, photo.annotated)]


def not_face_samples(photos: Sequence[ScenePhoto], label: int, audit_file: Path | None = None) -> list[Sample]:
    """The mined not-a-face crops (only those ``audit_file`` calls not a face, when given)."""
    audit = read_audit(audit_file, kind="mined") if audit_file is not None else None
    out = []
    for p in photos:
        for j in mined_indices(p):
            if audit is None or verdict_of(Finding(p.name, p.found[j].box, "mined"), audit) == "not_face":
                out.append(sample_of(p, j, label))
    return out


def class_counts(samples: Sequence[Sample], n: int) -> list[int]:
    return np.bincount([s.label for s in samples], minlength=n).tolist()
