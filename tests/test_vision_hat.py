"""Per-site hat enrolment on a synthetic but non-trivial set of head crops."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.vision import hat
from agent.vision.hat import HatClassifier, HatEnrolmentError
from agent.vision.logreg import cross_validated_accuracy, fit_logistic, stratified_folds

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-mask"
needs_dataset = pytest.mark.skipif(not DATASET.is_dir(), reason=f"no data set at {DATASET}")
PER_CLASS = 24


def head_crop(face: np.ndarray, with_hat: bool, rng: np.random.Generator) -> np.ndarray:
    """A face below a band of background, with a drawn white chef hat or bare/hair."""
    face = cv2.resize(face, (160, 160))
    canvas = np.empty((260, 200, 3), np.uint8)
    canvas[:] = rng.integers(40, 220, 3)  # background colour varies, sometimes light
    canvas += rng.integers(0, 25, canvas.shape, dtype=np.uint8)
    canvas[95:255, 20:180] = face
    cx, top = 100 + int(rng.integers(-15, 16)), int(rng.integers(10, 35))
    if with_hat:
        shade = int(rng.integers(215, 256))
        colour = (shade, shade, shade)
        cv2.rectangle(canvas, (cx - 55, top + 45), (cx + 55, 110), colour, -1)  # band
        for dx in (-35, 0, 35):  # the puffed crown
            cv2.circle(canvas, (cx + dx, top + 35), int(rng.integers(28, 36)), colour, -1)
    elif rng.random() < 0.6:  # hair: a dark cap of varying colour
        colour = tuple(int(c) for c in rng.integers(10, 90, 3))
        cv2.ellipse(canvas, (cx, 110), (75, int(rng.integers(25, 50))), 0, 180, 360, colour, -1)
    return canvas


def make_enrolment_dir(root: Path, faces: list[np.ndarray], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for name, with_hat in (("hat", True), ("no_hat", False)):
        (root / name).mkdir(parents=True)
        for i, face in enumerate(faces):
            cv2.imwrite(str(root / name / f"{i:03d}.jpg"), head_crop(face, with_hat, rng))
    return root


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    files = sorted((DATASET / "train" / "without_mask").glob("*.jpg"))
    step = max(1, len(files) // (2 * PER_CLASS))
    return [cv2.imread(str(p)) for p in files[::step][: 2 * PER_CLASS]]


@needs_dataset
def test_enrolment_learns_hats_and_loads_back(tmp_path: Path, faces, capsys) -> None:
    site = tmp_path / "site"
    assert HatClassifier.load(site) is None  # not enrolled: the hat check is off
    source = make_enrolment_dir(tmp_path / "enrol", faces[:PER_CLASS], seed=0)
    assert hat.main(["--from", str(source), "--site-dir", str(site), "--folds", "4"]) == 0
    assert "cross-validated accuracy" in capsys.readouterr().out
    entry = json.loads((site / hat.ENROLMENT_FILE).read_text())
    assert entry["hat_images"] == entry["no_hat_images"] == PER_CLASS
    assert entry["cv_accuracy"] >= 0.85
    classifier = HatClassifier.load(site)
    assert classifier is not None
    # Unseen faces and drawings: the stored head generalises beyond its enrolment images.
    rng = np.random.default_rng(7)
    unseen = faces[PER_CLASS:]
    crops = [head_crop(f, True, rng) for f in unseen] + [head_crop(f, False, rng) for f in unseen]
    truth = np.array([1] * len(unseen) + [0] * len(unseen))
    accuracy = np.mean((classifier.predict_crops(crops) > 0.5) == truth)
    assert accuracy >= 0.85


@needs_dataset
def test_tampered_head_is_refused(tmp_path: Path, faces) -> None:
    source = make_enrolment_dir(tmp_path / "enrol", faces[:8], seed=1)
    site = tmp_path / "site"
    hat.enroll(source, site, folds=2)
    head_file = site / hat.HEAD_FILE
    data = bytearray(head_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head_file.write_bytes(bytes(data))
    with pytest.raises(HatEnrolmentError, match="sha256"):
        HatClassifier.load(site)


def test_enrolment_without_both_classes_fails_cleanly(tmp_path: Path, capsys) -> None:
    (tmp_path / "hat").mkdir()
    assert hat.main(["--from", str(tmp_path), "--site-dir", str(tmp_path / "site")]) == 2
    assert "no_hat" in capsys.readouterr().out
    assert not (tmp_path / "site").exists()


def test_logistic_head_separates_and_folds_cover_all() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (40, 20)), rng.normal(0.8, 1, (40, 20))])
    y = np.array([0] * 40 + [1] * 40)
    folds = stratified_folds(y, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(80))
    assert all(np.sum(y[f]) == 8 for f in folds)
    assert np.mean(cross_validated_accuracy(x, y, folds=5)) > 0.85
    head = fit_logistic(x, y)
    assert np.mean((head.predict_proba(x) > 0.5) == y) > 0.9
