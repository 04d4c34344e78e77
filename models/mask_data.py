"""The mask classifier's training data: samples, the runtime crop and its augmentations.

Shared by stage 1 (models/build.py) and stage 2 (models/scene_stage.py), so that both cut
faces exactly as the device does (agent/vision/crops.py).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from agent.vision import crops
from agent.vision.faces import FaceDetector

if TYPE_CHECKING:
    import torch

log = logging.getLogger("models.build")

CLASSES = ("with_mask", "without_mask")  # face-mask/ folders, stage 1's classes
MASK_INPUT = 128
MASK_MARGIN = 0.2  # runtime crop: square around the RetinaFace box, side * 1.2
SEED = 20240607  # every random choice of the build starts from it
MEMBER_SEED_STRIDE = 1009  # a classifier member's training seeds: SEED + stride x member


def member_seed(member: int) -> int:
    """The seed member ``member`` of the mask classifier trains from (member 0: SEED). Only the
    training draws take it; the photos' folds, the selection split and the held-out views stay
    on SEED, so members are predicted on the same folds and can be averaged out of fold."""
    return SEED + MEMBER_SEED_STRIDE * member


@dataclass
class Sample:
    image: np.ndarray  # BGR
    face: crops.Box | None  # RetinaFace box, None when no face was found
    label: int
    base_id: str
    landmarks: tuple[tuple[float, float], ...] | None = None  # RetinaFace's 5 points, when known


def load_split(data: Path, split: str, detector: FaceDetector) -> list[Sample]:
    samples = []
    for label, name in enumerate(CLASSES):
        for file in sorted((data / split / name).glob("*.jpg")):
            image = cv2.imread(str(file))
            if image is None:
                log.warning("build.data.unreadable file=%s", file)
                continue
            faces = detector.detect(image)
            best = max(faces, key=lambda f: f.score) if faces else None
            samples.append(Sample(image, best.box if best else None, label, file.stem.split("_")[0],
                                  best.landmarks if best else None))
    missing = sum(s.face is None for s in samples)
    log.info("build.data split=%s images=%d no_face=%d", split, len(samples), missing)
    return samples


def split_by_base_id(samples: list[Sample], fraction: float, seed: int):
    """Model-selection split of train: whole base ids go to one side (no photo leaks).

    A few base ids hold hundreds of images (e.g. "with_mask001..675"); holding one of
    those out would starve training of that kind, so the selection split is filled with
    the smaller groups, in seeded random order, until it has `fraction` of the images.
    """
    sizes: dict[str, int] = {}
    for sample in samples:
        sizes[sample.base_id] = sizes.get(sample.base_id, 0) + 1
    target = fraction * len(samples)
    ids = sorted(sizes)
    random.Random(seed).shuffle(ids)
    held: set[str] = set()
    taken = 0
    for base_id in ids:
        if taken + sizes[base_id] <= target and sizes[base_id] <= target / 4:
            held.add(base_id)
            taken += sizes[base_id]
    return ([s for s in samples if s.base_id not in held],
            [s for s in samples if s.base_id in held])


def runtime_crop(sample: Sample) -> np.ndarray:
    """The crop the runtime would make: square face box + margin, else the whole image."""
    if sample.face is None:
        return sample.image
    return crops.crop(sample.image, crops.square_box(sample.face, MASK_MARGIN))


def augmented_crop(sample: Sample, rng: np.random.Generator) -> np.ndarray:
    """Random margin, shift, flip and photometric change around the runtime crop."""
    if sample.face is None:
        h, w = sample.image.shape[:2]
        f = rng.uniform(0.8, 1.0)
        x0, y0 = rng.uniform(0, (1 - f) * w), rng.uniform(0, (1 - f) * h)
        box = (x0, y0, x0 + f * w, y0 + f * h)
    else:
        box = crops.square_box(sample.face, rng.uniform(0.0, 0.45))
        side = box[2] - box[0]
        dx, dy = rng.uniform(-0.07, 0.07, 2) * side
        box = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
    out = crops.crop(sample.image, box)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    out = np.clip(out.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def mask_tensor(images: list[np.ndarray]) -> torch.Tensor:
    import torch  # the build's only: tests of the data helpers run without it

    return torch.from_numpy(crops.to_tensor(images, (MASK_INPUT, MASK_INPUT), "RGB",
                                            1 / 255, (0.5,) * 3, (0.5,) * 3))


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in (0, 1)]))


def balanced_log_loss(labels: np.ndarray, p_no_mask: np.ndarray) -> float:
    p = np.clip(np.where(labels == 1, p_no_mask, 1 - p_no_mask), 1e-6, 1.0)
    return float(np.mean([-np.log(p[labels == c]).mean() for c in (0, 1)]))
