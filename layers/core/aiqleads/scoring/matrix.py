"""Fit, engagement and the matrix grade: the two halves of a score, each 0-100, and a letter-digit grade (A1-D3).

The model's log-odds is a fit part (trees over who the lead is) plus an engagement part (trees over what it has
done): training keeps the two sets of features out of each other's trees. Each part becomes 0-100 against the
training leads:
- fit: the share of training leads whose fit part is below the lead's (a percentile);
- engagement: 0 with nothing recorded; otherwise the percentile of the lift engagement gives (the engagement part
  minus its value with nothing recorded, never negative: behaviour features are monotone) among the training
  leads that had any.
Changing only behaviour never moves fit, and changing only lead fields never moves engagement.

The grade's letter comes from fit (A from `letters["A"]` up, then B, C, else D), its digit from engagement (1 from
`digits["1"]` up, then 2, else 3): A1 is a lead that both fits and engages; D3 one that does neither.

Both scoring paths compute the same numbers: the record path in Python floats, the columnar path in numpy float64,
with the same operations in the same order.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

PERCENTILES = 101
LETTERS = ("A", "B", "C")
DIGITS = ("1", "2")


class Curve(BaseModel):
    """A piecewise-linear, non-decreasing map from a margin to 0-100 (strictly increasing knots)."""

    model_config = ConfigDict(extra="forbid")

    knots: list[float] = Field(min_length=2)
    values: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _increasing(self) -> Curve:
        if len(self.knots) != len(self.values):
            raise ValueError("a curve needs one value per knot")
        if any(b <= a for a, b in zip(self.knots, self.knots[1:], strict=False)):
            raise ValueError("a curve's knots must increase")
        if any(b < a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ValueError("a curve's values must not decrease")
        return self

    @classmethod
    def percentiles(cls, sample: np.ndarray, start: tuple[float, float] | None = None) -> Curve:
        """The empirical percentile of `sample` (0 below it, 100 above): at each distinct quantile, the share of
        the sample at or below it; `start` adds a first knot (engagement's (0, 0))."""
        quantiles = np.quantile(sample.astype(np.float64), np.linspace(0.0, 1.0, PERCENTILES))
        ordered = np.sort(sample.astype(np.float64))
        knots = [float(q) for q in np.unique(quantiles)]
        values = [100.0 * float(np.searchsorted(ordered, q, side="right")) / len(ordered) for q in knots]
        if start is not None and start[0] < knots[0]:
            knots, values = [start[0], *knots], [start[1], *values]
        if len(knots) == 1:  # one distinct value: a step at it
            knots, values = [knots[0] - 1e-9, knots[0]], [0.0, values[0]]
        return cls(knots=knots, values=values)

    def one(self, x: float) -> float:
        knots, values = self.knots, self.values
        j = bisect_right(knots, x) - 1
        if j < 0:
            return values[0]
        if j >= len(knots) - 1:
            return values[-1]
        return values[j] + (x - knots[j]) / (knots[j + 1] - knots[j]) * (values[j + 1] - values[j])

    def many(self, x: np.ndarray) -> np.ndarray:
        knots, values = np.array(self.knots), np.array(self.values)
        j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
        inside = values[j] + (x - knots[j]) / (knots[j + 1] - knots[j]) * (values[j + 1] - values[j])
        return np.where(x < knots[0], values[0], np.where(x >= knots[-1], values[-1], inside))


class Matrix(BaseModel):
    """How a model's two margins become fit, engagement and the matrix grade (stored in its manifest)."""

    model_config = ConfigDict(extra="forbid")

    fit: Curve
    engagement: Curve = Field(description="of the engagement lift: the engagement margin minus `baseline`")
    baseline: float = Field(description="the engagement margin of a lead with nothing recorded")
    letters: dict[str, float] = Field(default_factory=lambda: {"A": 75.0, "B": 50.0, "C": 25.0})
    digits: dict[str, float] = Field(default_factory=lambda: {"1": 67.0, "2": 33.0})

    def scores(self, fit_margin: float, engagement_margin: float) -> tuple[int, int, str]:
        """(fit, engagement, matrix grade) of one lead."""
        fit = _whole(self.fit.one(fit_margin))
        lift = engagement_margin - self.baseline
        engagement = _whole(self.engagement.one(lift)) if lift > 0 else 0
        return fit, engagement, self.letter(fit) + self.digit(engagement)

    def letter(self, fit: int) -> str:
        return next((g for g in LETTERS if fit >= self.letters[g]), "D")

    def digit(self, engagement: int) -> str:
        return next((g for g in DIGITS if engagement >= self.digits[g]), "3")

    def many(self, margins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fit, engagement, matrix grade) of every row of a [rows, 2] margins array."""
        fit = np.floor(self.fit.many(margins[:, 0].astype(np.float64)) + 0.5).astype(np.int64)
        lift = margins[:, 1].astype(np.float64) - self.baseline
        engaged = np.floor(self.engagement.many(lift) + 0.5).astype(np.int64)
        engagement = np.where(lift > 0, engaged, 0)
        letters = np.select([fit >= self.letters[g] for g in LETTERS], list(LETTERS), default="D")
        digits = np.select([engagement >= self.digits[g] for g in DIGITS], list(DIGITS), default="3")
        return fit, engagement, np.char.add(letters, digits)


def _whole(value: float) -> int:
    return math.floor(value + 0.5)
