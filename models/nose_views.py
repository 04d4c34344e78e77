"""What the alarm's agreement across frames buys for the joined call (mask classifier + nose cue).

Why: on the camera an alarm needs 3 of the last 5 analysed frames of a tracked face to say
"violation" (``agent/vision/compliance.py``), and the call each frame makes is the joined one
(``agent/vision/nose.py``: P(violation) > t, or P(nose visible) > c and P(violation) > g).
The scenes record (``cv-scenes.json``, "views") measured one view against 3 of 5 for the
classifier alone; this measures it for the joined call, out of fold, on the same views.

How: ``models/cv.py`` (``predict_held_out``) gave every matched face of a fold's held-out
photos ``VIEWS`` still-photo "frames" (``frame_views``: the box's margin and shift, the
light's gain and offset), drawn from one rng seeded ``SEED + epoch`` (the epoch, not the
fold: every fold's held-out photos draw from the same sequence) in photo order, then face
order, then view order; their softmaxes are kept (``view_probs``), the fold models are not.
Here the draws are replayed in that order, each view's classifier crop is cut again from the
replayed draws and compared, byte for byte, with what ``frame_views`` cuts from a twin rng;
then the cue's patch of the same frame is cut (the photo under the same gain and offset, the
face's 5 detected landmarks moved by the same shift) and fold k's cue (``nose-VARIANT-foldk.pt``,
which never saw fold k's photos) gives P(nose visible). Each face then has 5 (P(violation),
P(nose visible)) pairs, counted as one view (the mean over views) and as at least 3 of 5, at
the joint points of the record and at each fold's nested points (``models.folds.Calls``).

    python models/nose_views.py --cache DIR --record models/crossval/scenes+nose-views.json
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

from agent.vision import crops, nose  # noqa: E402
from models import folds, nose_cue  # noqa: E402
from models.cv import AGREE, FOLDS, VIEWS, EpochOOF, folds_label, frame_views  # noqa: E402
from models.mask_data import SEED, Sample  # noqa: E402
from models.nose_rule import fires  # noqa: E402
from models.scene_data import ScenePhoto, matched_faces  # noqa: E402

log = logging.getLogger("models.nose_views")

RECIPE = "scenes"
VARIANT = "nose32c"
CLASSES = ("masked", "without", "incorrect")  # folds' labels 0, 1, 2
Point = tuple[float, float, float]  # t, c, g
ALONE = 2.0  # a cue point no probability reaches: the classifier alone


@dataclass(frozen=True)
class View:
    """One still-photo frame of a face, as ``frame_views`` draws it."""

    box: crops.Box  # the classifier's crop box, shifted
    dx: float
    dy: float
    gain: float
    offset: float


def replay(face: crops.Box, rng: np.random.Generator) -> list[View]:
    """The ``VIEWS`` draws of ``frame_views`` for one face, in its order and arithmetic."""
    views = []
    for _ in range(VIEWS):
        box = crops.square_box(face, rng.uniform(0.1, 0.3))
        side = box[2] - box[0]
        dx, dy = rng.uniform(-0.05, 0.05, 2) * side
        gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-12, 12)
        views.append(View((box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy),
                          float(dx), float(dy), gain, offset))
    return views


def lit(image: np.ndarray, view: View) -> np.ndarray:
    """The image under the view's light, as ``frame_views`` changes its crop's."""
    return np.clip(image.astype(np.float32) * view.gain + view.offset, 0, 255).astype(np.uint8)


def classifier_crop(image: np.ndarray, view: View) -> np.ndarray:
    return lit(crops.crop(image, view.box), view)


def cue_patch(image: np.ndarray, landmarks: nose.Landmarks, view: View,
              patch: nose_cue.Patch) -> np.ndarray:
    """The cue's patch of the same frame: the photo under the view's light, the landmarks moved
    with the box."""
    moved = [(x + view.dx, y + view.dy) for x, y in landmarks]
    return nose.patch_of(lit(image, view), moved, patch.box, patch.px)


@dataclass
class FoldViews:
    labels: np.ndarray  # (faces,) 0 masked, 1 without, 2 worn incorrectly
    pv: np.ndarray  # (faces, VIEWS) the classifier's P(violation) of each view
    cue: np.ndarray  # (faces, VIEWS) the cue's P(nose visible) of each view
    photo_pv: np.ndarray  # (faces,) the runtime crop's P(violation), no view
    photo_cue: np.ndarray  # (faces,) the cue's out-of-fold P(nose visible) of the runtime patch
    crops_checked: int
    crops_equal: int
    rng_state_equal: bool
    unshifted_cue_max_diff: float  # this cue on the unshifted patch vs the cached pkl


def load_cue(path: Path, variant: str = VARIANT) -> nn.Module:
    import torch

    model = nose_cue.cue_net(nose_cue.VARIANTS[variant])
    model.load_state_dict(torch.load(path, map_location="cpu"))
    return model.eval()


def fold_views(held_out: Sequence[ScenePhoto], oof: EpochOOF, cue: nn.Module,
               cached_cue: dict[str, np.ndarray], epoch: int, patch: nose_cue.Patch) -> FoldViews:
    """Replay one fold's views (the same seed, photo order and face order as
    ``predict_held_out``), check each crop against ``frame_views``, and ask the cue."""
    rng, twin = np.random.default_rng(SEED + epoch), np.random.default_rng(SEED + epoch)
    labels, pv, photo_pv, photo_cue, patches, unshifted = [], [], [], [], [], []
    checked = equal = 0
    for photo in held_out:
        probs = oof.view_probs[photo.name]
        pairs = matched_faces(photo)
        assert probs.shape == (len(pairs), VIEWS, 4), (photo.name, probs.shape, len(pairs))
        for row, (i, j) in enumerate(pairs):
            face = photo.found[j]
            views = replay(face.box, rng)
            theirs = frame_views(Sample(photo.image, face.box, 0, photo.name), twin)
            for view, crop in zip(views, theirs, strict=True):
                mine = classifier_crop(photo.image, view)
                checked += 1
                equal += int(mine.shape == crop.shape and np.array_equal(mine, crop))
                patches.append(cue_patch(photo.image, face.landmarks, view, patch))
            labels.append(folds_label(photo, i))
            pv.append(folds.p_violation(probs[row]))
            photo_pv.append(folds.p_violation(oof.photo_probs[photo.name][j:j + 1])[0])
            photo_cue.append(cached_cue[photo.name][j])
            unshifted.append(nose.patch_of(photo.image, face.landmarks, patch.box, patch.px))
    cue_p = nose_cue.p_visible(cue, patches).reshape(-1, VIEWS)
    again = nose_cue.p_visible(cue, unshifted)
    same_state = rng.bit_generator.state == twin.bit_generator.state
    return FoldViews(np.array(labels, int), np.array(pv).reshape(-1, VIEWS), cue_p,
                     np.array(photo_pv), np.array(photo_cue, float), checked, equal, same_state,
                     float(np.max(np.abs(again - np.array(photo_cue)))) if len(again) else 0.0)


def called(pv: np.ndarray, cue: np.ndarray, point: Point) -> np.ndarray:
    t, c, g = point
    return (pv > t) | fires(cue, pv, c, g)


def figures(labels: np.ndarray, decided: np.ndarray) -> dict[str, float | int]:
    """``folds.Calls`` of a binary call, with the counts behind it."""
    calls = folds.Calls.of(labels, decided.astype(float), 0.5)
    out: dict[str, float | int] = {"balanced_accuracy": calls.balanced_accuracy,
                                   "masked_called": calls.masked_called,
                                   "without_called": calls.without_called,
                                   "incorrect_called": calls.incorrect_called}
    for label, name in enumerate(CLASSES):
        out[f"{name}_n"] = int((labels == label).sum())
        out[f"{name}_called_n"] = int(decided[labels == label].sum())
    return out


def one_vs_agreed(labels: np.ndarray, views: np.ndarray, crop: np.ndarray) -> dict[str, dict[str, float | int]]:
    """From the binary calls: one view (each view's figures averaged over the views; the
    counts too, so they may be fractional), at least ``AGREE`` of ``VIEWS`` views, and the
    runtime crop of the photo (no view), for reference against the record."""
    per_view = [figures(labels, views[:, v]) for v in range(VIEWS)]
    one = {k: round(float(np.mean([f[k] for f in per_view])), 4) for k in per_view[0]}
    votes = views.sum(axis=1)
    split = (votes > 0) & (votes < VIEWS)  # faces whose views do not all say the same
    agreed = figures(labels, votes >= AGREE) | {f"{name}_split_n": int(split[labels == label].sum())
                                                 for label, name in enumerate(CLASSES)}
    return {"one_view": one, f"{AGREE}_of_{VIEWS}": rounded(agreed),
            "runtime_crop": rounded(figures(labels, crop))}


def rounded(d: dict[str, float | int]) -> dict[str, float | int]:
    return {k: v if isinstance(v, int) else round(v, 4) for k, v in d.items()}


def scheme(data: list[FoldViews], points: list[Point]) -> dict[str, Any]:
    """Every fold counted at its point, and all folds pooled (each face at its fold's point)."""
    views = [called(d.pv, d.cue, p) for d, p in zip(data, points, strict=True)]
    crop = [called(d.photo_pv, d.photo_cue, p) for d, p in zip(data, points, strict=True)]
    per_fold = [{k: f for k, f in one_vs_agreed(d.labels, v, c).items() if k != "runtime_crop"}
                for d, v, c in zip(data, views, crop, strict=True)]
    pooled = one_vs_agreed(np.concatenate([d.labels for d in data]), np.concatenate(views),
                           np.concatenate(crop))
    distinct = sorted(set(points))
    return {"points_t_c_g": distinct[0] if len(distinct) == 1 else points,
            "pooled": pooled, "per_fold": per_fold}


def record(cache: Path, manifest: Path) -> dict[str, Any]:
    start = time.monotonic()
    base = json.loads((cache / f"cv-{RECIPE}.json").read_text())
    cv = json.loads(manifest.read_text())["models"]["nose_cue"]["quality"]["cross_validation"]
    variant = cv["cue"]["variant"]
    epoch = int(base["chosen_epoch"])
    assert cv["scenes_epoch"] == epoch, (cv["scenes_epoch"], epoch)
    patch = nose_cue.VARIANTS[variant]
    photos: list[ScenePhoto] = pickle.loads((cache / "data-scenes.pkl").read_bytes())
    fold_of = folds.photo_folds([(p.name, p.labels) for p in photos], FOLDS, SEED)
    data = []
    for fold in range(FOLDS):
        oof = pickle.loads((cache / f"cv-{RECIPE}-fold{fold}.pkl").read_bytes())[epoch]
        cached = pickle.loads((cache / f"nose-{variant}-fold{fold}.pkl").read_bytes())
        assert cached["fold"] == fold and cached["variant"] == variant
        held_out = [p for p in photos if fold_of[p.name] == fold]
        assert set(oof.view_probs) == {p.name for p in held_out}
        cue = load_cue(cache / f"nose-{variant}-fold{fold}.pt", variant)
        d = fold_views(held_out, oof, cue, cached["photo"], epoch, patch)
        log.info("views.fold=%d faces=%d crops equal %d/%d rng state equal %s cue diff %.2g",
                 fold, len(d.labels), d.crops_equal, d.crops_checked, d.rng_state_equal,
                 d.unshifted_cue_max_diff)
        data.append(d)
    joint = cv["pooled_calls"]["gated_joint_choice"]
    joint_point = (joint["t"], joint["c"], joint["g"])
    nested = [(r["t"], r["c"], r["g"]) for r in cv["nested_points_gated_nose"]]
    t_alone = float(base["violation_threshold"])
    nested_alone = [(r["t"], ALONE, r["g"]) for r in cv["nested_points_scenes_alone"]]
    labels = np.concatenate([d.labels for d in data])
    out = {
        "recipe": f"{RECIPE}+nose-views", "variant": variant, "folds": FOLDS, "seed": SEED,
        "views": VIEWS, "agree": AGREE, "scenes_epoch": epoch, "view_rng_seed": SEED + epoch,
        "matched_faces": {n: int((labels == k).sum()) for k, n in enumerate(CLASSES)},
        "replay": {"crops_checked": sum(d.crops_checked for d in data),
                   "crops_byte_equal": sum(d.crops_equal for d in data),
                   "rng_state_equal_after_each_fold": [d.rng_state_equal for d in data],
                   "unshifted_cue_vs_cached_max_abs_diff": max(d.unshifted_cue_max_diff for d in data)},
        "classifier_record_views": base["by_epoch"][str(epoch)]["views"],
        "joint": scheme(data, [joint_point] * FOLDS),
        "nested": scheme(data, nested),
        "classifier_alone": scheme(data, [(t_alone, ALONE, -1.0)] * FOLDS),
        "classifier_alone_nested": scheme(data, nested_alone),
        "classifier_alone_at_joint_t": scheme(data, [(joint_point[0], ALONE, -1.0)] * FOLDS),
    }
    out["seconds"] = round(time.monotonic() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="the build cache (read only)")
    parser.add_argument("--record", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--manifest", type=Path, default=REPO / "models" / "manifest.json",
                        help="the nose cue's cross-validation record (its points)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    out = record(args.cache, args.manifest)
    args.record.write_text(json.dumps(out, indent=1) + "\n")
    log.info("views.record %s seconds=%d", args.record, out["seconds"])
    return 0 if out["replay"]["crops_byte_equal"] == out["replay"]["crops_checked"] else 1


if __name__ == "__main__":
    sys.exit(main())
