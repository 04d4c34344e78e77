"""Masks worn incorrectly, made from faces with and without a mask, guided by the face's landmarks.

The scene data set holds about 30 masks worn under the nose or on the chin that the device
cuts at 24 px or more; a model cannot learn that class from so few. Each synthetic example
takes a face without a mask (``bare``) and the lower face of a face with a mask
(``masked``): the masked face is brought onto the bare one by the similarity transform
between their RetinaFace landmarks (eyes, nose, mouth corners), the region below its mask's
upper edge is cut out (the lower half of an ellipse around the face) and pasted *lower* on
the bare face, so that its upper edge falls

* under the nose: between the nose tip and the upper lip (nose bare, mouth covered), or
* on the chin: below the mouth (nose and mouth bare),

with a feathered edge. The result is shrunk at random to the face sizes a kitchen camera
sees (24-96 px), so the crop the runtime makes from it is as blurred as a real one.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from models.mask_data import Sample

INCORRECT = 2  # class index of mask_weared_incorrect
UNDER_NOSE_SHARE = 0.7  # the rest on the chin: the data set's incorrect masks are mostly under the nose
MASK_TOP = 0.5  # a mask's upper edge, from the eye line towards the nose tip (in the masked face)
FACE_PX = (24, 96)  # short side the synthetic face is shrunk to, at most
MIN_DONOR_PX = 40  # smaller faces give no usable mask or nose


def usable(sample: Sample) -> bool:
    """A face big and frontal enough to take a mask from or put one on."""
    if sample.face is None or sample.landmarks is None:
        return False
    x1, y1, x2, y2 = sample.face
    if min(x2 - x1, y2 - y1) < MIN_DONOR_PX:
        return False
    (rx, ry), (lx, ly), (nx, ny), (mrx, mry), (mlx, mly) = sample.landmarks
    eye_gap = abs(lx - rx)
    eyes_y, mouth_y = (ry + ly) / 2, (mry + mly) / 2
    return (eye_gap > 0.25 * (x2 - x1) and min(rx, lx) < nx < max(rx, lx)
            and eyes_y < ny < mouth_y)


def mask_top_y(points: np.ndarray) -> float:
    eyes_y = (points[0, 1] + points[1, 1]) / 2
    return float(eyes_y + MASK_TOP * (points[2, 1] - eyes_y))


def lower_face_alpha(sample: Sample, top_y: float) -> np.ndarray:
    """1 on the masked face's region below ``top_y``: the lower half of an ellipse around the face."""
    assert sample.face is not None
    height, width = sample.image.shape[:2]
    x1, _y1, x2, y2 = sample.face
    alpha = np.zeros((height, width), np.float32)
    centre = (int(round((x1 + x2) / 2)), int(round(top_y)))
    axes = (int(round((x2 - x1) * 0.55)), max(1, int(round((y2 - top_y) * 1.05))))
    cv2.ellipse(alpha, centre, axes, 0, 0, 180, 1.0, -1)
    return alpha


def target_top(points: np.ndarray, rng: np.random.Generator) -> tuple[float, str]:
    """Where the pasted mask's upper edge goes on the bare face, and which way it is worn."""
    nose_y = points[2, 1]
    mouth_y = (points[3, 1] + points[4, 1]) / 2
    gap = mouth_y - nose_y
    if rng.random() < UNDER_NOSE_SHARE:
        return float(nose_y + rng.uniform(0.05, 0.45) * gap), "under_nose"
    return float(mouth_y + rng.uniform(0.15, 0.5) * gap), "on_chin"


def synthesise(bare: Sample, masked: Sample, rng: np.random.Generator) -> Sample | None:
    """One face wearing ``masked``'s mask too low, labelled worn incorrectly; None if the
    landmarks give no sensible transform."""
    if not (usable(bare) and usable(masked)):
        return None
    assert bare.face is not None and bare.landmarks is not None and masked.landmarks is not None
    src = np.asarray(masked.landmarks, np.float32)
    dst = np.asarray(bare.landmarks, np.float32)
    # eyes and mouth corners only: the nose is hidden under the donor's mask, its point a guess
    transform, _ = cv2.estimateAffinePartial2D(src[[0, 1, 3, 4]], dst[[0, 1, 3, 4]])
    if transform is None:
        return None
    scale = float(np.hypot(transform[0, 0], transform[0, 1]))
    if not 0.2 < scale < 5.0:
        return None
    top_src = mask_top_y(src)
    top_now = transform @ np.array([src[2, 0], top_src, 1.0])
    top_want, _how = target_top(dst, rng)
    transform = transform.copy()
    transform[1, 2] += top_want - top_now[1]  # move the mask down the bare face
    height, width = bare.image.shape[:2]
    warped = cv2.warpAffine(masked.image, transform, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    alpha = cv2.warpAffine(lower_face_alpha(masked, top_src), transform, (width, height),
                           flags=cv2.INTER_LINEAR, borderValue=0)
    face_w = bare.face[2] - bare.face[0]
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.8, 0.025 * face_w))[..., None]
    image = (bare.image.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha)
    out = replace(bare, image=np.clip(image, 0, 255).astype(np.uint8), label=INCORRECT,
                  base_id=f"synth-{bare.base_id}-{masked.base_id}")
    return shrunk(out, rng)


def shrunk(sample: Sample, rng: np.random.Generator) -> Sample:
    """The sample at a random face size of a kitchen camera (never enlarged)."""
    assert sample.face is not None
    side = min(sample.face[2] - sample.face[0], sample.face[3] - sample.face[1])
    factor = min(1.0, rng.uniform(*FACE_PX) / side)
    if factor >= 0.999:
        return sample
    image = cv2.resize(sample.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    box = tuple(v * factor for v in sample.face)
    points = tuple((x * factor, y * factor) for x, y in sample.landmarks or ())
    return replace(sample, image=image, face=box, landmarks=points or None)  # type: ignore[arg-type]


def synthetic_incorrect(bare: list[Sample], masked: list[Sample], count: int,
                        seed: int) -> list[Sample]:
    """``count`` synthetic masks worn incorrectly from random (bare, masked) pairs, seeded."""
    rng = np.random.default_rng(seed)
    bare = [s for s in bare if usable(s)]
    masked = [s for s in masked if usable(s)]
    if not bare or not masked:
        return []
    out: list[Sample] = []
    for _ in range(count * 4):  # a pair whose landmarks disagree is skipped
        made = synthesise(bare[rng.integers(len(bare))], masked[rng.integers(len(masked))], rng)
        if made is not None:
            out.append(made)
            if len(out) == count:
                break
    return out
