"""The synthetic lead generator: layout, determinism, validity, file formats and the planted signal."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from aiqleads.features.spec import default_spec
from aiqleads.validation import grammar
from aiqleads.validation.columnar import validate_batch
from aiqleads.validation.flat import (
    BEHAVIOUR_COLUMNS,
    LABEL_COLUMN,
    LEAD_COLUMNS,
    MARKET_COLUMNS,
    InvalidRow,
    lead_from_flat,
)
from aiqleads_offline.generate import (
    BLOCK,
    CORRUPTIONS,
    DISPOSABLE_DOMAINS,
    columns,
    generate_file,
    generate_table,
    write_table,
)

FORMATS = [".csv", ".jsonl", ".parquet"]
LAUNCH_MARKETS = {"las-vegas", "dallas-fort-worth", "austin", "phoenix"}


@pytest.fixture(scope="module")
def large() -> pa.Table:
    return generate_table(60_000, 11, invalid_rate=0.0)


def _column(table: pa.Table, name: str) -> list[str | None]:
    return table.column(name).to_pylist()


def _rate(mask: np.ndarray) -> float:
    return float(np.mean(mask))


def test_columns_types_and_rows() -> None:
    table = generate_table(123, 1)
    assert table.num_rows == 123
    assert tuple(table.column_names) == (*LEAD_COLUMNS, *BEHAVIOUR_COLUMNS, *MARKET_COLUMNS, LABEL_COLUMN)
    assert all(field.type == pa.string() for field in table.schema)
    leads = generate_table(50, 1, leads_only=True)
    assert tuple(leads.column_names) == LEAD_COLUMNS
    empty = generate_table(0, 1)
    assert empty.num_rows == 0
    assert empty.schema == table.schema


# What users see in generated files (and, with the score columns after them, in scored files): written out once
# here so that a change to the models or the spec that moves a column fails loudly.
USER_COLUMNS = (
    *("id", "source", "created_at", "name", "email", "phone", "property_type", "price", "beds", "baths", "sqft"),
    *("lat", "lon", "market", "intent", "timeline", "description"),
    *("views", "clicks", "inquiries", "messages", "schedules", "sessions"),
    *("minutes_to_first_contact", "hours_since_last_activity"),
    *("market_median_price", "market_inventory", "market_days_on_market", "market_price_trend"),
    *("market_inquiries_per_listing", "converted"),
)


def test_the_columns_users_see_keep_their_order() -> None:
    assert columns() == USER_COLUMNS
    assert columns(leads_only=True) == USER_COLUMNS[:17]


def test_the_spec_reads_exactly_the_flat_columns() -> None:
    spec = default_spec()
    assert tuple(spec.inputs) == (*LEAD_COLUMNS, *BEHAVIOUR_COLUMNS, *MARKET_COLUMNS)
    for group, expected in (("behaviour", BEHAVIOUR_COLUMNS), ("market", MARKET_COLUMNS)):
        read = {name for feature in spec.features if feature.source == group for name in feature.inputs}
        assert read == set(expected), group


def test_ids_are_unique_and_rows_do_not_depend_on_the_row_count() -> None:
    small = generate_table(300, 4)
    big = generate_table(BLOCK + 300, 4)
    assert small.equals(big.slice(0, 300))
    ids = _column(big, "id")
    assert ids[0] == "gen-4-00000000"
    assert ids[-1] == f"gen-4-{BLOCK + 299:08d}"
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("suffix", FORMATS)
def test_same_seed_same_bytes(tmp_path: Path, suffix: str) -> None:
    paths = [tmp_path / f"{name}{suffix}" for name in ("a", "b", "c")]
    write_table(generate_table(2_000, 5), paths[0])
    write_table(generate_table(2_000, 5), paths[1])
    write_table(generate_table(2_000, 6), paths[2])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_generated_rows_validate_exactly_unless_corrupted() -> None:
    rows = 3_000
    corrupted_table = generate_table(rows, 21, invalid_rate=0.05)
    clean_table = generate_table(rows, 21, invalid_rate=0.0)
    corrupted, clean = corrupted_table.to_pylist(), clean_table.to_pylist()
    allowed = set(CORRUPTIONS)
    expected_invalid = np.zeros(rows, dtype=bool)
    kinds: Counter[str] = Counter()
    for index, (bad, good) in enumerate(zip(corrupted, clean, strict=True)):
        lead_from_flat(good)  # every uncorrupted row is a valid lead
        changed = [name for name in bad if bad[name] != good[name]]
        if not changed:
            lead_from_flat(bad)
            continue
        assert len(changed) == 1, changed  # exactly one corrupted field
        name = changed[0]
        assert (name, bad[name]) in allowed
        expected_invalid[index] = True
        kinds[name] += 1
        with pytest.raises(InvalidRow) as caught:
            lead_from_flat(bad)
        assert {error.field for error in caught.value.errors} == {name}
    assert 0.03 < _rate(expected_invalid) < 0.07
    assert set(kinds) == {name for name, _ in CORRUPTIONS}
    # The columnar validator agrees row for row.
    assert np.array_equal(validate_batch(corrupted_table, default_spec()).valid, ~expected_invalid)


def test_default_invalid_rate_is_about_one_percent(large: pa.Table) -> None:
    table = generate_table(large.num_rows, 11)
    changed = np.zeros(table.num_rows, dtype=bool)
    for name in LEAD_COLUMNS:
        changed |= np.array(_column(table, name), dtype=object) != np.array(_column(large, name), dtype=object)
    assert 0.007 < _rate(changed) < 0.013
    # invalid_rate only picks rows to corrupt: behaviour, market and label are untouched.
    for name in (*BEHAVIOUR_COLUMNS, *MARKET_COLUMNS, LABEL_COLUMN):
        assert table.column(name).equals(large.column(name))


def test_conversion_rate_and_signal_directions(large: pa.Table) -> None:
    converted = np.array(_column(large, LABEL_COLUMN)) == "1"
    assert 0.10 < _rate(converted) < 0.20

    def rate_where(name: str, value: str) -> float:
        return _rate(converted[np.array(_column(large, name)) == value])

    assert rate_where("source", "referral") > rate_where("source", "zillow") > rate_where("source", "craigslist")
    assert rate_where("timeline", "asap") > rate_where("timeline", "6-12 months")
    engaged = np.array([int(v or 0) for v in _column(large, "schedules")]) > 0
    assert _rate(converted[engaged]) > 1.5 * _rate(converted[~engaged])
    emails = [email or "" for email in _column(large, "email")]
    disposable = np.array([email.endswith(DISPOSABLE_DOMAINS) for email in emails])
    assert disposable.any()
    assert _rate(converted[disposable]) < _rate(converted[~disposable])
    descriptions = [(text or "").lower() for text in _column(large, "description")]
    motivated = np.array(["motivated" in d or "cash" in d or "divorce" in d for d in descriptions])
    assert _rate(converted[motivated]) > _rate(converted[~motivated])


def test_missing_values_are_plausible(large: pa.Table) -> None:
    def missing(name: str) -> np.ndarray:
        return np.asarray(pc.is_null(large.column(name)))

    assert not (missing("email") & missing("phone")).any()
    for name in ("name", "price", "sqft", "lat", "timeline"):
        assert 0.02 < _rate(missing(name)) < 0.09, name
    for name in ("id", "source", "market", "intent", LABEL_COLUMN):
        assert not missing(name).any(), name
    assert np.array_equal(missing("lat"), missing("lon"))
    markets = np.array(_column(large, "market"))
    launch = np.isin(markets, sorted(LAUNCH_MARKETS))
    assert 0.05 < _rate(~launch) < 0.11
    for name in MARKET_COLUMNS:
        assert np.array_equal(missing(name), ~launch), name
    land = np.array(_column(large, "property_type")) == "land"
    assert land.any()
    assert missing("beds")[land].all()
    assert missing("baths")[land].all()
    contacted = ~missing("minutes_to_first_contact")
    assert 0.5 < _rate(contacted) < 0.9


def test_text_formats(large: pa.Table) -> None:
    phones = [p for p in _column(large, "phone") if p is not None]
    shapes = Counter(re.sub(r"\d", "9", p) for p in phones)
    assert {"(999) 999-9999", "999.999.9999", "+9 999 999 9999", "9999999999"} <= set(shapes)
    assert all(grammar.normalize_phone(p).startswith("+1") for p in phones[:2_000])
    stamps = [c for c in _column(large, "created_at") if c is not None]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", c) for c in stamps)
    moments = [datetime.fromisoformat(c) for c in stamps]
    assert min(moments) >= datetime(2025, 1, 1, tzinfo=UTC)
    assert max(moments) < datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=700)
    beds = {b for b in _column(large, "beds") if b is not None}
    assert all(b.isdigit() for b in beds)
    assert {"1", "1.5", "2", "2.5"} <= {b for b in _column(large, "baths") if b is not None}


def test_start_and_days() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    table = generate_table(2_000, 3, start=start, days=10, invalid_rate=0.0)
    moments = [datetime.fromisoformat(c) for c in _column(table, "created_at") if c is not None]
    assert min(moments) >= start
    assert max(moments) < start + timedelta(days=10)


@pytest.mark.parametrize("suffix", FORMATS)
def test_generate_file_in_chunks_equals_the_table(tmp_path: Path, suffix: str) -> None:
    rows, chunk_rows = BLOCK + 700, BLOCK // 3 + 7  # chunks that straddle block boundaries
    chunked, whole = tmp_path / f"chunked{suffix}", tmp_path / f"whole{suffix}"
    generate_file(rows, 9, chunked, chunk_rows=chunk_rows)
    table = generate_table(rows, 9)
    write_table(table, whole)
    if suffix == ".parquet":
        assert pq.read_table(chunked).equals(table)
        again = tmp_path / f"again{suffix}"
        generate_file(rows, 9, again, chunk_rows=chunk_rows)
        assert again.read_bytes() == chunked.read_bytes()
    else:
        assert chunked.read_bytes() == whole.read_bytes()


def test_generate_file_leads_only(tmp_path: Path) -> None:
    path = tmp_path / "leads.parquet"
    generate_file(500, 2, path, leads_only=True, invalid_rate=0.0, chunk_rows=200)
    assert pq.read_table(path).equals(generate_table(500, 2, leads_only=True, invalid_rate=0.0))


def test_csv_round_trip_keeps_nulls(tmp_path: Path) -> None:
    table = generate_table(1_500, 8)
    path = tmp_path / "leads.csv"
    write_table(table, path)
    options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(table.column_names, pa.string()), strings_can_be_null=True
    )
    assert pa_csv.read_csv(path, convert_options=options).equals(table)


def test_jsonl_omits_null_keys(tmp_path: Path) -> None:
    table = generate_table(1_500, 8)
    path = tmp_path / "leads.jsonl"
    write_table(table, path)
    lines = path.read_text().splitlines()
    expected = [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
    assert [json.loads(line) for line in lines] == expected


def test_jsonl_escapes_any_text(tmp_path: Path) -> None:
    values = ['say "hi"', "back\\slash", "two\nlines\ttab", "José ☃", None, ""]
    table = pa.table({"first": pa.array([None, *values[:-1]], pa.string()), "second": pa.array(values, pa.string())})
    path = tmp_path / "odd.jsonl"
    write_table(table, path)
    expected = [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == expected


def test_unsupported_extension(tmp_path: Path) -> None:
    table = generate_table(10, 1)
    with pytest.raises(ValueError, match="extension"):
        write_table(table, tmp_path / "leads.txt")
    with pytest.raises(ValueError, match="extension"):
        generate_file(10, 1, tmp_path / "leads.xlsx")
    assert not list(tmp_path.iterdir())
