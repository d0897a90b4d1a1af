"""Reason codes: the factors that raised and lowered a lead's score, in words a buyer understands.

At training time each feature's range is cut into bins and every bin gets the mean SHAP contribution (in the
calibrated log-odds) that the trained model gave leads in it, plus a phrase ("Timeline: 0-3 months"). At run time
a lead's reasons are its bins with the largest positive and negative contributions: a table look-up, cheap enough
for a million leads a second, shared by the record and the columnar paths.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

UP, DOWN = "+", "−"


class FeatureBins(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str
    edges: list[float] = Field(description="bin k holds values in [edges[k-1], edges[k])")
    impacts: list[float] = Field(description="mean log-odds contribution per bin, len(edges)+1")
    phrases: list[str]
    missing_impact: float = 0.0
    missing_phrase: str


class Explanations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[FeatureBins]
    min_impact: float = Field(default=0.05, description="smaller contributions are not worth a reason")
    per_direction: int = Field(default=2, ge=1, le=5)


@dataclass(frozen=True, slots=True)
class Factor:
    feature: str
    direction: str  # "up" or "down"
    text: str
    impact: float

    def __str__(self) -> str:
        return f"{UP if self.direction == 'up' else DOWN} {self.text}"


class Explainer:
    def __init__(self, explanations: Explanations, feature_names: list[str]):
        names = [bins.feature for bins in explanations.features]
        if names != feature_names:
            raise ValueError("explanations do not match the model's features")
        self.explanations = explanations
        self._features = explanations.features
        self._limit = explanations.min_impact
        self._per_direction = explanations.per_direction
        # One phrase table for all bins: row j's bins start at offset[j]; the last slot of each is "missing".
        offsets: list[int] = []
        phrases: list[str] = []
        impacts: list[float] = []
        for bins in self._features:
            offsets.append(len(phrases))
            phrases.extend([*bins.phrases, bins.missing_phrase])
            impacts.extend([*bins.impacts, bins.missing_impact])
        self._offsets = np.array(offsets, dtype=np.int64)
        self._impacts = np.array(impacts, dtype=np.float64)
        # Edges are float32 values (fitted on float32 features), so comparing in float32 is exact.
        self._edges = [np.array(b.edges, dtype=np.float32) for b in self._features]
        # The same tables flattened for one lead at a time: every edge with the feature it belongs to.
        self._phrases = phrases
        self._names = [bins.feature for bins in self._features for _ in range(len(bins.edges) + 2)]
        # Per feature: its edges, the bin index of "missing", and where its slots start.
        self._tables = (
            [[float(e) for e in b.edges] for b in self._features],
            [len(b.edges) + 1 for b in self._features],
            offsets,
        )
        self._slot_impacts = impacts
        self._up = pa.array([f"{UP} {p}" for p in phrases], type=pa.string())
        self._down = pa.array([f"{DOWN} {p}" for p in phrases], type=pa.string())

    def factors(self, vector: np.ndarray) -> list[Factor]:
        """Reasons for one lead, strongest first: up to `per_direction` ups then as many downs."""
        # Edges hold float32 values and x is a float32 widened exactly, so these are the columnar comparisons.
        slots = [
            offset + (missing if x != x else bisect_right(edges, x))
            for x, edges, missing, offset in zip(vector.tolist(), *self._tables, strict=True)
        ]
        impacts = list(map(self._slot_impacts.__getitem__, slots))
        per, limit = self._per_direction, self._limit
        # (strength, feature index) tuples: ties go to the earlier feature, as argmax does in the columnar path.
        ups = sorted((-impact, j) for j, impact in enumerate(impacts) if impact >= limit)[:per]
        downs = sorted((impact, j) for j, impact in enumerate(impacts) if impact <= -limit)[:per]
        return [
            Factor(self._names[slots[j]], direction, self._phrases[slots[j]], impacts[j])
            for direction, chosen in (("up", ups), ("down", downs))
            for _, j in chosen
        ]

    def slots(self, matrix: np.ndarray) -> np.ndarray:
        """Global bin slot of every cell of a [rows, features] matrix."""
        slots = np.empty(matrix.shape, dtype=np.int64)
        by_feature = np.ascontiguousarray(matrix.T)
        for j, edges in enumerate(self._edges):
            column = by_feature[j]
            # k = how many edges are <= x, i.e. bisect_right; a few vector compares beat a binary search here.
            k = np.zeros(len(column), dtype=np.int64)
            for edge in edges:
                k += column >= edge
            k[np.isnan(column)] = len(edges) + 1  # the slot after the last bin
            slots[:, j] = self._offsets[j] + k
        return slots

    def reason_strings(self, matrix: np.ndarray, separator: str = "; ") -> pa.Array:
        """The reasons of each row as one string ("+ A; + B; − C"), same order as `factors`."""
        slots = self.slots(matrix)
        impacts = self._impacts[slots]
        rows = np.arange(len(matrix))
        parts: list[pa.Array] = []
        no_reason = np.ones(len(matrix), dtype=bool)
        for sign, phrases in ((1.0, self._up), (-1.0, self._down)):
            signed = impacts * sign
            for _ in range(self._per_direction):
                best = np.argmax(signed, axis=1)
                weak = signed[rows, best] < self._limit
                no_reason &= weak
                parts.append(pc.take(phrases, pa.array(slots[rows, best], mask=weak)))
                # Ties break by feature order in both paths: argmax takes the first maximum, sorted() is stable.
                signed[rows, best] = -np.inf
        # Arrow 26 drops (!) rows whose parts are all null when skipping nulls; an empty first part keeps them.
        parts[0] = pc.if_else(pa.array(no_reason), "", parts[0])
        return pc.binary_join_element_wise(*parts, separator, null_handling="skip")
