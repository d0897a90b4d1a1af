"""The per-record feature path: one lead, lowest latency, plain Python over the spec.

`values` maps each input column of the spec to its typed value (float, str, datetime or None). Produces the
same float32 vector as `aiqleads.features.columnar` does for that row (a test proves it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from aiqleads.features.spec import Feature, FeatureSpec

NAN = math.nan
RecordValues = Mapping[str, Any]
Step = Callable[[RecordValues], float]


def _or_nan(value: float | None) -> float:
    return NAN if value is None else value


def _number(f: Feature) -> Step:
    column, fill = f.inputs[0], _or_nan(f.fill)

    def step(values: RecordValues) -> float:
        value = values.get(column)
        return fill if value is None else float(value)

    return step


def _category(f: Feature) -> Step:
    column = f.inputs[0]
    index = {c: float(i) for i, c in enumerate(f.categories or [])}
    return lambda values: index.get(values.get(column), NAN)  # type: ignore[arg-type]


def _lookup(f: Feature) -> Step:
    column, table, default = f.inputs[0], dict(f.table or {}), _or_nan(f.default)
    return lambda values: table.get(values.get(column), default)  # type: ignore[arg-type]


def _present(f: Feature) -> Step:
    column = f.inputs[0]
    return lambda values: 0.0 if values.get(column) is None else 1.0


def _ratio(f: Feature) -> Step:
    top_column, bottom_column = f.inputs

    def step(values: RecordValues) -> float:
        top, bottom = values.get(top_column), values.get(bottom_column)
        if top is None or bottom is None or bottom == 0:
            return NAN
        return float(top) / float(bottom)

    return step


def _sum(f: Feature) -> Step:
    columns = f.inputs

    def step(values: RecordValues) -> float:
        total = 0.0
        for column in columns:
            value = values.get(column)
            if value is not None:
                total += float(value)
        return total

    return step


def _completeness(f: Feature) -> Step:
    columns, count = f.inputs, len(f.inputs)
    return lambda values: sum(1 for c in columns if values.get(c) is not None) / count


def _keyword_count(f: Feature) -> Step:
    column = f.inputs[0]
    pattern = re.compile(FeatureSpec.keyword_pattern(f.keywords or []))

    def step(values: RecordValues) -> float:
        text = values.get(column)
        if text is None:
            return 0.0
        return float(sum(1 for _ in pattern.finditer(text.lower())))

    return step


def _email_domain_in(f: Feature) -> Step:
    column, domains = f.inputs[0], frozenset(f.domains or [])

    def step(values: RecordValues) -> float:
        email = values.get(column)
        if email is None:
            return 0.0
        return 1.0 if email.rpartition("@")[2].lower() in domains else 0.0

    return step


def _datetime_part(f: Feature) -> Step:
    column, part = f.inputs[0], f.part

    def step(values: RecordValues) -> float:
        moment = values.get(column)
        if moment is None:
            return NAN
        if part == "hour":
            return float(moment.hour)
        if part == "weekday":
            return float(moment.weekday())
        return float(moment.month)

    return step


COMPILERS: dict[str, Callable[[Feature], Step]] = {
    "number": _number,
    "category": _category,
    "lookup": _lookup,
    "present": _present,
    "ratio": _ratio,
    "sum": _sum,
    "completeness": _completeness,
    "keyword_count": _keyword_count,
    "email_domain_in": _email_domain_in,
    "datetime_part": _datetime_part,
}


class RecordFeatures:
    """Builds one feature vector per call; the spec's transforms are compiled once."""

    def __init__(self, spec: FeatureSpec):
        if not spec.fitted:
            raise ValueError("the feature spec has unfitted parameters; train a model to fit them")
        self.spec = spec
        self._steps = [COMPILERS[f.transform](f) for f in spec.features]

    def values(self, values: RecordValues) -> list[float]:
        return [step(values) for step in self._steps]

    def vector(self, values: RecordValues) -> np.ndarray:
        """A [1, n_features] float32 matrix, ready for the model."""
        return np.array([self.values(values)], dtype=np.float32)
