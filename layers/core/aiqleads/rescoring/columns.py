"""Stored leads -> the batch path's input: a table of text cells in the flat form, as a bulk file would give it.

The leads' wire JSON is parsed by Arrow's JSON reader in one call (no `Lead` per row) against a schema derived
from the lead model's flat paths, flattened, and every column turned to text; each lead's behaviour inputs (its
current totals) and its market's latest signals join as the optional signal columns a file may carry.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS, BehaviourTotals, parse_time
from aiqleads.features.market import MARKET_COLUMNS
from aiqleads.models import LEAD_FLAT_PATHS, flat_types


@cache
def _schema() -> tuple[pa.Schema, dict[str, str]]:
    """The wire JSON's schema (numbers as float64: Arrow will not read a JSON number as a string) and each
    flattened column's flat name."""
    top: dict[str, pa.DataType] = {}
    nested: dict[str, list[pa.Field]] = {}
    names: dict[str, str] = {}
    for flat, path in LEAD_FLAT_PATHS.items():
        kind = pa.float64() if flat_types(flat) <= {int, float} else pa.string()
        if len(path) == 1:
            top[path[0]] = kind
        else:
            nested.setdefault(path[0], []).append(pa.field(path[1], kind))
        names[".".join(path)] = flat
    fields = [pa.field(name, kind) for name, kind in top.items()]
    fields += [pa.field(name, pa.struct(members)) for name, members in nested.items()]
    return pa.schema(fields), names


def lead_table(
    lead_json: Sequence[str],
    totals: Sequence[BehaviourTotals | None],
    signals: Sequence[Mapping[str, float] | None],
    now: datetime,
    half_life_days: float,
) -> pa.Table:
    """One text row per lead: its flat lead columns, then BEHAVIOUR_COLUMNS and MARKET_COLUMNS (`totals` and
    `signals` aligned with the leads; None leaves them missing, as for an untracked lead or a market without
    signals)."""
    schema, names = _schema()
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    body = ("\n".join(lead_json) + "\n").encode()
    parsed = pj.read_json(io.BytesIO(body), parse_options=options).flatten()
    columns: dict[str, pa.Array] = {}
    for name, column in zip(parsed.column_names, parsed.columns, strict=True):
        if name in names:
            text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
            columns[names[name]] = text.combine_chunks()
    created = [parse_time(value) for value in columns["created_at"].to_pylist()]
    behaviour = [
        None if t is None else t.signals(c, now, half_life_days=half_life_days)
        for t, c in zip(totals, created, strict=True)
    ]
    for name in BEHAVIOUR_COLUMNS:
        columns[name] = _text([None if b is None else b.get(name) for b in behaviour])
    for name in MARKET_COLUMNS:
        columns[name] = _text([None if s is None else s.get(name) for s in signals])
    return pa.table(columns)


def _text(values: Sequence[float | None]) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.float64()), pa.string())
