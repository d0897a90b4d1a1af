"""Fit the reason-code tables: per feature, bins of its values and the mean contribution the model gave each."""

from __future__ import annotations

import itertools
import math

import numpy as np

from aiqleads.explain import Explanations, FeatureBins
from aiqleads.features.spec import Feature, FeatureSpec

QUANTILES = np.linspace(0.1, 0.9, 9)


def _fmt(value: float, fmt: str) -> str:
    if fmt == "money":
        if abs(value) >= 1_000_000:
            return f"${value / 1_000_000:.2g}M" if value < 10_000_000 else f"${value / 1_000_000:.0f}M"
        if abs(value) >= 1_000:
            return f"${value / 1_000:.0f}k"
        return f"${value:.0f}"
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "ratio":
        return f"{value:.2f}×"
    if fmt == "minutes":
        return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"
    if fmt == "hours":
        return f"{value:.0f} h" if value < 48 else f"{value / 24:.0f} days"
    if fmt == "integer":
        return f"{value:.0f}"
    return f"{value:.3g}"


def _numeric_phrases(label: str, edges: list[float], fmt: str) -> list[str]:
    if fmt == "integer":
        # Integer data: bin [lo, hi) holds lo .. ceil(hi) - 1.
        phrases = []
        bounds = [-math.inf, *edges, math.inf]
        for lo, hi in itertools.pairwise(bounds):
            first = math.ceil(lo) if math.isfinite(lo) else None
            last = math.ceil(hi) - 1 if math.isfinite(hi) else None
            if first is None:
                phrases.append(f"{label}: {last:.0f} or fewer" if last is not None else label)
            elif last is None:
                phrases.append(f"{label}: {first:.0f} or more")
            elif first >= last:
                phrases.append(f"{label}: {first:.0f}")
            else:
                phrases.append(f"{label}: {first:.0f} to {last:.0f}")
        return phrases
    phrases = [f"{label}: under {_fmt(edges[0], fmt)}"]
    phrases += [f"{label}: {_fmt(lo, fmt)} to {_fmt(hi, fmt)}" for lo, hi in itertools.pairwise(edges)]
    phrases.append(f"{label}: {_fmt(edges[-1], fmt)} or more")
    return phrases


def _bins(feature: Feature, values: np.ndarray) -> tuple[list[float], list[str]]:
    if feature.transform == "category":
        categories = feature.categories or []
        edges = [i + 0.5 for i in range(len(categories) - 1)]
        return edges, [f"{feature.label}: {c}" for c in categories] or [feature.label]
    if feature.format == "yes_no" or feature.kind == "boolean":
        return [0.5], [f"{feature.label}: no", f"{feature.label}: yes"]
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return [], [feature.label]
    edges = sorted({float(np.float32(q)) for q in np.quantile(present, QUANTILES)})
    edges = [e for e in edges if e > present.min()]
    if not edges:
        return [], [f"{feature.label}: {_fmt(float(present.min()), feature.format)}"]
    return edges, _numeric_phrases(feature.label, edges, feature.format)


def fit_explanations(spec: FeatureSpec, matrix: np.ndarray, contributions: np.ndarray) -> Explanations:
    tables = []
    for j, feature in enumerate(spec.features):
        values = matrix[:, j].astype(np.float64)
        edges, phrases = _bins(feature, values)
        missing = np.isnan(values)
        slots = np.searchsorted(np.array(edges, dtype=np.float64), values, side="right")
        impacts = []
        for k in range(len(edges) + 1):
            chosen = (slots == k) & ~missing
            impacts.append(round(float(contributions[chosen, j].mean()), 4) if chosen.any() else 0.0)
        missing_impact = round(float(contributions[missing, j].mean()), 4) if missing.any() else 0.0
        tables.append(
            FeatureBins(
                feature=feature.name,
                edges=edges,
                impacts=impacts,
                phrases=phrases,
                missing_impact=missing_impact,
                missing_phrase=f"{feature.label}: unknown",
            )
        )
    return Explanations(features=tables)
