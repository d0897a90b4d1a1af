"""The training baseline a model is monitored against, stored in its manifest (`Manifest.baseline`).

Training bins each feature at the deciles of its held-out values (fewer bins when values repeat: a boolean has two)
and the probability at its deciles, and records each bin's share of the rows, with the share of missing values
apart. Monitoring counts live values into the same bins (`Bins.shares`), so the two distributions compare bin by
bin (`monitoring.drift`). Edges are upper bounds, inclusive: bin i holds edges[i-1] < x <= edges[i], the last bin
everything above the last edge.

Every score written with such a model records which bin each of its inputs fell in (`InputCodes`: one character
a feature, the score item's `inputs`), so monitoring counts what the model actually saw, including behaviour and
market values a bulk file carried that the store never kept, without featurising a lead again.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

BINS = 10
MISSING_CODE = ord("-")
FIRST_CODE = ord("0")  # bin i is chr(48 + i): at most BINS bins, "0" to "9"


class Bins(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edges: list[float] = Field(description="upper bounds of every bin but the last, ascending")
    shares: list[float] = Field(description="each bin's share of the non-missing values (len(edges) + 1)")
    missing: float = Field(0.0, ge=0.0, le=1.0, description="the share of values that were missing")
    rows: int = Field(ge=0, description="values counted")

    @classmethod
    def fit(cls, values: np.ndarray, bins: int = BINS) -> Bins:
        """Decile bins of `values` (NaN counted as missing) and their shares."""
        values = np.asarray(values, dtype=np.float64)
        present = values[~np.isnan(values)]
        if present.size == 0:
            return cls(edges=[], shares=[0.0], missing=1.0 if values.size else 0.0, rows=int(values.size))
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
        edges = np.unique(quantiles)
        if edges[-1] >= present.max():  # a top edge at the maximum leaves the last bin empty by construction
            edges = edges[:-1]
        shares, missing = _shares(values, edges)
        return cls(edges=[float(e) for e in edges], shares=shares, missing=missing, rows=int(values.size))

    def shares_of(self, values: np.ndarray) -> tuple[list[float], float]:
        """The shares of live `values` in these bins, and their share missing."""
        return _shares(np.asarray(values, dtype=np.float64), np.asarray(self.edges, dtype=np.float64))

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """Each value's bin index (NaN: -1)."""
        values = np.asarray(values, dtype=np.float64)
        index = np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="left")
        return np.where(np.isnan(values), -1, index)


def _shares(values: np.ndarray, edges: np.ndarray) -> tuple[list[float], float]:
    missing = np.isnan(values)
    present = values[~missing]
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    total = max(int(present.size), 1)
    share_missing = float(missing.mean()) if values.size else 0.0
    return [round(float(c) / total, 6) for c in counts], round(share_missing, 6)


class Baseline(BaseModel):
    """What training saw on its held-out rows: each feature's bins, the probability's, the AUC it measured."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, Bins]
    probability: Bins
    roc_auc: float | None = Field(None, description="the held-out ROC AUC (the manifest's metrics say the same)")

    @classmethod
    def fit(
        cls, names: list[str], matrix: np.ndarray, probabilities: np.ndarray, roc_auc: float | None = None
    ) -> Baseline:
        features = {name: Bins.fit(matrix[:, column]) for column, name in enumerate(names)}
        return cls(features=features, probability=Bins.fit(probabilities), roc_auc=roc_auc)


class InputCodes:
    """A model's inputs -> one character a feature: its baseline bin ("0" to "9") or "-" when missing."""

    def __init__(self, baseline: Baseline, names: list[str]):
        self.names = names
        bins = [baseline.features[name] for name in names]
        width = max([len(b.edges) for b in bins] + [1])
        self.edges = np.full((len(names), width), np.inf)
        for row, feature in enumerate(bins):
            self.edges[row, : len(feature.edges)] = feature.edges

    def row(self, vector: np.ndarray) -> str:
        values = np.asarray(vector, dtype=np.float64)
        codes = (values[:, None] > self.edges).sum(axis=1) + FIRST_CODE
        codes[np.isnan(values)] = MISSING_CODE
        return codes.astype(np.uint8).tobytes().decode("ascii")

    def rows(self, matrix: np.ndarray) -> np.ndarray:
        """Each row's codes, as fixed-width bytes (numpy `S<features>`)."""
        values = np.asarray(matrix, dtype=np.float64)
        codes = np.full(values.shape, FIRST_CODE, dtype=np.uint8)
        for column in range(values.shape[1]):  # a column at a time: a [rows, features, edges] cube is 30x larger
            codes[:, column] += np.searchsorted(self.edges[column], values[:, column], side="left").astype(np.uint8)
        codes[np.isnan(values)] = MISSING_CODE
        return np.ascontiguousarray(codes).view(f"S{values.shape[1]}").ravel()

    def counts(self, codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per feature, how many of `codes` fell in each bin ([features, BINS]) and how many were missing."""
        width = len(self.names)
        table = np.frombuffer("".join(codes).encode("ascii"), dtype=np.uint8).reshape(-1, width)
        missing = (table == MISSING_CODE).sum(axis=0)
        index = np.where(table == MISSING_CODE, BINS, table.astype(np.int64) - FIRST_CODE)
        counts = np.stack([np.bincount(index[:, f], minlength=BINS + 1)[:BINS] for f in range(width)])
        return counts, missing
