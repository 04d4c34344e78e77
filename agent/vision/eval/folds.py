"""`vision eval --folds`: the mask model's cross-validation figures, as its build recorded them.

The model is chosen by k-fold cross-validation by photo over the scene data set's train
and val (models/cv.py): each fold's model is judged on photos it never saw, counted as
``--scenes`` counts the camera path. Those figures, one row per fold, their spread and the
pooled figure, are the estimate of what the model does on photos it has never seen; the
build keeps them in the manifest (``quality.scene_stage``), and this prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIGURES = (("face_recall", "face recall"), ("balanced_accuracy", "balanced accuracy"),
           ("incorrect_called", "worn incorrectly called"), ("masked_called", "masked called"),
           ("violation_recall", "end to end"), ("false_per_photo", "false per photo"))


def cv_record(quality: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The cross-validation record in a model's manifest quality, if the build made one."""
    stage = quality.get("scene_stage")
    if isinstance(stage, Mapping) and isinstance(stage.get("per_fold"), list):
        return stage
    return None


def cell(key: str, value: float | None) -> str:
    if value is None:
        return "none held"
    return f"{value:.3f}" if key == "false_per_photo" else f"{value:.1%}"


def format_folds(record: Mapping[str, Any]) -> str:
    """Each fold's figures, the pooled ones and the spread, as a table a person reads."""
    width = 14
    head = "".join(name.rjust(width + 10) if i == 2 else name.rjust(width + 4)
                   for i, (_k, name) in enumerate(FIGURES))
    lines = [f"Mask model chosen by {record['folds']}-fold cross-validation by photo "
             f"({record['photos']} photos of face-mask-scenes train + val; recipe {record['recipe']!r})",
             f"stage 2 stopped after epoch {record['chosen_epoch']}; violation when P > "
             f"{record['violation_threshold']}, not a face when P > {record['not_face_threshold']} "
             "(both folded into the model)"]
    if record.get("feasible") is False:
        lines.append("no violation point kept masked faces called under the cap with face-mask/val at its "
                     "floor: the best point without those caps was taken")
    lines += ["",
              "figures on held-out photos, faces from 24 px:", " " * 10 + head]
    rows = [(f"fold {i + 1}", f) for i, f in enumerate(record["per_fold"])] + [("pooled", record["pooled"])]
    for name, figures in rows:
        cells = "".join(cell(k, figures[k]).rjust(width + 10 if i == 2 else width + 4)
                        for i, (k, _n) in enumerate(FIGURES))
        lines.append(name.ljust(10) + cells)
    empty = {"mean": None, "std": None, "min": None}
    spread = {k: record["spread"].get(k, empty) for k, _n in FIGURES}
    lines.append("mean ± sd".ljust(10) + "".join(
        f"{cell(k, spread[k]['mean'])} ± {cell(k, spread[k]['std'])}".rjust(width + 10 if i == 2 else width + 4)
        for i, (k, _n) in enumerate(FIGURES)))
    lines.append("lowest".ljust(10) + "".join(cell(k, spread[k]["min"]).rjust(width + 10 if i == 2 else width + 4)
                                              for i, (k, _n) in enumerate(FIGURES)))
    pooled = record["pooled"]
    lines += ["", f"held out: {pooled['incorrect_faces']} masks worn incorrectly and {pooled['masked_faces']} "
                  f"masked faces found; a fold holds about 1/{record['folds']} of them, so its figures for the rare "
                  "class move by whole faces"]
    return "\n".join(lines)
