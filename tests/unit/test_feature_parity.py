"""The per-record path and the columnar path build identical vectors from the same spec."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from aiqleads.features.columnar import ColumnarFeatures
from aiqleads.features.record import RecordFeatures
from aiqleads.scoring.artifact import ModelArtifact
from aiqleads.validation.columnar import record_values, validate_batch
from aiqleads.validation.flat import InvalidRow
from aiqleads_offline.generate import generate_table

UNSEEN = {"source": "brand-new-portal", "market": "atlantis", "property_type": "other"}


@pytest.fixture(scope="module")
def rows_table() -> pa.Table:
    table = generate_table(4000, 99, invalid_rate=0.03)
    # Unseen categories and blank cells the model never saw in training.
    rows = table.to_pylist()
    for index in range(0, len(rows), 37):
        rows[index].update(UNSEEN)
    for index in range(5, len(rows), 41):
        for column in ("price", "sqft", "views", "created_at", "description", "market_median_price", "timeline"):
            rows[index][column] = None if index % 2 else "   "
    # Padding, exotic spellings and non-finite numbers take the validators' slow paths.
    for index in range(3, len(rows), 53):
        for column in ("price", "views", "market_median_price"):
            if rows[index][column] is not None:
                rows[index][column] = f"  {rows[index][column]} "
    for index, text in zip(
        range(11, len(rows), 97), ["inf", "nan", "1e5", "+7", ".5", "1_000", "0x10", "5."], strict=False
    ):
        rows[index]["sqft"] = text
    return pa.Table.from_pylist(rows, schema=table.schema)


def test_record_and_columnar_paths_agree(rows_table: pa.Table, small_model: ModelArtifact):
    spec = small_model.manifest.feature_spec
    batch = validate_batch(rows_table, spec)
    columnar = ColumnarFeatures(spec).matrix(batch.columns(), batch.rows)
    record = RecordFeatures(spec)

    record_vectors, record_valid = [], []
    for row in rows_table.to_pylist():
        try:
            values = record_values(row, spec)
        except InvalidRow:
            record_valid.append(False)
            continue
        record_valid.append(True)
        record_vectors.append(record.vector(values)[0])

    assert record_valid == batch.valid.tolist(), "both paths must reject exactly the same rows"
    assert 0 < (~batch.valid).sum() < len(record_valid) * 0.1
    expected = np.vstack(record_vectors)
    assert expected.shape == columnar.shape
    np.testing.assert_array_equal(columnar, expected)  # NaN == NaN here: identical, bit for bit
    nan_share = np.isnan(columnar).mean(axis=0)
    assert nan_share.max() > 0.01, "the data must exercise missing values"
    source_index = spec.names.index("source")
    assert np.isnan(columnar[:, source_index]).any(), "unseen sources become missing"


def test_row_numbers_and_fields_of_errors(rows_table: pa.Table, small_model: ModelArtifact):
    spec = small_model.manifest.feature_spec
    batch = validate_batch(rows_table, spec, first_row=1)
    rows = rows_table.to_pylist()
    for error in batch.errors:
        with pytest.raises(InvalidRow) as caught:
            record_values(rows[error.row - 1], spec)
        assert error.field in {e.field for e in caught.value.errors} or error.field == "email"
