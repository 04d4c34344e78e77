"""The "nose visible" cue (models/nose_cue.onnx): a face's 5 landmarks -> P(the nose is bare).

A mask worn under the nose is the violation the mask classifier misses most: it learns that
class from a few dozen scene faces. The cue asks one narrower question of a small patch
around the nose, and it learns it from thousands of faces (every masked face is "covered",
every bare one "visible"). It only decides the faces the classifier is unsure of:

    violation  <=>  P(violation) > T,  or  P(nose visible) > T and P(violation) > gate

with T the config's ``mask_threshold`` (both models are shifted by the build so that 0.5 is
the point chosen by cross-validation) and the gate from the manifest (``vision.nose_gate``
overrides it). A skin-coloured mask worn right, which the cue may take for a nose, is one
the classifier is sure of, so it stays below the gate. ``joined`` folds the rule into one
probability, so the tracker, the alarm and ``vision eval`` read one number per face.

The patch: the face is aligned on ArcFace's 112-px 5-point template by the least-squares
similarity of its eyes and mouth corners (under a mask the nose point is a guess, so it does
not place the patch), then the template's box from just above the eye line to below the nose
tip is resized to a square. The build (models/nose_cue.py) cuts its training patches with the
same functions, so what the model learnt is what the camera gives it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.vision.models import LoadedModel, load_manifest, load_model

log = logging.getLogger(__name__)

MODEL_NAME = "nose_cue"
Landmarks = Sequence[tuple[float, float]]

# ArcFace's 112x112 template: right eye, left eye, nose tip, right and left mouth corner
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)
ALIGN_POINTS = (0, 1, 3, 4)  # eyes and mouth corners
ALIGNED_PX = 112
PATCH_BOX = (32.0, 42.0, 80.0, 84.0)  # in the template: eye line to below the nose tip
PATCH_PX = 32
SHRINK_FIRST = 0.7  # a face larger than this over the template is area-averaged before the warp


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, shift) taking ``src`` points onto
    ``dst`` (Umeyama, no reflection), as a 2x3 matrix; deterministic, unlike RANSAC."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s ** 2).sum() / len(src)
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / max(var, 1e-12)
    out = np.empty((2, 3))
    out[:, :2] = scale * rot
    out[:, 2] = mu_d - out[:, :2] @ mu_s
    return out


def aligned_face(image: np.ndarray, landmarks: Landmarks) -> np.ndarray:
    """The face warped onto the 112-px template (BGR). A face larger than the template is
    first shrunk with area averaging, so the warp does not alias; a smaller one stays as
    blurred as the camera saw it."""
    points = np.asarray(landmarks, np.float32)[list(ALIGN_POINTS)]
    m = similarity(points, TEMPLATE[list(ALIGN_POINTS)])
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    if scale < SHRINK_FIRST:
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0, 1], [ALIGNED_PX, 0, 1], [0, ALIGNED_PX, 1],
                            [ALIGNED_PX, ALIGNED_PX, 1]], np.float64) @ inv.T
        h, w = image.shape[:2]
        x1, y1 = (int(max(0, np.floor(v))) for v in corners.min(0))
        x2, y2 = int(min(w, np.ceil(corners[:, 0].max()))), int(min(h, np.ceil(corners[:, 1].max())))
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            region = cv2.resize(image[y1:y2, x1:x2], None, fx=scale, fy=scale,
                                interpolation=cv2.INTER_AREA)
            shift = np.array([[1 / scale, 0, x1], [0, 1 / scale, y1], [0, 0, 1]])
            m = m @ shift  # region pixels -> image pixels -> template
            image = region
    return cv2.warpAffine(image, m, (ALIGNED_PX, ALIGNED_PX), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def patch_transform(box: tuple[float, float, float, float] = PATCH_BOX, px: int = PATCH_PX,
                    jitter: Sequence[float] | None = None) -> np.ndarray:
    """Template pixels -> patch pixels (2x3); ``jitter`` = (dx, dy, log scale, angle in
    radians) moves the box a little (the build's augmentation)."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy, log_s, angle = jitter if jitter is not None else (0.0, 0.0, 0.0, 0.0)
    s = np.exp(log_s)
    c, si = np.cos(angle) * s, np.sin(angle) * s
    # about the box centre: rotate and scale, move, then the box onto the patch
    rot = np.array([[c, -si, cx + dx - c * cx + si * cy], [si, c, cy + dy - si * cx - c * cy],
                    [0, 0, 1]])
    to_patch = np.array([[px / (x2 - x1), 0, -x1 * px / (x2 - x1)],
                         [0, px / (y2 - y1), -y1 * px / (y2 - y1)], [0, 0, 1]])
    return (to_patch @ np.linalg.inv(rot))[:2]


def nose_patch(aligned: np.ndarray, box: tuple[float, float, float, float] = PATCH_BOX,
               px: int = PATCH_PX, jitter: Sequence[float] | None = None) -> np.ndarray:
    """The nose patch (BGR, ``px`` square) of an aligned face."""
    return cv2.warpAffine(aligned, patch_transform(box, px, jitter), (px, px),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def patch_of(image: np.ndarray, landmarks: Landmarks,
             box: tuple[float, float, float, float] = PATCH_BOX, px: int = PATCH_PX) -> np.ndarray:
    """Image + a face's 5 landmarks (frame pixels) -> its nose patch (BGR)."""
    return nose_patch(aligned_face(image, landmarks), box, px)


def patch_batch(patches: Sequence[np.ndarray]) -> np.ndarray:
    """BGR patches -> the model's float32 NCHW input (RGB, (x / 255 - 0.5) / 0.5)."""
    if not patches:
        return np.zeros((0, 3, 1, 1), np.float32)
    x = np.stack([p[..., ::-1] for p in patches]).astype(np.float32) / 255.0
    return ((x - 0.5) / 0.5).transpose(0, 3, 1, 2).copy()


def joined(p_violation: float, p_visible: float | None, gate: float, threshold: float) -> float:
    """One face's P(violation) with the cue's word: the cue's probability where the classifier
    is unsure (above ``gate``, not above ``threshold``) and the cue says more; else the
    classifier's own. So joined > threshold exactly when the rule above calls a violation."""
    if p_visible is None or not gate < p_violation <= threshold:
        return p_violation
    return max(p_violation, p_visible)


def usable(landmarks: Landmarks) -> bool:
    """Five finite points whose eyes are apart: a face the patch can be cut from."""
    points = np.asarray(landmarks, np.float64)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        return False
    return bool(np.hypot(*(points[1] - points[0])) >= 1.0)


@dataclass(frozen=True)
class NoseCue:
    model: LoadedModel
    gate: float  # P(violation) above which the cue may call, in the shipped classifier's scale
    box: tuple[float, float, float, float] = PATCH_BOX
    px: int = PATCH_PX

    @classmethod
    def from_manifest(cls, models_dir: Path | str | None = None, threads: int | None = None,
                      gate: float | None = None) -> NoseCue | None:
        """The cue, or None when the models folder ships none (an older build)."""
        if MODEL_NAME not in load_manifest(models_dir).models:
            log.info("vision.nose_cue.absent models_dir=%s", models_dir)
            return None
        model = load_model(MODEL_NAME, models_dir, threads)
        post, pre = model.entry.postprocessing, model.entry.preprocessing
        shipped_gate = post.get("gate")
        box = pre.get("patch_box_in_template", PATCH_BOX)
        if not isinstance(shipped_gate, int | float) or not isinstance(box, list | tuple) or len(box) != 4:
            raise ValueError(f"{MODEL_NAME}: the manifest lacks its gate or patch box")
        px = model.entry.input.width or PATCH_PX
        x1, y1, x2, y2 = (float(v) for v in box)
        return cls(model, float(shipped_gate) if gate is None else gate, (x1, y1, x2, y2), px)

    def p_visible(self, image: np.ndarray, faces: Sequence[Landmarks]) -> list[float | None]:
        """P(nose visible) for each face's landmarks; None where they cannot place a patch."""
        out: list[float | None] = [None] * len(faces)
        todo = [i for i, points in enumerate(faces) if usable(points)]
        if not todo:
            return out
        batch = patch_batch([patch_of(image, faces[i], self.box, self.px) for i in todo])
        logits = self.model.session.run(None, {self.model.input_name: batch})[0][:, 0]
        for i, logit in zip(todo, logits.tolist(), strict=True):
            out[i] = float(1.0 / (1.0 + np.exp(-logit)))
        return out
