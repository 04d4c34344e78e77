"""The nose cue in the build: its points chosen by the folds, trained on every photo, exported.

``models/build.py`` calls this after the stage-2 folds (``cv-scenes-foldN.pkl``): each fold's
cue (``models/nose_cv.py``, kept in the cache, run here where missing) gives out-of-fold
P(nose visible); ``nose_cv.record`` chooses the classifier's point t, the cue's point c and
the gate g jointly on the pooled out-of-fold calls, under the build's caps, and again
without each fold (the nested estimate). The final cue is then trained on face-mask/train and
every photo with the same recipe, its logit shifted so that 0.5 is c, and exported
(``nose_cue.onnx``, input 1x3x32x32, output one logit). The manifest carries the gate in the
shipped classifier's scale: that model's logits are shifted so that 0.5 is t, which multiplies
every P(violation)'s odds by (1 - t) / t, so the gate g becomes sigmoid(logit(g) - logit(t)).
"""

from __future__ import annotations

import importlib.metadata as metadata
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from agent.vision import nose
from models import nose_cue, nose_cv
from models.cv import FOLDS
from models.mask_data import SEED, Sample
from models.scene_data import ScenePhoto
from models.scene_stage import logit

log = logging.getLogger("models.build")

DEFAULT_VARIANT = "nose32c-pair"
FINAL_SEED = SEED + FOLDS  # the folds' cues use SEED + fold


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def cross_validated(cache: Path, variant: str, classifier: Path | None = None) -> dict[str, Any]:
    """Each fold's cue (from the cache, or trained now), then the record and choice joined with
    the classifier's folds (in ``classifier``: the cache, or the members' mean)."""
    for fold in range(FOLDS):
        if not nose_cv.cue_file(cache, variant, fold, "pkl").is_file():
            nose_cv.run_fold(cache, fold, variant)
    record = nose_cv.record(cache, variant, classifier)
    chosen = record["pooled_calls"]["gated_joint_choice"]
    log.info("build.nose.choice t=%.2f c=%.2f g=%s feasible=%s", chosen["t"], chosen["c"],
             chosen["g"], record["feasible"])
    return record


def final_cue(face_train: list[Sample], photos: list[ScenePhoto], variant: str,
              c: float) -> nn.Module:
    """The cue trained on face-mask/train and every photo, its logit shifted so that 0.5 is c."""
    patch = nose_cue.VARIANTS[variant]
    aligned, visible, weight, counts = nose_cv.training_set(face_train, photos, FINAL_SEED)
    log.info("build.nose.final cells %s", counts)
    model = nose_cue.train_cue(aligned, visible, weight, FINAL_SEED, patch)
    with torch.no_grad():
        if len(patch.members) > 1:
            model.shift -= logit(c)  # type: ignore[operator]
        else:
            last = model[-1]  # type: ignore[index]
            assert isinstance(last, nn.Linear)
            last.bias -= logit(c)
    return model.eval()


def runtime_gate(g: float, t: float) -> float:
    """The gate in the shipped classifier's scale (its 0.5 is t)."""
    return sigmoid(logit(g) - logit(t))


def export(model: nn.Module, out: Path, photos: list[ScenePhoto], variant: str,
           record: dict[str, Any], opset: int) -> tuple[Path, float]:
    """nose_cue.onnx, checked against torch on real patches; (path, max |difference| of P(nose visible))."""
    patch = nose_cue.VARIANTS[variant]
    path = out / "nose_cue.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, nose_cue.example_input(patch), str(path), opset_version=opset,
                          dynamo=False, input_names=["input"], output_names=["logit"],
                          dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}})
    onnx.checker.check_model(onnx.load(str(path)))
    patches = [nose_cue.patch_of(p.image, f.landmarks, patch) for p in photos[:40] for f in p.found]
    inputs = nose.patch_batch(patches[:64])
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    import onnxruntime as ort

    actual = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": inputs})[0]
    # compared as P(nose visible), what the runtime reads: an ensemble's logit of a mean
    # probability near 0 or 1 magnifies float32 rounding that no probability shows
    diff = float(np.max(np.abs(1 / (1 + np.exp(-actual)) - 1 / (1 + np.exp(-expected)))))
    log.info("build.verify file=%s max_abs_diff_probability=%.2e patches=%d", path.name, diff, len(inputs))
    if diff > 1e-5:
        raise SystemExit(f"{path.name}: onnxruntime differs from torch by {diff}")
    return path, diff


def entry_fields(variant: str, record: dict[str, Any], t: float, diff: float) -> dict[str, Any]:
    """The manifest entry's fields besides file, sha256, size and opset."""
    patch = nose_cue.VARIANTS[variant]
    chosen = record["pooled_calls"]["gated_joint_choice"]
    gate = runtime_gate(chosen["g"], t)
    return {
        "source": {"package": "canteen-agent", "version": metadata.version("canteen-agent"),
                   "file": "trained from random weights by models/build.py (models/nose_cue.py) on "
                           "face-mask/train and face-mask-scenes train + val",
                   "licence": "MIT (the project's)", "notice": "MIT; the data sets' notices in models/NOTICES.md"},
        "input": {"name": "input", "width": patch.px, "height": patch.px},
        "normalisation": {"channel_order": "RGB", "scale": 1 / 255, "mean": (0.5, 0.5, 0.5),
                          "std": (0.5, 0.5, 0.5)},
        "outputs": {"logit": "(N, 1) P(nose visible) = sigmoid(logit); shifted so that 0.5 is the "
                             "cue point chosen by cross-validation"},
        "preprocessing": {
            "align": "least-squares similarity of the eyes and mouth corners onto ArcFace's 112-px "
                     "5-point template (a face larger than the template is area-averaged first)",
            "template": nose.TEMPLATE.round(4).tolist(), "align_points": list(nose.ALIGN_POINTS),
            "patch_box_in_template": list(patch.box),
            "code": "agent/vision/nose.py (shared by build and runtime)"},
        "postprocessing": {
            "rule": "violation when P(violation) > mask_threshold, or P(nose visible) > mask_threshold "
                    "and P(violation) > gate (agent/vision/nose.py: joined)",
            "gate": round(gate, 6), "gate_before_shift": chosen["g"],
            "cue_threshold_before_shift": chosen["c"],
            "violation_threshold_before_shift": chosen["t"]},
        "quality": {"variant": variant, "epochs": patch.epochs, "seed": FINAL_SEED,
                    "members_seed_offsets": list(patch.members),
                    "cross_validation": record, "max_abs_diff_vs_torch_probability": diff},
    }


def cached_cue(cache: Path | None, variant: str, c: float) -> Path | None:
    return cache / f"nose-{variant}-final-c{c:.2f}.pt" if cache is not None else None


def trained(cache: Path | None, face_train: list[Sample], photos: list[ScenePhoto], variant: str,
            c: float) -> nn.Module:
    """The final cue, reused from the cache where an earlier run of the same choice left it."""
    kept = cached_cue(cache, variant, c)
    model = nose_cue.cue_net(nose_cue.VARIANTS[variant])
    if kept is not None and kept.is_file():
        model.load_state_dict(torch.load(kept, map_location="cpu"))
        log.info("build.nose.final reused=%s", kept)
        return model.eval()
    model = final_cue(face_train, photos, variant, c)
    if kept is not None:
        torch.save(model.state_dict(), kept)
    return model
