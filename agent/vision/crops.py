"""Crop geometry shared by training (models/build.py) and runtime.

The mask classifier is trained on crops made by exactly these functions from RetinaFace
boxes, so runtime crops look like training crops.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


def square_box(box: Box, margin: float) -> Box:
    """A square around the box centre with side max(w, h) * (1 + margin)."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def head_box(face_box: Box) -> Box:
    """Region that holds a head covering: the face box widened and extended upwards.

    A chef hat sits above the forehead, so the region reaches one face-height above the
    face box and is 1.6x as wide, keeping the face in the lower part.
    """
    x1, y1, x2, y2 = face_box
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2.0
    return (cx - 0.8 * w, y1 - 1.0 * h, cx + 0.8 * w, y2 + 0.1 * h)


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """Cut the box out of the image, clipped to the image bounds (no padding)."""
    height, width = image.shape[:2]
    x1 = int(np.clip(np.floor(box[0]), 0, width - 1))
    y1 = int(np.clip(np.floor(box[1]), 0, height - 1))
    x2 = int(np.clip(np.ceil(box[2]), x1 + 1, width))
    y2 = int(np.clip(np.ceil(box[3]), y1 + 1, height))
    return image[y1:y2, x1:x2]


def to_tensor(crops: Sequence[np.ndarray], size: tuple[int, int], channel_order: str,
              scale: float, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """BGR crops -> float32 NCHW batch, resized and normalised as the manifest says."""
    batch = np.empty((len(crops), 3, size[1], size[0]), dtype=np.float32)
    mean_a = np.asarray(mean, dtype=np.float32)
    std_a = np.asarray(std, dtype=np.float32)
    for i, bgr in enumerate(crops):
        resized = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA
                             if bgr.shape[1] > size[0] else cv2.INTER_LINEAR)
        if channel_order == "RGB":
            resized = resized[..., ::-1]
        pixels = (resized.astype(np.float32) * scale - mean_a) / std_a
        batch[i] = pixels.transpose(2, 0, 1)
    return batch
