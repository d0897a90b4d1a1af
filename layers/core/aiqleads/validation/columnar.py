"""Columnar validation of flat rows: whole Arrow batches of text in, typed columns and field errors out.

Applies the rules of `aiqleads.models` / `aiqleads.validation.flat` (same grammar, same limits, same messages) to a batch
at once, so bulk files are validated at Arrow speed. A row is valid here exactly when `record_values` accepts it;
a test proves the two agree on generated data with invalid values. The one addition is a lead file's history
(`outcome`, `outcome_at`): a single lead to score has none, so only batches check it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.features.spec import FeatureSpec
from aiqleads.models import CREATED_AT_YEARS, LIMITS, TEXT_MAX, Intent, PropertyType, Timeline
from aiqleads.validation import grammar
from aiqleads.validation.flat import (
    LEAD_COLUMNS,
    NUMERIC_LEAD_COLUMNS,
    SIGNAL_COLUMNS,
    lead_from_flat,
    typed_cells,
)
from aiqleads.validation.labels import label_values

UTC_MICROS = pa.timestamp("us", tz="UTC")
_REQUIRED = ("id", "source", "market", "intent")
_ENUMS: dict[str, list[str]] = {
    "property_type": [t.value for t in PropertyType],
    "intent": [t.value for t in Intent],
    "timeline": [t.value for t in Timeline],
}
_SLUGS = ("source", "market")
# A lead file's history (a CRM export): what became of each lead and when. Stored as the lead's outcome
# (`storage.lead_items`), never a model input: no feature spec names them and features read only their inputs.
OUTCOME_COLUMNS = ("outcome", "outcome_at")
OUTCOME_ERROR = "Input should be 'converted' or 'lost' (or 1/0, yes/no, true/false)"


def enum_message(allowed: list[str]) -> str:
    quoted = [f"'{value}'" for value in allowed]
    return "Input should be " + (", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0])


@dataclass(slots=True)
class RowError:
    row: int
    field: str
    message: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"row": self.row, "field": self.field, "message": self.message}
        if self.value is not None:
            result["value"] = self.value[:200]
        return result


@dataclass(slots=True)
class ValidatedBatch:
    """Typed columns of every input row (the spec's inputs; for leads every lead column too), which rows are
    valid, and every error found.

    Invalid rows keep placeholder values in `typed` so that batch-wide work (features) runs without first
    copying the columns; `columns()` gives the valid rows only."""

    typed: dict[str, pa.Array]
    valid: np.ndarray
    errors: list[RowError] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.valid)

    @property
    def rows(self) -> int:
        """How many rows are valid."""
        return int(self.valid.sum())

    @property
    def all_valid(self) -> bool:
        return not self.errors and bool(self.valid.all())

    def columns(self) -> dict[str, pa.Array]:
        if self.all_valid:
            return dict(self.typed)
        keep = pa.array(self.valid)
        return {name: pc.filter(column, keep) for name, column in self.typed.items()}


class _Checks:
    """Collects per-field failure masks; the first failure of a field wins, like pydantic's one error per field."""

    def __init__(self, rows: int):
        self.rows = rows
        self.failures: list[tuple[str, str, np.ndarray, pa.Array | None]] = []
        self._failed_fields: dict[str, np.ndarray] = {}

    def fail(self, name: str, message: str, mask: pa.Array | np.ndarray, raw: pa.Array | None) -> None:
        if isinstance(mask, pa.Array) and not pc.any(mask).as_py():
            return  # the usual case, decided without leaving Arrow
        bad = _mask(mask)
        already = self._failed_fields.get(name)
        if already is not None:
            bad = bad & ~already
            self._failed_fields[name] = already | bad
        else:
            self._failed_fields[name] = bad
        if bad.any():
            self.failures.append((name, message, bad, raw))

    def any_failure(self) -> np.ndarray:
        result = np.zeros(self.rows, dtype=bool)
        for _, _, bad, _ in self.failures:
            result |= bad
        return result

    def errors(self, first_row: int) -> list[RowError]:
        found = []
        for name, message, bad, raw in self.failures:
            for index in np.flatnonzero(bad):
                value = raw[int(index)].as_py() if raw is not None else None
                found.append(RowError(first_row + int(index), name, message, value))
        found.sort(key=lambda e: e.row)
        return found


def _mask(values: pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(bool, copy=False)
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _raw(table: pa.Table, name: str) -> pa.Array:
    """The column as text, untouched (an absent column is all nulls)."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    column = table.column(name).combine_chunks()
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _blank_as_null(column: pa.Array) -> pa.Array:
    present = pc.not_equal(pc.binary_length(column), 0)
    if column.null_count:
        present = pc.fill_null(present, False)
    if column.offset or present.offset:
        return pc.if_else(present, column, pa.scalar(None, pa.string()))
    # Same strings, new validity bitmap: far cheaper than copying them through if_else.
    return pa.Array.from_buffers(pa.string(), len(column), [present.buffers()[1], *column.buffers()[1:]])


def _text(table: pa.Table, name: str) -> pa.Array:
    """The column trimmed, with blank cells as nulls."""
    return _blank_as_null(pc.utf8_trim_whitespace(_raw(table, name)))


def _matches(array: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(array, pattern)


def _number_column(table: pa.Table, name: str, checks: _Checks) -> tuple[pa.Array, pa.Array]:
    """(raw text for messages, float64 values) of a numeric column."""
    untrimmed = _blank_as_null(_raw(table, name))
    try:
        # Clean columns (no padding, no junk) convert in one step; anything else takes the careful path.
        values = pc.cast(untrimmed, pa.float64())
    except pa.ArrowInvalid:
        trimmed = _text(table, name)
        return trimmed, _number(trimmed, name, checks)
    finite = pc.is_finite(values)
    if pc.all(finite).as_py() is not False:
        return untrimmed, values
    checks.fail(name, grammar.NUMBER_ERROR, pc.invert(finite), untrimmed)
    return untrimmed, pc.if_else(finite, values, pa.scalar(None, pa.float64()))


def _number(array: pa.Array, name: str, checks: _Checks) -> pa.Array:
    grammar_ok = _matches(array, grammar.NUMBER_PATTERN)
    values = pc.cast(pc.if_else(grammar_ok, array, pa.scalar(None, pa.string())), pa.float64())
    checks.fail(name, grammar.NUMBER_ERROR, pc.and_(pc.is_valid(array), pc.invert(grammar_ok)), array)
    return values


def _created_at(array: pa.Array, checks: _Checks) -> pa.Array:
    grammar_ok = _matches(array, grammar.DATETIME_PATTERN)
    checks.fail("created_at", grammar.DATETIME_ERROR, pc.and_(pc.is_valid(array), pc.invert(grammar_ok)), array)
    text = pc.if_else(grammar_ok, array, pa.scalar(None, pa.string()))
    has_offset = pc.fill_null(_matches(text, grammar.HAS_OFFSET_PATTERN), True)
    if not pc.all(has_offset).as_py():
        date_only = pc.fill_null(_matches(text, grammar.DATE_ONLY_PATTERN), False)
        text = pc.if_else(date_only, pc.binary_join_element_wise(text, "T00:00:00", ""), text)
        has_offset = pc.fill_null(_matches(text, grammar.HAS_OFFSET_PATTERN), True)
        text = pc.if_else(has_offset, text, pc.binary_join_element_wise(text, "Z", ""))
    try:
        moments = pc.cast(text, UTC_MICROS)
    except pa.ArrowInvalid:
        # A calendar-impossible date (2026-02-30) fails the whole cast: parse this batch value by value.
        parsed: list[datetime | None] = []
        bad = np.zeros(len(text), dtype=bool)
        for index, value in enumerate(array.to_pylist()):
            if value is None or not grammar_ok[index].as_py():
                parsed.append(None)
                continue
            try:
                parsed.append(grammar.parse_datetime(value))
            except ValueError:
                parsed.append(None)
                bad[index] = True
        checks.fail("created_at", grammar.DATETIME_ERROR, bad, array)
        moments = pa.array(parsed, type=UTC_MICROS)
    low, high = CREATED_AT_YEARS
    years = pc.year(moments)
    out_of_range = pc.or_(pc.less(years, low), pc.greater(years, high))
    checks.fail("created_at", f"year must be between {low} and {high}", out_of_range, array)
    return moments


def _lead_columns(table: pa.Table, checks: _Checks) -> dict[str, pa.Array]:
    typed: dict[str, pa.Array] = {}
    null_text = pa.scalar(None, pa.string())
    for name in LEAD_COLUMNS:
        if name in NUMERIC_LEAD_COLUMNS:
            raw, values = _number_column(table, name, checks)
            if name == "beds":
                fractional = pc.not_equal(values, pc.floor(values))
                checks.fail(
                    name,
                    "Input should be a valid integer, got a number with a fractional part",
                    fractional,
                    raw,
                )
            low, high = LIMITS[name]
            checks.fail(name, f"Input should be greater than or equal to {low}", pc.less(values, low), raw)
            checks.fail(name, f"Input should be less than or equal to {high}", pc.greater(values, high), raw)
            typed[name] = values
            continue
        raw = _text(table, name)
        if name in _REQUIRED:
            checks.fail(name, "Field required", pc.is_null(raw), None)
        if name == "created_at":
            typed[name] = _created_at(raw, checks)
        else:
            if name in TEXT_MAX:
                limit = TEXT_MAX[name]
                too_long = pc.greater(pc.utf8_length(raw), limit)
                checks.fail(name, f"String should have at most {limit} characters", too_long, None)
            value = raw
            if name == "id":
                checks.fail(name, grammar.ID_ERROR, pc.invert(_matches(raw, grammar.ID_PATTERN)), raw)
            elif name in _SLUGS:
                value = pc.utf8_lower(raw)
                bad = pc.invert(_matches(value, grammar.SLUG_PATTERN))
                checks.fail(name, grammar.SLUG_ERROR, bad, raw)
            elif name == "email":
                checks.fail(name, grammar.EMAIL_ERROR, pc.invert(_matches(raw, grammar.EMAIL_PATTERN)), raw)
                value = pc.ascii_lower(raw)
            elif name == "phone":
                value = _phone(raw, checks)
            elif name in _ENUMS:
                allowed = _ENUMS[name]
                unknown = pc.invert(pc.is_in(raw, value_set=pa.array(allowed)))
                checks.fail(name, enum_message(allowed), pc.and_(pc.is_valid(raw), unknown), raw)
                if name == "timeline":
                    value = pc.fill_null(raw, Timeline.UNKNOWN.value)
            typed[name] = value
    unreachable = pc.and_(pc.is_null(typed["email"]), pc.is_null(typed["phone"]))
    unreachable_mask = _mask(unreachable) & ~checks.any_failure()
    checks.fail("email", "a lead needs an email or a phone to be reachable", unreachable_mask, None)
    typed["email"] = pc.if_else(pc.is_valid(typed["email"]), typed["email"], null_text)
    return typed


def _phone(raw: pa.Array, checks: _Checks) -> pa.Array:
    compact = raw
    for separator in grammar.PHONE_SEPARATORS:
        compact = pc.replace_substring(compact, separator, "")
    nanp = _matches(compact, grammar.NANP_PATTERN)
    ok = pc.or_(nanp, _matches(compact, grammar.INTERNATIONAL_PATTERN))
    checks.fail("phone", grammar.PHONE_ERROR, pc.invert(ok), raw)
    national = pc.binary_join_element_wise("+1", pc.utf8_slice_codeunits(compact, -10), "")
    return pc.if_else(nanp, national, compact)


def validate_batch(table: pa.Table, spec: FeatureSpec, first_row: int = 0) -> ValidatedBatch:
    """Validate a batch of text rows for `spec`; rows are numbered from `first_row` in the errors."""
    checks = _Checks(table.num_rows)
    if spec.schema_ == "lead":
        typed = _lead_columns(table, checks)
        for name in SIGNAL_COLUMNS:
            typed[name] = _number_column(table, name, checks)[1]
    else:
        typed = {}
    history = spec.schema_ == "lead" and any(name in table.column_names for name in OUTCOME_COLUMNS)
    if history:  # a file without the columns pays nothing for them
        typed |= _outcome_columns(table, typed["created_at"], checks)
    for name, kind in spec.inputs.items():
        if name in typed:
            continue
        if kind == "number":
            typed[name] = _number_column(table, name, checks)[1]
            continue
        raw = _text(table, name)
        if kind == "datetime":
            typed[name] = _created_at(raw, checks) if name == "created_at" else _generic_datetime(raw, name, checks)
        else:
            typed[name] = raw
    # A lead batch keeps every lead column too: its lead items are built from them.
    kept = [*spec.inputs, *(name for name in LEAD_COLUMNS if spec.schema_ == "lead" and name not in spec.inputs)]
    kept += [name for name in OUTCOME_COLUMNS if history and name not in kept]
    return ValidatedBatch(
        typed={name: typed[name] for name in kept},
        valid=~checks.any_failure(),
        errors=checks.errors(first_row),
    )


def _outcome_columns(table: pa.Table, created_at: pa.Array, checks: _Checks) -> dict[str, pa.Array]:
    """`outcome` as "converted" / "lost" / null (blank: no outcome known) in the forms `aiqleads train` reads,
    and `outcome_at` as a UTC moment (same grammar and years as created_at; null when not given)."""
    raw = _text(table, "outcome")
    values = label_values(raw)
    checks.fail("outcome", OUTCOME_ERROR, values.unknown, raw)
    null_text = pa.scalar(None, pa.string())
    outcome = pc.if_else(values.positive, "converted", pc.if_else(values.negative, "lost", null_text))
    raw_at = _text(table, "outcome_at")
    moments = _generic_datetime(raw_at, "outcome_at", checks)
    # A time without an outcome, or an outcome before the lead existed, is a mistake in the export: training
    # would learn from a label it cannot place in time.
    checks.fail("outcome_at", "outcome_at needs an outcome", pc.and_(pc.is_valid(raw_at), pc.is_null(raw)), raw_at)
    checks.fail("outcome_at", "outcome_at is before created_at", pc.less(moments, created_at), raw_at)
    return {"outcome": outcome, "outcome_at": moments}


def _generic_datetime(raw: pa.Array, name: str, checks: _Checks) -> pa.Array:
    inner = _Checks(len(raw))
    moments = _created_at(raw, inner)
    for _, message, bad, values in inner.failures:
        checks.fail(name, message, bad, values)
    return moments


def record_values(row: Mapping[str, Any], spec: FeatureSpec) -> dict[str, Any]:
    """The per-record twin of `validate_batch`: one row of text cells to typed input values, or InvalidRow."""
    if spec.schema_ == "lead":
        values: dict[str, Any] = lead_from_flat(row).flat()
        names = [*SIGNAL_COLUMNS, *(n for n in spec.inputs if n not in values and n not in SIGNAL_COLUMNS)]
    else:
        values, names = {}, list(spec.inputs)
    values.update(typed_cells(row, ((name, spec.inputs.get(name, "number")) for name in names)))
    return values
