"""Fit the reason-code tables: per feature, bins of its values and the mean contribution the model gave each."""

from __future__ import annotations

import itertools
import math

import numpy as np

from aiqleads.features.spec import Feature, FeatureSpec
from aiqleads.scoring.phrases import MONTHS, WEEKDAYS
from aiqleads.scoring.reasons import Explanations, FeatureBins

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


def _whole(value: int, fmt: str) -> str:
    if fmt == "month" and 1 <= value <= 12:
        return MONTHS[value - 1]
    if fmt == "weekday" and 0 <= value <= 6:
        return WEEKDAYS[value]
    return str(value)


def _whole_number_phrases(label: str, edges: list[float], fmt: str, lowest: int, highest: int) -> list[str]:
    """Bins of whole numbers: bin [lo, hi) holds ceil(lo) .. ceil(hi) - 1, clipped to the values seen."""
    phrases = []
    bounds = [-math.inf, *edges, math.inf]
    for lo, hi in itertools.pairwise(bounds):
        first = math.ceil(lo) if math.isfinite(lo) else lowest
        last = math.ceil(hi) - 1 if math.isfinite(hi) else highest
        if first >= last:
            phrases.append(f"{label}: {_whole(first, fmt)}")
        elif not math.isfinite(hi) and fmt == "integer":
            phrases.append(f"{label}: {first} or more")
        else:
            phrases.append(f"{label}: {_whole(first, fmt)} to {_whole(last, fmt)}")
    return phrases


def _numeric_phrases(label: str, edges: list[float], fmt: str) -> list[str]:
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
    whole = feature.format in ("integer", "month", "weekday") and bool(np.all(present == np.round(present)))
    if whole:
        lowest, highest = int(present.min()), int(present.max())
        if not edges:
            return [], [f"{feature.label}: {_whole(lowest, feature.format)}"]
        return edges, _whole_number_phrases(feature.label, edges, feature.format, lowest, highest)
    if not edges:
        return [], [f"{feature.label}: {_fmt(float(present.min()), feature.format)}"]
    return edges, _numeric_phrases(feature.label, edges, feature.format)


def fit_explanations(spec: FeatureSpec, matrix: np.ndarray, contributions: np.ndarray) -> Explanations:
    """Per feature: bins of its known values and their mean contribution; a behaviour feature's "nothing
    recorded" (its none value) is a slot of its own, worded by the spec's `none_reason` (or never a reason)."""
    tables = []
    for j, feature in enumerate(spec.features):
        values = matrix[:, j].astype(np.float64)
        none_value = feature.none_value
        none = values == none_value if none_value is not None else np.zeros(len(values), dtype=bool)
        missing = np.isnan(values)
        known = ~missing & ~none
        edges, phrases = _bins(feature, np.where(known, values, np.nan))
        slots = np.searchsorted(np.array(edges, dtype=np.float64), values, side="right")
        impacts = []
        for k in range(len(edges) + 1):
            chosen = (slots == k) & known
            impacts.append(_mean(contributions[chosen, j]))
        tables.append(
            FeatureBins(
                feature=feature.name,
                edges=edges,
                impacts=impacts,
                phrases=phrases,
                missing_impact=_mean(contributions[missing, j]),
                missing_phrase=f"{feature.label}: unknown",
                none_value=none_value,
                none_impact=_mean(contributions[none, j]),
                none_phrase=feature.none_reason,
            )
        )
    return Explanations(features=tables)


def _mean(values: np.ndarray) -> float:
    return round(float(values.mean()), 4) if len(values) else 0.0
