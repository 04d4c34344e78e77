"""The nose cue on the camera path (agent/vision/nose.py, agent/vision/scene.py): the joined
probability calls exactly what the build's rule calls, the shipped cue tells a bare nose from a
covered one on real faces, it is asked only about the faces the classifier doubts, and a models
folder without it (an older build) still loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.vision import VisionConfig
from agent.vision.eval.scenes import read_voc
from agent.vision.faces import Face
from agent.vision.models import DEFAULT_MODELS_DIR
from agent.vision.nose import NoseCue, joined, usable
from agent.vision.scene import VisionModels, judge_faces
from models.nose_rule import fires

SCENES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-mask-scenes"
needs_scenes = pytest.mark.skipif(not SCENES.is_dir(), reason=f"no data set at {SCENES}")


@pytest.fixture(scope="module")
def models() -> VisionModels:
    return VisionModels.load(VisionConfig(threads=2))


def test_the_joined_probability_calls_what_the_gated_rule_calls() -> None:
    rng = np.random.default_rng(5)
    p, q = rng.random(4000), rng.random(4000)
    p[:50] = 0.5  # on the threshold itself: not a violation, as P > T says
    for gate, threshold in ((0.006, 0.5), (0.2, 0.5), (0.1, 0.7)):
        rule = (p > threshold) | fires(q, p, threshold, gate)
        score = np.array([joined(float(a), float(b), gate, threshold) for a, b in zip(p, q, strict=True)])
        assert ((score > threshold) == rule).all()
        # outside the gated band the classifier's own probability is kept
        outside = (p <= gate) | (p > threshold)
        assert (score[outside] == p[outside]).all()
    assert joined(0.3, None, 0.01, 0.5) == 0.3  # no patch: the classifier alone


def test_landmarks_that_cannot_place_a_patch_are_refused() -> None:
    good = [(10.0, 10.0), (30.0, 10.0), (20.0, 20.0), (12.0, 30.0), (28.0, 30.0)]
    assert usable(good)
    assert not usable(good[:4])
    assert not usable([(float("nan"), 1.0)] + good[1:])
    assert not usable([(10.0, 10.0), (10.2, 10.0)] + good[2:])  # eyes on one point


def test_the_shipped_cue_has_its_gate_and_reads_bad_landmarks_as_no_answer(models: VisionModels) -> None:
    cue = models.nose
    assert cue is not None, "models/ ships nose_cue.onnx"
    assert 0 < cue.gate < 0.5
    frame = np.full((120, 160, 3), 90, np.uint8)
    good = [(60.0, 50.0), (100.0, 50.0), (80.0, 70.0), (65.0, 90.0), (95.0, 90.0)]
    out = cue.p_visible(frame, [good, [(0.0, 0.0)] * 5, good[:3]])
    assert out[0] is not None and 0.0 <= out[0] <= 1.0
    assert out[1:] == [None, None]


def scene_faces(models: VisionModels, label: str, count: int) -> list[tuple[np.ndarray, Face]]:
    """Up to ``count`` faces of this class, 48-160 px, from the shared photos in file order,
    each with the detector's landmarks (the detection overlapping the annotated box)."""
    found: list[tuple[np.ndarray, Face]] = []
    for split in ("val", "train"):
        for xml in sorted((SCENES / split / "annotations").glob("*.xml")):
            faces = [f for f in read_voc(xml) if f.label == label and 48 <= f.short_side <= 160]
            if not faces:
                continue
            image = cv2.imread(str(SCENES / split / "images" / f"{xml.stem}.jpg"))
            detected = models.detector.detect(image)
            for face in faces:
                cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
                near = [d for d in detected if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3]]
                if near:
                    found.append((image, max(near, key=lambda d: d.score)))
                if len(found) == count:
                    return found
    return found


@needs_scenes
def test_the_cue_tells_a_bare_nose_from_a_covered_one(models: VisionModels) -> None:
    cue = models.nose
    assert cue is not None
    for label, bare in (("mask_weared_incorrect", True), ("with_mask", False), ("without_mask", True)):
        faces = scene_faces(models, label, 12)
        assert len(faces) >= 8, label
        said = [cue.p_visible(image, [face.landmarks])[0] for image, face in faces]
        right = sum((p is not None and p > 0.5) == bare for p in said)
        assert right >= 0.75 * len(faces), (label, said)


@needs_scenes
def test_only_the_faces_the_classifier_doubts_are_put_to_the_cue(models: VisionModels) -> None:
    cue = models.nose
    assert cue is not None and models.mask is not None
    candidates = [(image, face, float(models.mask.predict_boxes(image, [face.box])[0]))
                  for image, face in scene_faces(models, "mask_weared_incorrect", 6)]
    image, face, p = next(c for c in candidates if c[2] < 0.99)  # a band above it must fit under 1
    q = cue.p_visible(image, [face.landmarks])[0]
    assert q is not None
    without = VisionModels(models.detector, models.mask, None)
    alone = judge_faces(without, VisionConfig(), image, [face])[0].no_mask
    assert alone == pytest.approx(p, abs=1e-6)
    # a band that holds p: the cue's word counts
    band = VisionConfig(mask_threshold=min(0.99, max(p, 0.5) + 0.005), nose_gate=max(1e-6, p / 2))
    inside = VisionModels(models.detector, models.mask, None, nose=NoseCue(cue.model, band.nose_gate or 0))
    assert judge_faces(inside, band, image, [face])[0].no_mask == pytest.approx(max(p, q), abs=1e-6)
    # a gate above p: the classifier alone decides
    above = NoseCue(cue.model, min(0.999, p + 0.001))
    assert judge_faces(VisionModels(models.detector, models.mask, None, nose=above), VisionConfig(),
                       image, [face])[0].no_mask == pytest.approx(p, abs=1e-6)


def test_the_cue_can_be_turned_off_and_an_older_models_folder_still_loads(tmp_path: Path) -> None:
    assert VisionModels.load(VisionConfig(nose_cue=False)).nose is None
    manifest = json.loads((DEFAULT_MODELS_DIR / "manifest.json").read_text())
    for entry in manifest["models"].values():
        shutil.copy(DEFAULT_MODELS_DIR / entry["file"], tmp_path / entry["file"])
    del manifest["models"]["nose_cue"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert NoseCue.from_manifest(tmp_path) is None
    assert VisionModels.load(VisionConfig(models_dir=tmp_path)).nose is None
