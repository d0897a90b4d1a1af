"""How good a model's probabilities are, and Platt scaling: numpy only.

Training, the champion/challenger comparison and shadow scoring all measure with these. scikit-learn computes
the same figures (the unit tests compare), but it pulls in most of SciPy (over 150 MB unzipped), which would not
fit beside the deps layer in the training function's 250 MB; LightGBM itself needs only `scipy.sparse`.
"""

from __future__ import annotations

import math

import numpy as np

_EPSILON = float(np.finfo(np.float64).eps)


def _tie_averaged_ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    _, starts, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(starts + (counts + 1) / 2.0, counts)  # each run of ties shares its mean position
    return ranks


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The Mann-Whitney form of ROC AUC, ties counted as half (sklearn's roc_auc_score)."""
    truth = np.asarray(labels).astype(bool)
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = _tie_averaged_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[truth].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Precision averaged over the recall steps, one step per distinct score (sklearn's average_precision_score)."""
    truth = np.asarray(labels).astype(np.float64)
    if truth.sum() == 0:
        return math.nan
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores, sorted_truth = np.asarray(scores, dtype=np.float64)[order], truth[order]
    last_of_run = np.r_[np.diff(sorted_scores) != 0, True]
    true_positives = np.cumsum(sorted_truth)[last_of_run]
    predicted = (np.arange(1, len(sorted_truth) + 1))[last_of_run]
    precision = true_positives / predicted
    recall_steps = np.diff(np.r_[0.0, true_positives / truth.sum()])
    return float((recall_steps * precision).sum())


def brier(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float(np.mean((np.asarray(probabilities, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def lift_top_decile(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Conversion among the top tenth by probability, against the base rate."""
    truth = np.asarray(labels, dtype=np.float64)
    top = np.argsort(-np.asarray(probabilities), kind="stable")[: max(1, len(truth) // 10)]
    base = truth.mean()
    return float(truth[top].mean() / base) if base > 0 else math.nan


def evaluate(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The figures a model version records and a comparison reads, rounded as manifests store them."""
    truth = np.asarray(labels, dtype=np.float64)
    return {
        "roc_auc": round(roc_auc(truth, probabilities), 6),
        "pr_auc": round(average_precision(truth, probabilities), 6),
        "brier": round(brier(truth, probabilities), 6),
        "log_loss": round(log_loss(truth, probabilities), 6),
        "lift_top_decile": round(lift_top_decile(truth, probabilities), 4),
        "base_rate": round(float(truth.mean()), 6),
    }


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))), dtype=np.float64)


def platt(raw: np.ndarray, labels: np.ndarray, *, penalty: float = 1e-6, iterations: int = 100) -> tuple[float, float]:
    """(slope, intercept) of the logistic regression of the labels on raw scores, by Newton's method.

    The objective is sklearn's LogisticRegression(C=1/penalty): log loss summed over rows plus penalty/2 times
    the slope squared (the intercept is not penalised). Newton converges quadratically, so the optimum is found
    to machine precision in a handful of steps, where lbfgs stops at its tolerance."""
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    slope, intercept = 0.0, 0.0
    for _ in range(iterations):
        p = sigmoid(slope * x + intercept)
        weight = p * (1 - p)
        gradient = np.array([(x * (p - y)).sum() + penalty * slope, (p - y).sum()])
        hessian = np.array([[(weight * x * x).sum() + penalty, (weight * x).sum()], [(weight * x).sum(), weight.sum()]])
        step = np.linalg.solve(hessian, gradient)
        slope, intercept = slope - float(step[0]), intercept - float(step[1])
        if np.abs(step).max() < 1e-12:
            break
    return slope, intercept
