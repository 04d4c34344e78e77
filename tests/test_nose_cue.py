"""The nose cue (agent/vision/nose.py, models/nose_rule.py): the patch follows the
face's landmarks whatever its pose, and the joined call and its choice of points behave as the
record says. No torch: the geometry is numpy and OpenCV, the rule plain arrays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.vision.nose import PATCH_PX, TEMPLATE, patch_of, patch_transform, similarity
from models import folds
from models.nose_rule import NO_GATE, best_row, calls_at, fires


def pose(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), shift[0]],
                     [scale * np.sin(a), scale * np.cos(a), shift[1]]])


def moved(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]


def test_the_similarity_of_the_landmarks_is_recovered_exactly() -> None:
    m = pose(17.0, 2.3, (40.0, 25.0))
    assert np.allclose(similarity(TEMPLATE, moved(TEMPLATE, m)), m, atol=1e-6)


@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (-15.0, 0.4), (25.0, 2.5)])
def test_the_patch_follows_the_face_whatever_its_pose(angle: float, scale: float) -> None:
    """A bright dot on the nose tip of a template face lands where the patch box puts the nose
    tip, for a face turned, shrunk (a far face) or enlarged in the frame."""
    face = np.full((112, 112, 3), 60, np.uint8)
    nose = TEMPLATE[2]
    cv2.circle(face, (round(float(nose[0])), round(float(nose[1]))), 3, (255, 255, 255), -1)
    m = pose(angle, scale, (200.0, 150.0))
    frame = cv2.warpAffine(face, m, (640, 480), borderValue=(60, 60, 60))
    patch = patch_of(frame, [tuple(p) for p in moved(TEMPLATE, m)])
    assert patch.shape == (PATCH_PX, PATCH_PX, 3)
    expected = moved(nose[None], patch_transform())[0]
    grey = patch[..., 0].astype(float)
    ys, xs = np.nonzero(grey > grey.max() * 0.8)
    assert np.hypot(xs.mean() - expected[0], ys.mean() - expected[1]) < 1.5


def test_the_gate_keeps_the_cue_to_faces_the_classifier_doubts() -> None:
    cue = np.array([0.9, 0.9, 0.9, np.nan, 0.1])
    pv = np.array([0.02, 0.4, 0.95, 0.5, 0.5])
    assert fires(cue, pv, c=0.5, g=0.05).tolist() == [False, True, True, False, False]
    assert fires(cue, pv, c=0.5, g=NO_GATE).tolist() == [True, True, True, False, False]


def test_the_choice_takes_a_feasible_point_before_a_better_looking_one() -> None:
    """Masked faces a skin-coloured mask makes the cue call: the OR rule gains the masks worn
    incorrectly but calls masked faces and the crop set; the gate keeps the gain without them."""
    labels = np.array([0] * 100 + [1] * 10 + [2] * 10)  # masked, without, worn incorrectly
    pv = np.concatenate([np.full(98, 0.01), [0.02, 0.02], np.full(10, 0.99), np.full(10, 0.5)])
    cue = np.concatenate([np.full(98, 0.1), [0.9, 0.9], np.full(10, 0.9), np.full(10, 0.9)])
    crop_y = np.array([0] * 50 + [1] * 50)
    crop_pv = np.concatenate([np.full(50, 0.01), np.full(50, 0.99)])
    crop_cue = np.concatenate([np.full(48, 0.1), [0.9, 0.9], np.full(50, 0.9)])
    rows = [calls_at(labels, pv, cue, crop_y, crop_pv, crop_cue, 0.87, c, g)
            for c in (0.5, 2.0) for g in (NO_GATE, 0.05)]
    ungated = rows[0]
    assert ungated["incorrect_called"] == 1.0 and ungated["masked_called"] == 0.02
    assert ungated["crop_set_balanced_accuracy"] < folds.MIN_CROP_SET_BA
    chosen = best_row(rows)
    assert (chosen["c"], chosen["g"]) == (0.5, 0.05)
    assert chosen["incorrect_called"] == 1.0 and chosen["masked_called"] == 0.0
    assert chosen["crop_set_balanced_accuracy"] == 1.0
