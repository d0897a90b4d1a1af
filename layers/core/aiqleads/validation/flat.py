"""The flat form of a lead (bulk files, training tables) and its per-record parser.

Flat files carry text; `lead_from_flat` turns one row into a validated `Lead` using the grammar in
`aiqleads.validation.grammar`, and reports every problem by its flat column name. The columnar validator
(`aiqleads.validation.columnar`) applies the same rules to whole Arrow batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS as BEHAVIOUR_COLUMNS
from aiqleads.features.market import MARKET_COLUMNS as MARKET_COLUMNS
from aiqleads.models import LEAD_FLAT_PATHS, Lead, flat_types
from aiqleads.validation import grammar
from aiqleads.validation.fields import field_errors

LEAD_COLUMNS: tuple[str, ...] = tuple(LEAD_FLAT_PATHS)
NUMERIC_LEAD_COLUMNS: tuple[str, ...] = tuple(c for c in LEAD_COLUMNS if flat_types(c) <= {int, float})
# Behaviour aggregates per lead and market signals joined by the lead's market (DynamoDB in the service;
# optional columns in files).
SIGNAL_COLUMNS: tuple[str, ...] = BEHAVIOUR_COLUMNS + MARKET_COLUMNS
LABEL_COLUMN = "converted"

# The feature spec's input type of each lead column, from its type in the model.
_LEAD_INPUTS = {
    c: "number" if c in NUMERIC_LEAD_COLUMNS else "datetime" if flat_types(c) == {datetime} else "text"
    for c in LEAD_COLUMNS
}
_NESTED_PATH = {flat: path for flat, path in LEAD_FLAT_PATHS.items() if len(path) == 2}
_FLAT_NAME: dict[tuple[str, ...], str] = {path: flat for flat, path in _NESTED_PATH.items()}


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidRow(ValueError):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def flat_field_name(loc: tuple[int | str, ...]) -> str:
    """Map a pydantic error location in the nested model to the flat column it came from."""
    parts = tuple(str(p) for p in loc)
    if parts[:2] in _FLAT_NAME:
        return _FLAT_NAME[parts[:2]]
    if not parts:
        return "contact"
    return parts[0]


def pydantic_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for item in field_errors(exc, name=flat_field_name):
        field, message = item["field"], item["message"]
        if field == "contact" and "reachable" in message:
            field = "email"
        errors.append(FieldError(field, message))
    return errors


def cell_value(cell: Any, kind: str) -> Any:
    """One flat cell as its input type (`number`, `datetime`, else text); a blank cell is None."""
    text = grammar.blank_to_none(cell if cell is None or isinstance(cell, str) else str(cell))
    if text is None:
        return None
    if kind == "number":
        return grammar.parse_number(text)
    if kind == "datetime":
        return grammar.parse_datetime(text)
    return text


def typed_cells(row: Mapping[str, Any], kinds: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The named cells of a row by their (name, input type); raise InvalidRow listing every bad one."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, kind in kinds:
        try:
            values[name] = cell_value(row.get(name), kind)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    if errors:
        raise InvalidRow(errors)
    return values


def lead_from_flat(row: Mapping[str, Any]) -> Lead:
    """Validate one flat row of text cells; raise InvalidRow listing every bad field."""
    values = {name: value for name, value in typed_cells(row, _LEAD_INPUTS.items()).items() if value is not None}
    if "beds" in values and values["beds"] == int(values["beds"]):
        values["beds"] = int(values["beds"])
    nested: dict[str, Any] = {"contact": {}, "property": {}}
    for column, value in values.items():
        path = _NESTED_PATH.get(column)
        if path is None:
            nested[column] = value
        else:
            nested[path[0]][path[1]] = value
    try:
        return Lead.model_validate(nested)
    except ValidationError as exc:
        raise InvalidRow(pydantic_errors(exc)) from None
