"""L2-regularised binary logistic regression in numpy, with k-fold cross-validation.

Small enough for a few hundred enrolment samples of 1280-d features: Newton's method on
standardised features converges in a handful of steps and needs no sklearn on the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LogisticHead:
    weights: np.ndarray  # (D,)
    bias: float
    feature_mean: np.ndarray  # (D,) standardisation fitted on the training features
    feature_std: np.ndarray  # (D,)

    def decision(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.feature_mean) / self.feature_std
        return np.asarray(z @ self.weights + self.bias)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row."""
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(self.decision(features), -50, 50))))


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0,
                 steps: int = 30) -> LogisticHead:
    """Fit on rows of features with labels in {0, 1}."""
    mean = features.mean(axis=0)
    std = features.std(axis=0) + 1e-6
    x = np.hstack([(features - mean) / std, np.ones((len(features), 1))]).astype(np.float64)
    y = labels.astype(np.float64)
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return LogisticHead(w[:-1].astype(np.float32), float(w[-1]), mean.astype(np.float32),
                        std.astype(np.float32))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Indices of each fold's test part, every class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        for i, index in enumerate(members):
            parts[i % folds].append(int(index))
    return [np.array(sorted(p), dtype=int) for p in parts]


def cross_validated_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 5,
                             seed: int = 0, l2: float = 1.0) -> list[float]:
    """Accuracy on each held-out fold of a head fitted on the other folds."""
    folds = max(2, min(folds, int(np.bincount(labels).min())))
    scores = []
    for test in stratified_folds(labels, folds, seed):
        train = np.setdiff1d(np.arange(len(labels)), test)
        head = fit_logistic(features[train], labels[train], l2)
        scores.append(float(np.mean((head.predict_proba(features[test]) > 0.5) == labels[test])))
    return scores
