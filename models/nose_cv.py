"""The nose cue (``models/nose_cue.py``) cross-validated on the ``scenes`` recipe's folds, and
joined with that recipe's out-of-fold predictions (an experiment for issue 28; no model ships).

Reads what ``models/build.py --recipe scenes --cache DIR`` leaves in the cache: the
detections (``data-*.pkl``), each fold's predictions (``cv-scenes-foldN.pkl``) and the
recipe's record (``cv-scenes.json``, from ``--cv-only``). The same 5 folds and seed
(``models.folds.photo_folds``): the cue of fold k is trained only on face-mask/train and on
the photos outside fold k (and synthetic low masks made from them), never on fold k's photos
nor on face-mask/val; it then gives P(nose visible) for every detection of fold k's photos
and for every crop of face-mask/val (with the landmarks the build detected there).

The decisions joined, each with its points chosen on the pooled out-of-fold predictions
under the build's own caps (masked faces called <= 1.5 %, face-mask/val >= 99 %, both with
the cue) and objective (balanced accuracy + a quarter of the masks worn incorrectly called):

* OR: P(violation) > t (the recipe's chosen point) or P(nose visible) > c;
* gated: P(violation) > t, or P(nose visible) > c and P(violation) > g, so the cue only
  confirms or vetoes faces the classifier is unsure of (face-mask/val's skin-coloured masks,
  worn right, are ones it is sure of); t, c and g chosen jointly, and again without each fold
  (nested: that fold counted at the points chosen without it, free of the choice's optimism).

Every fold is counted exactly as ``vision eval --scenes`` counts the camera path
(``folds.scene_report``).

    python models/nose_cv.py --cache DIR --fold N     # one fold's cue (folds side by side)
    python models/nose_cv.py --cache DIR --record models/crossval/scenes+nose.json
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# first: it pins the CPU kernels before numpy and torch load, as models/build.py runs them
from models import kernels  # noqa: F401, I001

import argparse
import json
import logging
import pickle
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

from agent.vision import nose
from models import folds, nose_cue
from models.cv import FOLDS, EpochOOF, folds_label, write_atomically  # noqa: E402
from models.mask_data import SEED, Sample  # noqa: E402
from models.nose_rule import NO_GATE, best_row, calls_at, feasible, fires, rounded  # noqa: E402
from models.scene_data import ScenePhoto, face_samples, matched_faces  # noqa: E402
from models.scene_stage import NOT_FACE  # noqa: E402
from models.synth import synthetic_incorrect  # noqa: E402

log = logging.getLogger("models.nose_cv")

RECIPE = "scenes"
# the share of each training epoch per (source, class): half covered, half visible; scene
# faces are what cameras see, face-mask/train and the synthetic low masks give the numbers
SHARES: dict[tuple[str, int], float] = {("face", 0): 0.2, ("face", 1): 0.15, ("scene", 0): 0.3,
                                        ("scene", 1): 0.1, ("scene", 2): 0.05, ("synth", 2): 0.2}
VISIBLE = {0: 0, 1: 1, 2: 1}  # with_mask -> covered; without, worn incorrectly -> visible
SYNTH_COUNT = 600
CUE_GRID = np.round(np.arange(0.05, 0.996, 0.01), 2)
FIXED_CUE_POINTS = (0.5, 0.7, 0.8, 0.9, 0.95)
# the gate: the cue counts only where the classifier's P(violation) is above g (a skin-coloured
# mask worn right is one the classifier is sure of; a mask under the nose seldom is)
# (the first run's grid stopped at 0.3 and chose 0.3, its edge: extended to 0.8)
GATE_GRID = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def fold_of_photos(photos: Sequence[ScenePhoto]) -> dict[str, int]:
    return folds.photo_folds([(p.name, p.labels) for p in photos], FOLDS, SEED)


def training_set(face_train: Sequence[Sample], photos: Sequence[ScenePhoto], seed: int,
                 ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, dict[str, int]]:
    """Aligned faces, their nose label and sampling weight, from face-mask/train, these
    photos' matched faces and synthetic low masks made from both (bare faces from both,
    masks from both, as the ``synth`` recipe makes them)."""
    scene = face_samples(photos)
    cells: dict[tuple[str, int], list[Sample]] = {
        ("face", 0): [s for s in face_train if s.label == 0 and s.landmarks is not None],
        ("face", 1): [s for s in face_train if s.label == 1 and s.landmarks is not None]}
    for label in range(3):
        cells[("scene", label)] = [s for s in scene if s.label == label]
    bare = cells[("face", 1)] + cells[("scene", 1)]
    masked = cells[("face", 0)] + cells[("scene", 0)]
    cells[("synth", 2)] = synthetic_incorrect(bare, masked, SYNTH_COUNT, seed)
    aligned, visible, weight = [], [], []
    for (source, label), samples in cells.items():
        for s in samples:
            assert s.landmarks is not None
            aligned.append(nose.aligned_face(s.image, s.landmarks))
            visible.append(VISIBLE[label])
            weight.append(SHARES[(source, label)] / len(samples))
    counts = {f"{s}/{c}": len(v) for (s, c), v in cells.items()}
    return aligned, np.array(visible), np.array(weight), counts


def patches_of_photo(photo: ScenePhoto, patch: nose_cue.Patch) -> list[np.ndarray]:
    return [nose_cue.patch_of(photo.image, f.landmarks, patch) for f in photo.found]


def crop_set_cue(model: nn.Module, crop_set: Sequence[Sample], patch: nose_cue.Patch) -> np.ndarray:
    """P(nose visible) of each face-mask/val crop; NaN where no face was found (the cue is
    not applied: the classifier alone calls it, as the runtime would)."""
    idx = [i for i, s in enumerate(crop_set) if s.landmarks is not None]
    out = np.full(len(crop_set), np.nan, np.float32)
    patches = [nose_cue.patch_of(crop_set[i].image, crop_set[i].landmarks or (), patch) for i in idx]
    out[idx] = nose_cue.p_visible(model, patches)
    return out


def cue_file(cache: Path, variant: str, fold: int, suffix: str) -> Path:
    return cache / f"nose-{variant}-fold{fold}.{suffix}"


def run_fold(cache: Path, fold: int, variant: str) -> dict[str, Any]:
    """Train fold ``fold``'s cue, predict its held-out photos and face-mask/val; keep both
    (``nose-VARIANT-foldN.pkl``) and the weights (``.pt``)."""
    patch = nose_cue.VARIANTS[variant]
    import torch

    face_train = pickle.loads((cache / "data-face-mask-train.pkl").read_bytes())
    crop_set = pickle.loads((cache / "data-face-mask-val.pkl").read_bytes())
    photos = pickle.loads((cache / "data-scenes.pkl").read_bytes())
    fold_of = fold_of_photos(photos)
    train = [p for p in photos if fold_of[p.name] != fold]
    held_out = [p for p in photos if fold_of[p.name] == fold]
    start = time.monotonic()
    aligned, visible, weight, counts = training_set(face_train, train, SEED + fold)
    prepared = time.monotonic() - start
    log.info("nose.fold=%d cells %s prepared in %.0f s", fold, counts, prepared)
    model = nose_cue.train_cue(aligned, visible, weight, SEED + fold, patch)
    trained = time.monotonic() - start - prepared
    log.info("nose.fold=%d trained in %.0f s", fold, trained)
    result = {"fold": fold, "variant": variant, "cells": counts,
              "photo": {p.name: nose_cue.p_visible(model, patches_of_photo(p, patch)) for p in held_out},
              "crop": crop_set_cue(model, crop_set, patch),
              "seconds": {"prepare": round(prepared), "train": round(trained),
                          "predict": round(time.monotonic() - start - prepared - trained)}}
    torch.save(model.state_dict(), cue_file(cache, variant, fold, "pt"))
    write_atomically(cue_file(cache, variant, fold, "pkl"), pickle.dumps(result))
    log.info("nose.fold=%d done %s", fold, result["seconds"])
    return result


def load_scenes_oof(cache: Path, epoch: int) -> EpochOOF:
    merged = EpochOOF()
    for fold in range(FOLDS):
        done = pickle.loads((cache / f"cv-{RECIPE}-fold{fold}.pkl").read_bytes())
        oof = done[epoch]
        merged.photo_probs.update(oof.photo_probs)
        merged.crop_probs += oof.crop_probs
    return merged


def record(cache: Path, variant: str, classifier: Path | None = None) -> dict[str, Any]:
    """Both calls at their points, pooled and per fold, and the trade-off; the classifier's
    folds and record from ``classifier`` (default: the cache)."""
    classifier = classifier or cache
    base = json.loads((classifier / f"cv-{RECIPE}.json").read_text())
    epoch, t, u = base["chosen_epoch"], base["violation_threshold"], base["not_face_threshold"]
    photos: list[ScenePhoto] = pickle.loads((cache / "data-scenes.pkl").read_bytes())
    crop_set: list[Sample] = pickle.loads((cache / "data-face-mask-val.pkl").read_bytes())
    fold_of = fold_of_photos(photos)
    oof = load_scenes_oof(classifier, epoch)
    cue_folds = [pickle.loads(cue_file(cache, variant, f, "pkl").read_bytes()) for f in range(FOLDS)]
    patch = nose_cue.VARIANTS[variant]
    photo_cue = {name: v for r in cue_folds for name, v in r["photo"].items()}
    labels, pv, cue, face_fold = [], [], [], []
    for p in photos:
        for i, j in matched_faces(p):
            face_fold.append(fold_of[p.name])
            labels.append(folds_label(p, i))
            pv.append(folds.p_violation(oof.photo_probs[p.name][j:j + 1])[0])
            cue.append(photo_cue[p.name][j])
    y, pv_a, cue_a, ff = np.array(labels), np.array(pv), np.array(cue), np.array(face_fold)
    crop_labels = np.array([s.label for s in crop_set])
    crop_y = np.tile(crop_labels, FOLDS)
    crop_pv = folds.p_violation(np.concatenate(oof.crop_probs))
    crop_cue = np.concatenate([r["crop"] for r in cue_folds])  # the same fold order as crop_probs

    def row(tt: float, c: float, g: float = NO_GATE) -> dict[str, float]:
        return calls_at(y, pv_a, cue_a, crop_y, crop_pv, crop_cue, tt, c, g)

    alone = row(t, 2.0)
    at_t = best_row([row(t, float(c)) for c in CUE_GRID])
    gated = best_row([row(t, float(c), g) for c in CUE_GRID for g in GATE_GRID])
    joint = best_row([row(float(tt), float(c)) for tt in folds.GRID for c in CUE_GRID])
    gated_joint = best_row([row(float(tt), float(c), g) for tt in folds.GRID for c in CUE_GRID
                            for g in GATE_GRID])

    crop_fold = np.repeat(np.arange(FOLDS), len(crop_labels))
    Point = tuple[float, float, float]  # t, c, g

    def nested_point(f: int, cue_on: bool) -> dict[str, float]:
        """The points chosen without fold f (its faces and its models' crop-set predictions),
        all of them (t, and with the cue c and g), by the same rule: what the pooled choice
        would have been had fold f been photos never seen, so the figures of fold f at it are
        free of the choice's own optimism."""
        keep, crop_keep = ff != f, crop_fold != f
        grid = [(float(tt), float(c), g) for tt in folds.GRID for c in CUE_GRID for g in GATE_GRID] \
            if cue_on else [(float(tt), 2.0, NO_GATE) for tt in folds.GRID]
        return best_row([calls_at(y[keep], pv_a[keep], cue_a[keep], crop_y[crop_keep], crop_pv[crop_keep],
                                  crop_cue[crop_keep], *point) for point in grid])

    def reports(points: dict[int, Point]) -> dict[str, Any]:
        """Each fold counted at its point (one point for all, or each fold's nested one), as
        ``vision eval --scenes`` counts: the call made binary, then counted at 0.5."""
        def decided(name: str) -> np.ndarray:
            probs = oof.photo_probs[name]
            if not len(probs):
                return probs
            tt, c, g = points[fold_of[name]]
            pv = folds.p_violation(probs)
            called = ((pv > tt) | fires(photo_cue[name], pv, c, g)).astype(float)
            out = np.zeros_like(probs)
            out[:, folds.WITHOUT] = (1 - probs[:, NOT_FACE]) * called
            out[:, folds.WITH] = (1 - probs[:, NOT_FACE]) * (1 - called)
            out[:, NOT_FACE] = probs[:, NOT_FACE]
            return out

        calls = {p.name: folds.PhotoCalls(p.name, p.annotated, p.found, decided(p.name)) for p in photos}
        per_fold = [folds.headline(folds.scene_report(
            [calls[p.name] for p in photos if fold_of[p.name] == f], 0.5, u, f"fold {f + 1}"))
            for f in range(FOLDS)]
        pooled = folds.headline(folds.scene_report(list(calls.values()), 0.5, u, "pooled"))
        crop_called = np.concatenate([(crop_pv[k] > points[f][0]) | fires(
            crop_cue[k], crop_pv[k], points[f][1], points[f][2])
            for f, k in enumerate(np.split(np.arange(len(crop_y)), FOLDS))])
        crop = folds.balanced_accuracy(crop_y > 0, crop_called)
        crop_per_fold = [round(folds.balanced_accuracy(crop_labels > 0, crop_called[k]), 4)
                         for k in np.split(np.arange(len(crop_y)), FOLDS)]
        distinct = sorted(set(points.values()))
        return {"points_t_c_g": distinct if len(distinct) > 1 else distinct[0], "not_face_threshold": u,
                "pooled": pooled, "per_fold": per_fold, "spread": folds.spread(per_fold),
                "crop_set_balanced_accuracy": round(crop, 4), "crop_set_per_fold": crop_per_fold}

    def everywhere(point: dict[str, float]) -> dict[int, Point]:
        return dict.fromkeys(range(FOLDS), (point["t"], point["c"], point["g"]))

    nested_alone = [nested_point(f, False) for f in range(FOLDS)]
    nested = [nested_point(f, True) for f in range(FOLDS)]

    tradeoff = [rounded(row(t, c)) for c in FIXED_CUE_POINTS]
    tradeoff_gated = [rounded(row(tt, c, g)) for tt in (0.87, 0.95) for g in (0.02, 0.1, 0.3, 0.5)
                      for c in (0.54, 0.8)] + [rounded(row(tt, 2.0)) for tt in (0.3, 0.5, 0.87, 0.95)]
    tradeoff_t = [rounded(row(tt, at_t["c"])) for tt in (0.45, 0.6, 0.75, 0.8, 0.9)]
    return {"recipe": f"{RECIPE}+nose", "folds": FOLDS, "seed": SEED, "photos": len(photos),
            "scenes_epoch": epoch, "matched_faces": {"with_mask": int((y == 0).sum()),
                                                     "without_mask": int((y == 1).sum()),
                                                     "mask_weared_incorrect": int((y == 2).sum())},
            "cue": {"variant": variant, "patch_px": patch.px, "patch_box_in_template": patch.box,
                    "epochs": patch.epochs,
                    "align_points": "eyes and mouth corners (ArcFace 112-px template)",
                    "shares": {f"{s}/{c}": v for (s, c), v in SHARES.items()},
                    "synthetic_low_masks": SYNTH_COUNT, "cells_per_fold": [r["cells"] for r in cue_folds],
                    "seconds_per_fold": [r["seconds"] for r in cue_folds]},
            "pooled_calls": {"scenes_alone": rounded(alone), "with_cue_at_scenes_point": rounded(at_t),
                             "with_gated_cue_at_scenes_point": rounded(gated),
                             "joint_choice": rounded(joint),
                             "gated_joint_choice": rounded(gated_joint)},
            # the caps (masked <= 1.5 %, face-mask/val >= 99 %) at the gated rule's joint choice;
            # the targets are read from "scenes_plus_gated_nose_joint" and "..._nested"
            "feasible": feasible(gated_joint),
            "feasible_ungated_at_scenes_point": feasible(at_t),
            "scenes_alone": reports(everywhere(alone)),
            "scenes_plus_nose": reports(everywhere(at_t)),
            "scenes_plus_gated_nose": reports(everywhere(gated)),
            "scenes_plus_nose_joint": reports(everywhere(joint)),
            "scenes_plus_gated_nose_joint": reports(everywhere(gated_joint)),
            "nested_points_scenes_alone": [rounded(r) for r in nested_alone],
            "nested_points_gated_nose": [rounded(r) for r in nested],
            "scenes_alone_nested": reports({f: (r["t"], r["c"], r["g"]) for f, r in enumerate(nested_alone)}),
            "scenes_plus_gated_nose_nested": reports({f: (r["t"], r["c"], r["g"])
                                                      for f, r in enumerate(nested)}),
            "tradeoff_cue_points_at_scenes_t": tradeoff,
            "tradeoff_t_at_chosen_cue_point": tradeoff_t,
            "tradeoff_gated": tradeoff_gated}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=None)
    parser.add_argument("--record", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variant", choices=sorted(nose_cue.VARIANTS), default="nose32")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    if args.fold is not None:
        run_fold(args.cache, args.fold, args.variant)
    if args.record is not None:
        out = record(args.cache, args.variant)
        args.record.write_text(json.dumps(out, indent=1) + "\n")
        log.info("nose.record %s", json.dumps(out["pooled_calls"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
