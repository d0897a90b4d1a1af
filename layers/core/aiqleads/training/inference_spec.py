"""Infer a feature spec from any table of historical leads (bring your own CRM export).

Each column becomes a number, a date-time (month, weekday and hour) or a category, judged by what its cells
hold; columns that cannot help a model (empty, constant, id-like or free text) are dropped and reported, and so
are personal identifiers (names, emails, phones, addresses, ids: `identifiers.py`) unless the user includes one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.features.spec import Feature, FeatureSpec, InputType
from aiqleads.training.identifiers import personal_identifier
from aiqleads.validation import grammar

TYPE_SHARE = 0.95
MAX_CATEGORIES = 60
ID_NAMES = ("id", "uuid", "key", "guid")


@dataclass(frozen=True, slots=True)
class DroppedColumn:
    column: str
    reason: str
    # "unusable" (nothing a model can learn), "personal" (left out by default; `include` overrides) or "excluded"
    kind: str = "unusable"


def _feature_name(column: str, suffix: str = "") -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in column.strip().lower()).strip("_") or "column"
    if cleaned[0].isdigit():
        cleaned = "c_" + cleaned
    return cleaned + suffix


def _share(matches: pa.Array, present: int) -> float:
    return pc.sum(pc.cast(matches, pa.int64())).as_py() / present if present else 0.0


def _named_like_id(column: str) -> bool:
    name = column.strip().lower()
    return name in ID_NAMES or name.endswith(tuple(f"{sep}{n}" for n in ID_NAMES for sep in ("_", " ", "-")))


def infer_spec(
    table: pa.Table,
    label: str,
    id_column: str | None = None,
    exclude: tuple[str, ...] = (),
    include: tuple[str, ...] = (),
) -> tuple[FeatureSpec, list[DroppedColumn]]:
    """The spec of `table`'s usable columns and the columns left out, with why. `include` names columns to use
    even though they look like personal identifiers (the user's explicit choice); `exclude` wins over nothing:
    naming a column in both is refused."""
    unknown = sorted(set(include) - set(table.column_names))
    if unknown:
        raise ValueError(f"--include names no column of the data: {unknown}; columns are {table.column_names}")
    both = sorted(set(include) & set(exclude))
    if both:
        raise ValueError(f"columns both included and excluded: {both}")
    inputs: dict[str, InputType] = {}
    features: list[Feature] = []
    dropped: list[DroppedColumn] = []
    used_names: set[str] = set()
    for column in table.column_names:
        if column in (label, id_column):
            continue
        if column in exclude:
            dropped.append(DroppedColumn(column, "excluded on request", "excluded"))
            continue
        kind, why_not = _input_type(column, table.column(column), screen=column not in include)
        if kind is None:
            personal = why_not.startswith("personal identifier")
            dropped.append(DroppedColumn(column, why_not, "personal" if personal else "unusable"))
            continue
        inputs[column] = kind
        for suffix, fields in _features_of(column, kind):
            name = _feature_name(column, suffix)
            while name in used_names:
                name += "_"
            used_names.add(name)
            label_text = column + suffix.replace("_", " ")
            features.append(Feature.model_validate({"name": name, "label": label_text, **fields}))
    if not features:
        raise ValueError("no usable feature columns: every column was dropped " + str([d.column for d in dropped]))
    return FeatureSpec.model_validate({"schema": "table", "inputs": inputs, "features": features}), dropped


def _input_type(column: str, values: pa.ChunkedArray, *, screen: bool = True) -> tuple[InputType | None, str]:
    """The input type of a usable column, or None and why the column is dropped. `screen`: leave out personal
    identifiers (checked before the types, since a column of digit-only phone numbers would pass for numbers)."""
    text = pc.utf8_trim_whitespace(pc.cast(values.combine_chunks(), pa.string()))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    present = len(text) - text.null_count
    if present == 0:
        return None, "empty"
    distinct = len(pc.unique(pc.drop_null(text)))
    if distinct == 1:
        return None, "constant"
    personal = personal_identifier(column, pc.drop_null(text), distinct) if screen else None
    if personal:
        return None, personal
    if _share(pc.match_substring_regex(pc.drop_null(text), grammar.NUMBER_PATTERN), present) >= TYPE_SHARE:
        if distinct == present and _named_like_id(column):
            return None, "id-like (a different number on every row)"
        return "number", ""
    if _share(pc.match_substring_regex(pc.drop_null(text), grammar.DATETIME_PATTERN), present) >= TYPE_SHARE:
        return "datetime", ""
    if distinct == present:
        return None, "id-like or free text (a different value on every row)"
    if distinct > MAX_CATEGORIES and distinct > 0.2 * present:
        return None, f"free text or too many categories ({distinct} different values)"
    return "text", ""


def _features_of(column: str, kind: InputType) -> list[tuple[str, dict[str, object]]]:
    """The features (name suffix, spec fields) a usable column of this input type gives."""
    common: dict[str, object] = {"group": "custom", "source": "table", "inputs": [column]}
    if kind == "number":
        return [("", {**common, "kind": "numeric", "transform": "number"})]
    if kind == "datetime":
        return [
            (
                f"_{part}",
                {
                    **common,
                    "kind": "derived",
                    "transform": "datetime_part",
                    "part": part,
                    "format": {"month": "month", "weekday": "weekday"}.get(part, "integer"),
                },
            )
            for part in ("month", "weekday", "hour")
        ]
    return [("", {**common, "kind": "categorical", "transform": "category", "format": "category", "fit": "categories"})]
