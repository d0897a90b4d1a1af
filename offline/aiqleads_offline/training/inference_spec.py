"""Infer a feature spec from any table of historical leads (bring your own CRM export).

Each column becomes a number, a date-time (month, weekday and hour) or a category, judged by what its cells
hold; columns that cannot help a model (empty, constant, id-like or free text) are dropped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.features.spec import Feature, FeatureSpec, InputType
from aiqleads.validation import grammar

TYPE_SHARE = 0.95
MAX_CATEGORIES = 60
ID_NAMES = ("id", "uuid", "key", "guid")


@dataclass(frozen=True, slots=True)
class DroppedColumn:
    column: str
    reason: str


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
    table: pa.Table, label: str, id_column: str | None = None, exclude: tuple[str, ...] = ()
) -> tuple[FeatureSpec, list[DroppedColumn]]:
    inputs: dict[str, InputType] = {}
    features: list[Feature] = []
    dropped: list[DroppedColumn] = []
    used_names: set[str] = set()

    def add(column: str, suffix: str, **fields: object) -> None:
        name = _feature_name(column, suffix)
        while name in used_names:
            name += "_"
        used_names.add(name)
        features.append(Feature.model_validate({"name": name, "label": column + suffix.replace("_", " "), **fields}))

    for column in table.column_names:
        if column in (label, id_column):
            continue
        if column in exclude:
            dropped.append(DroppedColumn(column, "excluded on request"))
            continue
        text = pc.utf8_trim_whitespace(pc.cast(table.column(column).combine_chunks(), pa.string()))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        present = len(text) - text.null_count
        if present == 0:
            dropped.append(DroppedColumn(column, "empty"))
            continue
        distinct = len(pc.unique(pc.drop_null(text)))
        if distinct == 1:
            dropped.append(DroppedColumn(column, "constant"))
            continue
        if _share(pc.match_substring_regex(pc.drop_null(text), grammar.NUMBER_PATTERN), present) >= TYPE_SHARE:
            if distinct == present and _named_like_id(column):
                dropped.append(DroppedColumn(column, "id-like (a different number on every row)"))
                continue
            inputs[column] = "number"
            add(column, "", kind="numeric", group="custom", source="table", transform="number", inputs=[column])
            continue
        if _share(pc.match_substring_regex(pc.drop_null(text), grammar.DATETIME_PATTERN), present) >= TYPE_SHARE:
            inputs[column] = "datetime"
            for part in ("month", "weekday", "hour"):
                add(
                    column,
                    f"_{part}",
                    kind="derived",
                    group="custom",
                    source="table",
                    transform="datetime_part",
                    inputs=[column],
                    part=part,
                    format={"month": "month", "weekday": "weekday"}.get(part, "integer"),
                )
            continue
        if distinct == present:
            dropped.append(DroppedColumn(column, "id-like or free text (a different value on every row)"))
            continue
        if distinct > MAX_CATEGORIES and distinct > 0.2 * present:
            dropped.append(DroppedColumn(column, f"free text or too many categories ({distinct} different values)"))
            continue
        inputs[column] = "text"
        add(
            column,
            "",
            kind="categorical",
            group="custom",
            source="table",
            transform="category",
            inputs=[column],
            format="category",
            fit="categories",
        )
    if not features:
        raise ValueError("no usable feature columns: every column was dropped " + str([d.column for d in dropped]))
    return FeatureSpec.model_validate({"schema": "table", "inputs": inputs, "features": features}), dropped
