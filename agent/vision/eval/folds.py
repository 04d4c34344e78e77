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


def table(per_fold: list[Mapping[str, Any]], pooled: Mapping[str, Any],
          spread: Mapping[str, Any]) -> list[str]:
    """One row per fold, the pooled row, the mean ± sd and the lowest, as a person reads them."""
    width = 14

    def justified(i: int, text: str) -> str:
        return text.rjust(width + 10 if i == 2 else width + 4)

    lines = [" " * 10 + "".join(justified(i, name) for i, (_k, name) in enumerate(FIGURES))]
    rows = [(f"fold {i + 1}", f) for i, f in enumerate(per_fold)] + [("pooled", pooled)]
    for name, figures in rows:
        lines.append(name.ljust(10) + "".join(justified(i, cell(k, figures[k]))
                                              for i, (k, _n) in enumerate(FIGURES)))
    empty = {"mean": None, "std": None, "min": None}
    spreads = {k: spread.get(k, empty) for k, _n in FIGURES}
    lines.append("mean ± sd".ljust(10) + "".join(
        justified(i, f"{cell(k, spreads[k]['mean'])} ± {cell(k, spreads[k]['std'])}")
        for i, (k, _n) in enumerate(FIGURES)))
    lines.append("lowest".ljust(10) + "".join(justified(i, cell(k, spreads[k]["min"]))
                                              for i, (k, _n) in enumerate(FIGURES)))
    return lines


def nose_record(quality: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The nose cue's cross-validation record (models/nose_build.py), if the build made one."""
    record = quality.get("cross_validation")
    if isinstance(record, Mapping) and isinstance(record.get("scenes_plus_gated_nose_joint"), Mapping):
        return record
    return None


def format_nose(record: Mapping[str, Any]) -> list[str]:
    """The call the camera makes with the nose cue: at the points chosen, and chosen without
    each fold (the estimate free of the choice's own optimism)."""
    chosen = record["pooled_calls"]["gated_joint_choice"]
    joint, nested = record["scenes_plus_gated_nose_joint"], record["scenes_plus_gated_nose_nested"]
    lines = [f"The call on the camera: a violation when P(violation) > {chosen['t']}, or when the nose "
             f"cue finds the nose bare (P > {chosen['c']}) and P(violation) > {chosen['g']}; the three "
             "points were chosen together on the folds' pooled predictions (folded into the models).",
             "", "figures on held-out photos, faces from 24 px, at those points:"]
    lines += table(joint["per_fold"], joint["pooled"], joint["spread"])
    lines += ["", f"face-mask/val: {joint['crop_set_balanced_accuracy']:.1%}",
              "", "the same, each fold counted at the points chosen without it (the honest estimate):"]
    lines += table(nested["per_fold"], nested["pooled"], nested["spread"])
    lines += ["", f"face-mask/val: {nested['crop_set_balanced_accuracy']:.1%}", "",
              "the mask model alone, at its own point:"]
    return lines


def format_folds(record: Mapping[str, Any], nose: Mapping[str, Any] | None = None) -> str:
    """Each fold's figures, the pooled ones and the spread, as a table a person reads; with
    the nose cue's record, the call as the camera makes it first."""
    lines = [f"Mask model chosen by {record['folds']}-fold cross-validation by photo "
             f"({record['photos']} photos of face-mask-scenes train + val; recipe {record['recipe']!r})",
             f"stage 2 stopped after epoch {record['chosen_epoch']}; not a face when P > "
             f"{record['not_face_threshold']} (folded into the model)", ""]
    if nose is not None:
        lines += format_nose(nose)
    lines.append(f"violation when P > {record['violation_threshold']}")
    if record.get("feasible") is False:
        lines.append("no violation point kept masked faces called under the cap with face-mask/val at its "
                     "floor: the best point without those caps was taken")
    lines += ["", "figures on held-out photos, faces from 24 px:"]
    lines += table(record["per_fold"], record["pooled"], record["spread"])
    pooled = record["pooled"]
    lines += ["", f"held out: {pooled['incorrect_faces']} masks worn incorrectly and {pooled['masked_faces']} "
                  f"masked faces found; a fold holds about 1/{record['folds']} of them, so its figures for the rare "
                  "class move by whole faces"]
    return "\n".join(lines)
