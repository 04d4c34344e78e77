"""Motion gating: is anything moving, and where? Cheap enough to run on every analysed frame.

The frame is shrunk to ``width`` pixels (160 by default: ~19k pixels), turned grey and
blurred, then compared with a slowly adapting background (running average). Pixels that
differ by more than ``threshold`` grey levels, outside the ignore zones, are motion; the
frame "moves" when they cover at least ``min_area`` of the image. Moving regions come
back as boxes in full-resolution pixels so detection can run on them only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from agent.vision.crops import Box

Polygon = Sequence[tuple[float, float]]  # normalised (0..1) image coordinates


@dataclass(frozen=True)
class MotionResult:
    moving: bool
    fraction: float  # share of the (non-ignored) image that changed
    regions: list[Box]  # full-resolution boxes around moving blobs


def zone_mask(shape: tuple[int, int], zones: Sequence[Polygon]) -> np.ndarray:
    """1 where pixels count, 0 inside ignore zones (shape is (height, width))."""
    height, width = shape
    mask = np.ones((height, width), np.uint8)
    for zone in zones:
        pts = np.array([[x * width, y * height] for x, y in zone], np.int32)
        cv2.fillPoly(mask, [pts], 0)
    return mask


def in_zones(point: tuple[float, float], zones: Sequence[Polygon]) -> bool:
    """Is a normalised point inside any zone?"""
    for zone in zones:
        contour = np.array(zone, np.float32).reshape(-1, 1, 2)
        if cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0:
            return True
    return False


class MotionDetector:
    def __init__(self, min_area: float = 0.002, ignore_zones: Sequence[Polygon] = (),
                 width: int = 160, threshold: int = 18, learn_rate: float = 0.15) -> None:
        self.min_area = min_area
        self.zones = list(ignore_zones)
        self.width = width
        self.threshold = threshold
        self.learn_rate = learn_rate
        self._background: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def reset(self) -> None:
        """Forget the background (after a reconnect the picture may have changed)."""
        self._background = None

    def update(self, image_bgr: np.ndarray) -> MotionResult:
        full_h, full_w = image_bgr.shape[:2]
        scale = self.width / full_w
        small = cv2.resize(image_bgr, (self.width, max(1, int(full_h * scale))),
                           interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            self._mask = zone_mask(grey.shape, self.zones)
            return MotionResult(False, 0.0, [])
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        cv2.accumulateWeighted(grey, self._background, self.learn_rate)
        _, moving = cv2.threshold(diff, self.threshold, 1, cv2.THRESH_BINARY)
        mask = self._mask
        assert mask is not None  # set with the background above
        moving &= mask
        counted = max(1, int(mask.sum()))
        fraction = float(moving.sum()) / counted
        if fraction < self.min_area:
            return MotionResult(False, fraction, [])
        moving = cv2.dilate(moving, self._kernel, iterations=2)
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        regions = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            regions.append((x / scale, y / scale, (x + w) / scale, (y + h) / scale))
        return MotionResult(True, fraction, regions)
