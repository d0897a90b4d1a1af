"""Reading a 0/1 outcome from whatever a CRM export calls it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

POSITIVE = ("1", "1.0", "yes", "y", "true", "t", "converted", "won", "closed", "closed won")
NEGATIVE = ("0", "0.0", "no", "n", "false", "f", "lost", "closed lost", "not converted")


class LabelError(ValueError):
    pass


def parse_labels(column: pa.Array, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels as 0/1, mask of rows that have a label); unknown label values are an error."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    positive = pc.is_in(text, value_set=pa.array(POSITIVE))
    negative = pc.is_in(text, value_set=pa.array(NEGATIVE))
    known = pc.or_(positive, negative)
    unknown = pc.and_(pc.is_valid(text), pc.invert(known))
    if pc.any(unknown).as_py():
        examples = pc.unique(pc.filter(text, unknown)).to_pylist()[:5]
        raise LabelError(
            f"label column {name!r} has values that are neither yes nor no: {examples}; "
            f"use 1/0, yes/no, true/false or converted/lost"
        )
    has_label = np.asarray(pc.fill_null(known, False).to_numpy(zero_copy_only=False), dtype=bool)
    labels = np.asarray(pc.fill_null(positive, False).to_numpy(zero_copy_only=False), dtype=np.int8)
    return labels, has_label
