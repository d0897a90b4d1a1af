"""DynamoDB attribute values from plain Python: every finite float JSON can carry is storable."""

from __future__ import annotations

from aiqleads.storage.codec import decode_item, encode_item


def test_a_float_below_dynamodbs_smallest_number_is_stored_as_zero() -> None:
    # schemathesis sent median_price 5e-324 to PUT /v1/markets/.../snapshots/...: the write raised Underflow (a 500)
    item = encode_item({"median_price": 5e-324, "trend": -1e-200, "views": 0.25})
    assert decode_item(item) == {"median_price": 0, "trend": 0, "views": 0.25}
