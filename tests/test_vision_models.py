"""Vision runtime with the real ONNX models: manifest integrity, faces, masks, evaluation."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.vision.eval import cli as evaluate_cli
from agent.vision.eval import crop_set as evaluate
from agent.vision.faces import FaceDetector, priors
from agent.vision.mask import MaskClassifier
from agent.vision.models import (
    ModelIntegrityError,
    load_manifest,
    load_model,
    resolve_models_dir,
    sha256_file,
)

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-mask"
needs_dataset = pytest.mark.skipif(not DATASET.is_dir(), reason=f"no data set at {DATASET}")


def dataset_images(cls: str, count: int, split: str = "val") -> list[Path]:
    """A fixed spread of files (every k-th), so the subset is stable and varied."""
    files = sorted((DATASET / split / cls).glob("*.jpg"))
    return files[:: max(1, len(files) // count)][:count]


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_manifest(threads=2)


@pytest.fixture(scope="module")
def classifier() -> MaskClassifier:
    return MaskClassifier.from_manifest(threads=2)


def test_manifest_describes_every_model_file() -> None:
    manifest = load_manifest()
    assert set(manifest.models) == {"face_detector", "mask_classifier", "backbone_features", "nose_cue"}
    for entry in manifest.models.values():
        path = resolve_models_dir() / entry.file
        assert sha256_file(path) == entry.sha256
        assert path.stat().st_size == entry.size_bytes < 15 * 1024 * 1024
        assert entry.source.licence and entry.source.version
    mask = manifest.models["mask_classifier"]
    assert mask.class_map == {0: "with_mask", 1: "without_mask", 2: "mask_weared_incorrect", 3: "not_face"}
    assert mask.postprocessing["violation_classes"] == ["without_mask", "mask_weared_incorrect"]
    assert mask.postprocessing["not_face_class"] == "not_face"


def test_tampered_model_copy_is_refused(tmp_path: Path) -> None:
    entry = load_manifest().models["face_detector"]
    shutil.copy(resolve_models_dir() / "manifest.json", tmp_path / "manifest.json")
    data = bytearray((resolve_models_dir() / entry.file).read_bytes())
    (tmp_path / entry.file).write_bytes(bytes(data))
    assert load_model("face_detector", tmp_path).entry.sha256 == entry.sha256
    data[len(data) // 2] ^= 0xFF
    (tmp_path / entry.file).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        load_model("face_detector", tmp_path)
    (tmp_path / entry.file).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_model("face_detector", tmp_path)


def test_priors_match_the_model_output_length(detector: FaceDetector) -> None:
    for width, height in [(640, 480), (333, 251)]:
        tensor = np.zeros((1, 3, height, width), np.float32)
        loc, _, _ = detector.model.session.run(None, {"input": tensor})
        assert loc.shape[1] == len(priors(width, height))


@needs_dataset
def test_real_face_is_found_on_a_larger_canvas(detector: FaceDetector) -> None:
    face = cv2.imread(str(dataset_images("without_mask", 1)[0]))
    canvas = np.random.default_rng(1).integers(60, 120, (720, 1280, 3), dtype=np.uint8)
    top, left = 200, 700
    canvas[top:top + face.shape[0], left:left + face.shape[1]] = face
    faces = detector.detect(canvas)
    assert len(faces) == 1
    found = faces[0]
    assert found.score > 0.9
    x1, y1, x2, y2 = found.box
    assert left - 10 <= x1 < x2 <= left + face.shape[1] + 10
    assert top - 10 <= y1 < y2 <= top + face.shape[0] + 10
    eyes_y = (found.landmarks[0][1] + found.landmarks[1][1]) / 2
    mouth_y = (found.landmarks[3][1] + found.landmarks[4][1]) / 2
    assert y1 < eyes_y < mouth_y < y2  # the landmarks are decoded in image coordinates


def test_no_face_on_blank_or_noise(detector: FaceDetector) -> None:
    blank = np.full((480, 640, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert detector.detect(blank) == []
    assert detector.detect(noise) == []


@needs_dataset
def test_masked_and_unmasked_faces_are_told_apart(detector: FaceDetector,
                                                  classifier: MaskClassifier) -> None:
    correct, total = 0, 0
    for label, cls in enumerate(evaluate.CLASSES):
        images = [cv2.imread(str(p)) for p in dataset_images(cls, 20)]
        boxes = [max(detector.detect(im), key=lambda f: f.score, default=None) for im in images]
        crops = [im if b is None else classifier.face_crop(im, b.box)
                 for im, b in zip(images, boxes, strict=True)]
        predicted = classifier.predict_crops(crops) > 0.5  # batched path
        correct += int(np.sum(predicted == bool(label)))
        total += len(images)
    assert correct / total >= 0.9


@needs_dataset
def test_evaluate_reports_confusion_matrix(tmp_path: Path, capsys) -> None:
    for cls in evaluate.CLASSES:
        (tmp_path / cls).mkdir()
        for path in dataset_images(cls, 4):
            (tmp_path / cls / path.name).symlink_to(path)
    report = evaluate.evaluate_mask(tmp_path, threads=2)
    assert report.total == 8
    assert [sum(row) for row in report.confusion] == [4, 4]
    assert 0.0 <= report.balanced_accuracy <= 1.0
    assert evaluate_cli.main(["--data", str(tmp_path)]) == 0
    assert "balanced accuracy" in capsys.readouterr().out
    assert evaluate_cli.main(["--data", str(tmp_path / "nowhere")]) == 2


@needs_dataset
def test_second_pass_finds_a_small_face_again_on_an_enlarged_crop(detector: FaceDetector) -> None:
    """A real face shrunk to 30 px on a plain canvas: the second pass, given the box the first
    pass scored low, finds it again (boxes overlap) on the enlarged crop around it."""
    from agent.config.vision import VisionConfig
    from agent.vision.faces import Face
    from agent.vision.scene import VisionModels, rechecked, second_pass

    image = cv2.imread(str(dataset_images("without_mask", 1)[0]))
    best = max(detector.detect(image), key=lambda f: f.score)
    x1, y1, x2, y2 = (int(v) for v in best.box)
    face = cv2.resize(image[y1:y2, x1:x2], (30, round(30 * (y2 - y1) / (x2 - x1))),
                      interpolation=cv2.INTER_AREA)
    canvas = np.full((240, 320, 3), 120, np.uint8)
    canvas[100:100 + face.shape[0], 150:180] = face
    placed = Face((150.0, 100.0, 180.0, 100.0 + face.shape[0]), 0.4, ())
    models = VisionModels(detector, None, None)
    again = second_pass(models, canvas, placed)
    assert again is not None and again.score >= 0.8
    assert abs(again.box[0] - 150) < 6 and abs(again.box[2] - 180) < 6
    vision = VisionConfig()
    assert rechecked(models, vision, canvas, [placed]) == [again]
    big = Face((10.0, 10.0, 110.0, 110.0), 0.5, ())  # not small: left as it is
    sure = Face((150.0, 100.0, 180.0, 130.0), 0.95, ())  # scored well already
    assert rechecked(models, vision, canvas, [big, sure]) == [big, sure]
    off = vision.model_copy(update={"recheck_score_min": vision.face_score_min})
    assert rechecked(models, off, canvas, [placed]) == [placed]


def test_eval_folds_prints_each_fold_and_the_spread(tmp_path: Path, capsys) -> None:
    import json

    figures = {"face_recall": 0.93, "balanced_accuracy": 0.96, "incorrect_called": 0.8, "masked_called": 0.01,
               "violation_recall": 0.91, "false_per_photo": 0.05, "incorrect_faces": 6, "masked_faces": 130}
    spread = {k: {"mean": v, "std": 0.01, "min": v - 0.01, "max": v + 0.01} for k, v in figures.items()
              if k not in ("incorrect_faces", "masked_faces")}
    record = {"recipe": "synth", "folds": 2, "photos": 10, "chosen_epoch": 1, "violation_threshold": 0.6,
              "not_face_threshold": 0.9, "per_fold": [figures, figures], "pooled": figures, "spread": spread}
    manifest = json.loads((resolve_models_dir() / "manifest.json").read_text())
    manifest["models"]["mask_classifier"]["quality"]["scene_stage"] = record
    manifest["models"].pop("nose_cue", None)  # the classifier alone
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert evaluate_cli.main(["--folds", "--models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2-fold cross-validation by photo" in out and "violation when P > 0.6" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("fold", "pooled"))] == \
        ["fold", "fold", "pooled"]
    assert "80.0%" in out and "mean ± sd" in out
    assert "nose cue" not in out
    # with the nose cue: the call the camera makes first, at the chosen points and nested
    at = {"per_fold": [figures, figures], "pooled": figures, "spread": spread, "crop_set_balanced_accuracy": 0.991}
    cue = {"cross_validation": {"pooled_calls": {"gated_joint_choice": {"t": 0.95, "c": 0.54, "g": 0.1}},
                                "scenes_plus_gated_nose_joint": at, "scenes_plus_gated_nose_nested": at}}
    manifest["models"]["nose_cue"] = {**manifest["models"]["mask_classifier"], "quality": cue}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert evaluate_cli.main(["--folds", "--models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "P(violation) > 0.95, or when the nose cue finds the nose bare (P > 0.54) and P(violation) > 0.1" in out
    assert "the points chosen without it" in out and "face-mask/val: 99.1%" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith(("fold", "pooled"))] == \
        ["fold", "fold", "pooled"] * 3
    manifest["models"].pop("nose_cue")
    del manifest["models"]["mask_classifier"]["quality"]["scene_stage"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert evaluate_cli.main(["--folds", "--models", str(tmp_path)]) == 1
