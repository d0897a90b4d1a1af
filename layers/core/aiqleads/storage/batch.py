"""BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed (with backoff)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiqleads.storage.codec import encode_item

BATCH_WRITE_LIMIT = 25
MAX_ATTEMPTS = 8


def batch_put(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> int:
    """Upsert plain items; returns how many were written, raises if some stay unprocessed."""
    return batch_write(dynamodb, table_name, (encode_item(item) for item in items))


def batch_write(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> int:
    """Upsert items already in AttributeValue form; returns how many were written."""
    written = 0
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append({"PutRequest": {"Item": item}})
        if len(chunk) == BATCH_WRITE_LIMIT:
            written += _write(dynamodb, table_name, chunk)
            chunk = []
    if chunk:
        written += _write(dynamodb, table_name, chunk)
    return written


def _write(dynamodb: Any, table_name: str, requests: list[dict[str, Any]]) -> int:
    pending = {table_name: requests}
    for attempt in range(MAX_ATTEMPTS):
        response = dynamodb.batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return len(requests)
        time.sleep(min(0.05 * 2**attempt, 2.0))
    left = len(pending.get(table_name, []))
    raise RuntimeError(f"DynamoDB left {left} of {len(requests)} writes to {table_name} unprocessed after retries")
