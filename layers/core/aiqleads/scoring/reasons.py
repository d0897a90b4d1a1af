"""Reason codes: the factors that raised and lowered a lead's score, in words a buyer understands.

At training time each feature's range is cut into bins and every bin gets the mean SHAP contribution (in the
calibrated log-odds) that the trained model gave leads in it. At run time a lead's reasons are its bins with the
largest positive and negative contributions (a table look-up, shared by the record and the columnar paths), each
in words that name the lead's own value ("Price $349,900", "Last active 3 hours ago": `scoring.phrases`).

Only what is known is a reason: a missing value never is (its contribution is the model's, but "unknown" tells a
buyer nothing), and a behaviour feature with nothing recorded is one only when the spec gives that state words of
its own ("No activity recorded yet"); otherwise its "none" slot, like the missing one, weighs nothing here.
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

from aiqleads.features.spec import FeatureSpec
from aiqleads.scoring.phrases import phrase_of

UP, DOWN = "+", "−"
DIRECTIONS = ("up", "down")


class FeatureBins(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str
    edges: list[float] = Field(description="bin k holds values in [edges[k-1], edges[k])")
    impacts: list[float] = Field(description="mean log-odds contribution per bin, len(edges)+1")
    phrases: list[str] = Field(description="each bin's range in words (documentation: reasons name the value)")
    missing_impact: float = 0.0
    missing_phrase: str
    none_value: float | None = Field(default=None, description="a behaviour feature's value with nothing recorded")
    none_impact: float = 0.0
    none_phrase: str | None = None


class Explanations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[FeatureBins]
    min_impact: float = Field(default=0.05, description="smaller contributions are not worth a reason")
    per_direction: int = Field(default=2, ge=1, le=5)


class Pick(NamedTuple):
    """One reason position of a batch (its n-th up or down): per row, the phrase slot, whether the row has no
    reason there, the active feature it names and that feature's value."""

    direction: int  # 0 up, 1 down
    slots: np.ndarray
    weak: np.ndarray
    feature: np.ndarray
    values: np.ndarray


class Chosen(NamedTuple):
    """The reasons `Explainer.choose` picked for a batch, strongest first, and the rows without any reason."""

    picks: list[Pick]
    no_reason: np.ndarray


class Factor(NamedTuple):
    """One reason: a feature's value, pushing the score up or down by its bin's contribution."""

    feature: str
    direction: str  # "up" or "down"
    text: str
    impact: float

    def __str__(self) -> str:
        return f"{UP if self.direction == 'up' else DOWN} {self.text}"


def _compile_slots(
    active: list[int], edges: list[list[float]], offsets: list[int], nones: list[float | None]
) -> Callable[[list[float]], list[int]]:
    """One Python function giving each active feature's phrase slot for a feature vector (as a list): its bin,
    its "missing" slot for NaN or its "none" slot for nothing recorded. Compiled once, because a loop over the
    features was a sixth of the time of scoring one lead."""
    namespace: dict[str, Any] = {"bisect_right": bisect_right}
    lines = ["def slots(x):"]
    for k, (j, cuts, offset, none) in enumerate(zip(active, edges, offsets, nones, strict=True)):
        namespace[f"edges_{k}"] = cuts
        lines.append(f"    v = x[{j}]")
        binned = f"({offset + len(cuts) + 1} if v != v else {offset} + bisect_right(edges_{k}, v))"
        if none is not None:
            binned = f"({offset + len(cuts) + 2} if v == {float(none)!r} else {binned})"
        lines.append(f"    s{k} = {binned}")
    lines.append("    return [" + ", ".join(f"s{k}" for k in range(len(active))) + "]")
    exec(compile("\n".join(lines), "<aiqleads reason slots>", "exec"), namespace)
    slots: Callable[[list[float]], list[int]] = namespace["slots"]
    return slots


def _weight(bins: FeatureBins) -> tuple[list[float], float]:
    """The impacts a reason may carry: each bin's, and the none slot's when that state has words; a missing
    value (and an unworded none) weighs 0, so it is never chosen."""
    none = bins.none_impact if bins.none_phrase is not None else 0.0
    return [*bins.impacts, 0.0, none], none


class Explainer:
    """Both reason paths over the same tables. Only features that can ever reach `min_impact` take part: the
    others would never be named, so skipping them changes no answer and halves the work."""

    def __init__(self, explanations: Explanations, spec: FeatureSpec):
        if [bins.feature for bins in explanations.features] != spec.names:
            raise ValueError("explanations do not match the model's features")
        self.explanations = explanations
        self._limit = explanations.min_impact
        self._per_direction = explanations.per_direction
        self._active = [
            j for j, bins in enumerate(explanations.features) if max(abs(i) for i in _weight(bins)[0]) >= self._limit
        ]
        active = [explanations.features[j] for j in self._active]
        # One slot table for the active features: feature k's bins start at offsets[k], then "missing", "none".
        offsets: list[int] = []
        impacts: list[float] = []
        self._slot_feature: list[int] = []  # slot -> active feature position
        self._none_text: dict[int, str] = {}  # none slot -> its words
        for k, bins in enumerate(active):
            offsets.append(len(impacts))
            weights, _ = _weight(bins)
            impacts.extend(weights)
            self._slot_feature.extend([k] * len(weights))
            if bins.none_phrase is not None:
                self._none_text[len(impacts) - 1] = bins.none_phrase
        self._slot_impacts = impacts
        self._names = [bins.feature for bins in active]
        self._phrases = [phrase_of(spec.features[j]) for j in self._active]
        self._offsets = np.array(offsets, dtype=np.int64)
        # Edges are float32 values (fitted on float32 features), so comparing in float32 is exact in both paths.
        self._edges = [np.array(b.edges, dtype=np.float32) for b in active]
        self._nones = [b.none_value for b in active]
        self._feature_impacts = [np.array(_weight(b)[0], dtype=np.float64) for b in active]
        edges = [[float(e) for e in b.edges] for b in active]
        self._slots = _compile_slots(self._active, edges, offsets, self._nones)

    def factor(self, direction: int, slot: int, value: float) -> Factor:
        """The reason of `slot` for a lead whose feature has `value`."""
        k = self._slot_feature[slot]
        text = self._none_text.get(slot)
        if text is None:
            text = self._phrases[k](value)
        return Factor(self._names[k], DIRECTIONS[direction], text, self._slot_impacts[slot])

    def factors(self, vector: np.ndarray | list[float]) -> list[Factor]:
        """Reasons for one lead, strongest first: up to `per_direction` ups then as many downs. `vector` holds
        float32 values (the model's input), as an array or as a list of them."""
        values = vector.tolist() if isinstance(vector, np.ndarray) else vector
        slots = self._slots(values)
        impacts = list(map(self._slot_impacts.__getitem__, slots))
        per, limit = self._per_direction, self._limit
        # (strength, feature position) tuples: ties go to the earlier feature, as argmax does in the columnar path.
        strong = [i for i, impact in enumerate(impacts) if impact >= limit or impact <= -limit]
        ups = sorted([(-impacts[i], i) for i in strong if impacts[i] >= limit])[:per]
        downs = sorted([(impacts[i], i) for i in strong if impacts[i] <= -limit])[:per]
        active = self._active
        return [self.factor(0, slots[i], values[active[i]]) for _, i in ups] + [
            self.factor(1, slots[i], values[active[i]]) for _, i in downs
        ]

    def bins(self, matrix: np.ndarray) -> np.ndarray:
        """Slot (within its feature) of every active feature of every row, as a [active features, rows] array."""
        return self._binned(np.ascontiguousarray(matrix[:, self._active].T))

    def _binned(self, by_feature: np.ndarray) -> np.ndarray:
        bins = np.zeros(by_feature.shape, dtype=np.int16)
        for i, edges in enumerate(self._edges):
            column, k = by_feature[i], bins[i]
            # k = how many edges are <= x, i.e. bisect_right; a few vector compares beat a binary search here.
            for edge in edges:
                k += column >= edge
            k[np.isnan(column)] = len(edges) + 1  # the slot after the last bin
            none = self._nones[i]
            if none is not None:
                k[column == np.float32(none)] = len(edges) + 2
        return bins

    def choose(self, matrix: np.ndarray) -> Chosen:
        """Each row's reasons, strongest first (as `factors` orders them), as phrase slots of the active
        features with the values they name: the shared first step of every columnar rendering."""
        rows = len(matrix)
        picks: list[Pick] = []
        no_reason = np.ones(rows, dtype=bool)
        if not self._active:
            return Chosen(picks, no_reason)
        by_feature = np.ascontiguousarray(matrix[:, self._active].T)
        bins = self._binned(by_feature)
        impacts = np.empty(bins.shape, dtype=np.float64)
        for i, table in enumerate(self._feature_impacts):
            np.take(table, bins[i], out=impacts[i])
        columns = np.arange(rows)
        flat_bins, flat_values = bins.ravel(), by_feature.ravel()
        for direction, sign in enumerate((1.0, -1.0)):
            signed = impacts * sign
            flat = signed.ravel()
            for _ in range(self._per_direction):
                # Ties break by feature order in both paths: argmax takes the first maximum, sorted() is stable.
                best = np.argmax(signed, axis=0)
                cells = best * rows + columns  # flat positions: far cheaper than 2-D fancy indexing
                weak = flat[cells] < self._limit
                no_reason &= weak
                slots = self._offsets[best] + flat_bins[cells]
                picks.append(Pick(direction, slots, weak, best, flat_values[cells]))
                flat[cells] = -np.inf
        return Chosen(picks, no_reason)

    def _texts(self, pick: Pick, render: Callable[[Factor], str]) -> pa.Array:
        """One rendered reason per row of a pick (null where the row has none): each distinct value of each
        feature is worded once."""
        out = np.full(len(pick.slots), None, dtype=object)
        strong = np.flatnonzero(~pick.weak)
        features = pick.feature[strong]
        for k in np.unique(features):
            rows = strong[features == k]
            values, first, inverse = np.unique(pick.values[rows], return_index=True, return_inverse=True)
            slots = pick.slots[rows[first]]
            texts = [
                render(self.factor(pick.direction, int(slot), float(value)))
                for slot, value in zip(slots.tolist(), values.tolist(), strict=True)
            ]
            out[rows] = np.array(texts, dtype=object)[inverse.reshape(-1)]
        return pa.array(out, type=pa.string())

    def _render(self, chosen: Chosen, render: Callable[[Factor], str], separator: str) -> pa.Array:
        if not chosen.picks:
            return pa.array([""] * len(chosen.no_reason), type=pa.string())
        parts = [self._texts(pick, render) for pick in chosen.picks]
        # Arrow 26 drops (!) rows whose parts are all null when skipping nulls; an empty first part keeps them.
        parts[0] = pc.if_else(pa.array(chosen.no_reason), "", parts[0])
        return pc.binary_join_element_wise(*parts, separator, null_handling="skip")

    def reason_strings(self, matrix: np.ndarray | Chosen, separator: str = "; ") -> pa.Array:
        """The reasons of each row as one string ("+ A; + B; − C"), same order as `factors`."""
        chosen = matrix if isinstance(matrix, Chosen) else self.choose(matrix)
        return self._render(chosen, str, separator)

    def reason_json(self, chosen: Chosen) -> pa.Array:
        """The reasons of each row as the JSON list a score item stores: `json.dumps` of the Reason dumps of
        `factors`, byte for byte."""
        inner = self._render(chosen, lambda factor: json.dumps(factor._asdict()), ", ")
        return pc.binary_join_element_wise("[", inner, "]", "")
