"""Live performance: how the probabilities a model served compare with the outcomes recorded since.

Each figure carries its count of outcomes; below `min_outcomes` it carries no number but the words "not enough
outcomes" (an AUC over a dozen leads says more about the sample than about the model). Calibration sets the
expected conversion (the mean probability served) against the observed (the share converted), per grade and per
score decile (the training score's deciles, so each holds about a tenth of the leads when nothing drifted). A
grade's observed conversion is out of its band when it lies more than `BAND_Z` binomial standard errors from the
expected: at 3, a well-calibrated grade leaves it about once in 370 runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from aiqleads.monitoring.baseline import Bins
from aiqleads.scoring.metrics import brier, roc_auc

MIN_OUTCOMES = 100
MIN_GRADE_OUTCOMES = 30  # a grade's band is meaningless on fewer
BAND_Z = 3.0
NOT_ENOUGH = "not enough outcomes"


class Figure(BaseModel):
    value: float | None = Field(description="None below the minimum count of outcomes")
    outcomes: int
    note: str | None = None

    @classmethod
    def of(cls, value: float, outcomes: int, minimum: int) -> Figure:
        if outcomes < minimum or not math.isfinite(value):
            reason = NOT_ENOUGH if outcomes < minimum else "every outcome the same"
            return cls(value=None, outcomes=outcomes, note=f"{reason} ({outcomes}, at least {minimum} needed)")
        return cls(value=round(float(value), 6), outcomes=outcomes)


class CalibrationBin(BaseModel):
    label: str = Field(description="the grade letter, or the decile as 'p10-p20'")
    outcomes: int
    expected: float | None = Field(description="mean probability served")
    observed: float | None = Field(description="share that converted")
    band: tuple[float, float] | None = Field(None, description="where the observed share is expected to fall")
    in_band: bool | None = Field(None, description="None below the minimum count")


class Performance(BaseModel):
    outcomes: int
    conversions: int
    roc_auc: Figure
    brier: Figure
    by_grade: list[CalibrationBin]
    by_decile: list[CalibrationBin]


def performance(
    labels: np.ndarray,
    probabilities: np.ndarray,
    grades: Sequence[str],
    deciles: Bins,
    min_outcomes: int = MIN_OUTCOMES,
) -> Performance:
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    count = int(labels.size)
    grade_array = np.asarray(list(grades), dtype=object)
    by_grade = [
        _bin(letter, labels[grade_array == letter], probabilities[grade_array == letter], MIN_GRADE_OUTCOMES)
        for letter in ("A", "B", "C", "D")
    ]
    index = deciles.bin_of(probabilities)
    bounds = [0.0, *deciles.edges, 1.0]
    by_decile = [
        _bin(f"{bounds[i]:.3f}-{bounds[i + 1]:.3f}", labels[index == i], probabilities[index == i], MIN_GRADE_OUTCOMES)
        for i in range(len(deciles.edges) + 1)
    ]
    return Performance(
        outcomes=count,
        conversions=int(labels.sum()),
        roc_auc=Figure.of(roc_auc(labels, probabilities) if count else math.nan, count, min_outcomes),
        brier=Figure.of(brier(labels, probabilities) if count else math.nan, count, min_outcomes),
        by_grade=by_grade,
        by_decile=by_decile,
    )


def _bin(label: str, labels: np.ndarray, probabilities: np.ndarray, minimum: int) -> CalibrationBin:
    count = int(labels.size)
    if count == 0:
        return CalibrationBin(label=label, outcomes=0, expected=None, observed=None)
    expected, observed = float(probabilities.mean()), float(labels.mean())
    if count < minimum:
        return CalibrationBin(label=label, outcomes=count, expected=round(expected, 6), observed=round(observed, 6))
    error = BAND_Z * math.sqrt(max(expected * (1 - expected), 1e-6) / count)
    low, high = max(0.0, expected - error), min(1.0, expected + error)
    return CalibrationBin(
        label=label,
        outcomes=count,
        expected=round(expected, 6),
        observed=round(observed, 6),
        band=(round(low, 6), round(high, 6)),
        in_band=low <= observed <= high,
    )
