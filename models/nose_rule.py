"""The joined call of the mask classifier and the nose cue, and how its points are chosen
(``models/nose_cv.py``). Plain arrays, no torch: the tests check the rule, and a runtime
would call the same way.

A face is a violation when the classifier's P(violation) > t, or when the cue's
P(nose visible) > c and (gated) P(violation) > g: the cue only confirms or vetoes the faces
the classifier is unsure of, so a skin-coloured mask worn right, which the classifier is
sure of, is not called by the cue alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models import folds

NO_GATE = -1.0  # g below every P(violation): the cue alone (the OR rule)



def fires(cue: np.ndarray, pv: np.ndarray, c: float, g: float) -> np.ndarray:
    """The cue's call: P(nose visible) > c, and (gated) the classifier's P(violation) > g; no
    landmarks (NaN) never fires."""
    return np.asarray((np.nan_to_num(cue, nan=0.0) > c) & (pv > g), bool)


def calls_at(labels: np.ndarray, pv: np.ndarray, cue: np.ndarray, crop_y: np.ndarray,
             crop_pv: np.ndarray, crop_cue: np.ndarray, t: float, c: float,
             g: float = NO_GATE) -> dict[str, float]:
    called = (pv > t) | fires(cue, pv, c, g)
    crop_called = (crop_pv > t) | fires(crop_cue, crop_pv, c, g)
    calls = folds.Calls.of(labels, called.astype(float), 0.5)
    return {"t": t, "c": c, "g": g, "balanced_accuracy": calls.balanced_accuracy,
            "incorrect_called": calls.incorrect_called, "masked_called": calls.masked_called,
            "without_called": calls.without_called,
            "crop_set_balanced_accuracy": folds.balanced_accuracy(crop_y > 0, crop_called)}


def feasible(row: dict[str, float]) -> bool:
    return (row["masked_called"] <= folds.MAX_MASKED_CALLED
            and row["crop_set_balanced_accuracy"] >= folds.MIN_CROP_SET_BA)


def objective(row: dict[str, float]) -> float:
    return row["balanced_accuracy"] + folds.INCORRECT_WEIGHT * row["incorrect_called"]


def best_row(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """The build's rule: feasible first, then the objective; ties to the highest (most
    conservative) cue point."""
    return max(rows, key=lambda r: (feasible(r), objective(r), r["c"], r["g"], r["t"]))


def rounded(row: dict[str, float]) -> dict[str, float | bool]:
    return {**{k: round(v, 4) for k, v in row.items()}, "feasible": feasible(row)}
