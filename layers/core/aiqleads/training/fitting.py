"""Learn a spec's data-dependent parameters (category lists, historical conversion rates) from training rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.features.spec import Feature, FeatureSpec

MIN_CATEGORY_COUNT = 20
MAX_CATEGORIES = 60
RATE_SMOOTHING = 50.0


def _value_counts(column: pa.Array, labels: np.ndarray) -> list[tuple[str, int, int]]:
    """(value, rows, positives) per non-null value."""
    table = pa.table({"value": column, "label": pa.array(labels.astype(np.int64))})
    grouped = (
        table.filter(pc.is_valid(table["value"])).group_by("value").aggregate([("label", "count"), ("label", "sum")])
    )
    return list(
        zip(
            grouped["value"].to_pylist(),
            grouped["label_count"].to_pylist(),
            grouped["label_sum"].to_pylist(),
            strict=True,
        )
    )


def _fit_feature(feature: Feature, columns: dict[str, pa.Array], labels: np.ndarray) -> Feature:
    if feature.fit is None:
        return feature
    counts = _value_counts(columns[feature.inputs[0]], labels)
    if feature.fit == "categories":
        frequent = sorted((c for c in counts if c[1] >= MIN_CATEGORY_COUNT), key=lambda c: (-c[1], c[0]))
        return feature.model_copy(update={"categories": [c[0] for c in frequent[:MAX_CATEGORIES]], "fit": None})
    prior = float(labels.mean())
    table = {
        value: round((positives + RATE_SMOOTHING * prior) / (rows + RATE_SMOOTHING), 6)
        for value, rows, positives in sorted(counts)
        if rows >= MIN_CATEGORY_COUNT
    }
    return feature.model_copy(update={"table": table, "default": round(prior, 6), "fit": None})


def fit_spec(spec: FeatureSpec, columns: dict[str, pa.Array], labels: np.ndarray) -> FeatureSpec:
    """A copy of `spec` with every `fit` parameter learnt from these (training) rows."""
    fitted = [_fit_feature(f, columns, labels) for f in spec.features]
    return spec.model_copy(update={"features": fitted})
