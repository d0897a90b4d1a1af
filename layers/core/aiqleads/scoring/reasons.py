"""Reason codes: the factors that raised and lowered a lead's score, in words a buyer understands.

At training time each feature's range is cut into bins and every bin gets the mean SHAP contribution (in the
calibrated log-odds) that the trained model gave leads in it, plus a phrase ("Timeline: 0-3 months"). At run time
a lead's reasons are its bins with the largest positive and negative contributions: a table look-up, cheap enough
for a million leads a second, shared by the record and the columnar paths.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable
from typing import Any, NamedTuple

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


class Chosen(NamedTuple):
    """The reasons `Explainer.choose` picked for a batch: per pick (direction 0 up / 1 down, phrase slot per
    row, rows without a reason there), and the rows without any reason."""

    picks: list[tuple[int, np.ndarray, np.ndarray]]
    no_reason: np.ndarray


class Factor(NamedTuple):
    """One reason: a feature's bin, pushing the score up or down. Every possible factor of a model is made once,
    when the explainer is built, and shared by every lead it explains."""

    feature: str
    direction: str  # "up" or "down"
    text: str
    impact: float

    def __str__(self) -> str:
        return f"{UP if self.direction == 'up' else DOWN} {self.text}"


def _compile_slots(
    active: list[int], edges: list[list[float]], offsets: list[int]
) -> Callable[[list[float]], list[int]]:
    """One Python function giving each active feature's phrase slot for a feature vector (as a list): its bin,
    or its "missing" slot for NaN. Compiled once, because a loop over the features was a sixth of the time of
    scoring one lead."""
    namespace: dict[str, Any] = {"bisect_right": bisect_right}
    lines = ["def slots(x):"]
    for k, (j, cuts, offset) in enumerate(zip(active, edges, offsets, strict=True)):
        namespace[f"edges_{k}"] = cuts
        lines.append(f"    v = x[{j}]")
        lines.append(f"    s{k} = {offset + len(cuts) + 1} if v != v else {offset} + bisect_right(edges_{k}, v)")
    lines.append("    return [" + ", ".join(f"s{k}" for k in range(len(active))) + "]")
    exec(compile("\n".join(lines), "<aiqleads reason slots>", "exec"), namespace)
    slots: Callable[[list[float]], list[int]] = namespace["slots"]
    return slots


class Explainer:
    """Both reason paths over the same tables. Only features that can ever reach `min_impact` take part: the
    others would never be named, so skipping them changes no answer and halves the work."""

    def __init__(self, explanations: Explanations, feature_names: list[str]):
        if [bins.feature for bins in explanations.features] != feature_names:
            raise ValueError("explanations do not match the model's features")
        self.explanations = explanations
        self._limit = explanations.min_impact
        self._per_direction = explanations.per_direction
        self._active = [
            j
            for j, bins in enumerate(explanations.features)
            if max(abs(i) for i in [*bins.impacts, bins.missing_impact]) >= self._limit
        ]
        active = [explanations.features[j] for j in self._active]
        # One phrase table for the active features: feature i's bins start at offsets[i]; its last is "missing".
        offsets: list[int] = []
        phrases: list[str] = []
        impacts: list[float] = []
        names: list[str] = []
        for bins in active:
            offsets.append(len(phrases))
            phrases.extend([*bins.phrases, bins.missing_phrase])
            impacts.extend([*bins.impacts, bins.missing_impact])
            names.extend([bins.feature] * (len(bins.edges) + 2))
        self._slot_impacts = impacts
        self._factors = tuple(
            [
                Factor(name, direction, phrase, impact)
                for name, phrase, impact in zip(names, phrases, impacts, strict=True)
            ]
            for direction in ("up", "down")
        )
        self._offsets = np.array(offsets, dtype=np.int64)
        # Edges are float32 values (fitted on float32 features), so comparing in float32 is exact in both paths.
        self._edges = [np.array(b.edges, dtype=np.float32) for b in active]
        self._feature_impacts = [np.array([*b.impacts, b.missing_impact], dtype=np.float64) for b in active]
        self._slots = _compile_slots(self._active, [[float(e) for e in b.edges] for b in active], offsets)
        self._up = pa.array([f"{UP} {p}" for p in phrases], type=pa.string())
        self._down = pa.array([f"{DOWN} {p}" for p in phrases], type=pa.string())
        self._json: tuple[pa.Array, pa.Array] | None = None  # built by the first reason_json

    def factors(self, vector: np.ndarray | list[float]) -> list[Factor]:
        """Reasons for one lead, strongest first: up to `per_direction` ups then as many downs. `vector` holds
        float32 values (the model's input), as an array or as a list of them."""
        slots = self._slots(vector.tolist() if isinstance(vector, np.ndarray) else vector)
        impacts = list(map(self._slot_impacts.__getitem__, slots))
        per, limit = self._per_direction, self._limit
        # (strength, feature position) tuples: ties go to the earlier feature, as argmax does in the columnar path.
        strong = [i for i, impact in enumerate(impacts) if impact >= limit or impact <= -limit]
        ups = sorted([(-impacts[i], i) for i in strong if impacts[i] >= limit])[:per]
        downs = sorted([(impacts[i], i) for i in strong if impacts[i] <= -limit])[:per]
        up, down = self._factors
        return [up[slots[i]] for _, i in ups] + [down[slots[i]] for _, i in downs]

    def bins(self, matrix: np.ndarray) -> np.ndarray:
        """Bin index of every active feature of every row, as a [active features, rows] array."""
        by_feature = np.ascontiguousarray(matrix[:, self._active].T)
        bins = np.zeros(by_feature.shape, dtype=np.int16)
        for i, edges in enumerate(self._edges):
            column, k = by_feature[i], bins[i]
            # k = how many edges are <= x, i.e. bisect_right; a few vector compares beat a binary search here.
            for edge in edges:
                k += column >= edge
            k[np.isnan(column)] = len(edges) + 1  # the slot after the last bin
        return bins

    def choose(self, matrix: np.ndarray) -> Chosen:
        """Each row's reasons, strongest first (as `factors` orders them), as phrase slots of the active
        features: the shared first step of every columnar rendering."""
        rows = len(matrix)
        picks: list[tuple[int, np.ndarray, np.ndarray]] = []
        no_reason = np.ones(rows, dtype=bool)
        if not self._active:
            return Chosen(picks, no_reason)
        bins = self.bins(matrix)
        impacts = np.empty(bins.shape, dtype=np.float64)
        for i, table in enumerate(self._feature_impacts):
            np.take(table, bins[i], out=impacts[i])
        columns = np.arange(rows)
        flat_bins = bins.ravel()
        for direction, sign in enumerate((1.0, -1.0)):
            signed = impacts * sign
            flat = signed.ravel()
            for _ in range(self._per_direction):
                # Ties break by feature order in both paths: argmax takes the first maximum, sorted() is stable.
                best = np.argmax(signed, axis=0)
                cells = best * rows + columns  # flat positions: far cheaper than 2-D fancy indexing
                weak = flat[cells] < self._limit
                no_reason &= weak
                picks.append((direction, self._offsets[best] + flat_bins[cells], weak))
                flat[cells] = -np.inf
        return Chosen(picks, no_reason)

    def _render(self, chosen: Chosen, tables: tuple[pa.Array, pa.Array], separator: str) -> pa.Array:
        if not chosen.picks:
            return pa.array([""] * len(chosen.no_reason), type=pa.string())
        parts = [pc.take(tables[direction], pa.array(slots, mask=weak)) for direction, slots, weak in chosen.picks]
        # Arrow 26 drops (!) rows whose parts are all null when skipping nulls; an empty first part keeps them.
        parts[0] = pc.if_else(pa.array(chosen.no_reason), "", parts[0])
        return pc.binary_join_element_wise(*parts, separator, null_handling="skip")

    def reason_strings(self, matrix: np.ndarray | Chosen, separator: str = "; ") -> pa.Array:
        """The reasons of each row as one string ("+ A; + B; − C"), same order as `factors`."""
        chosen = matrix if isinstance(matrix, Chosen) else self.choose(matrix)
        return self._render(chosen, (self._up, self._down), separator)

    def reason_json(self, chosen: Chosen) -> pa.Array:
        """The reasons of each row as the JSON list a score item stores: `json.dumps` of the Reason dumps of
        `factors`, byte for byte."""
        if self._json is None:
            self._json = tuple(
                pa.array([json.dumps(factor._asdict()) for factor in factors], type=pa.string())
                for factors in self._factors
            )
        inner = self._render(chosen, self._json, ", ")
        return pc.binary_join_element_wise("[", inner, "]", "")
