"""BatchWriteItem in chunks of 25 and BatchGetItem in chunks of 100, retrying what DynamoDB leaves unprocessed
(with backoff)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiqleads.storage.codec import encode_item

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
MAX_ATTEMPTS = 8


def batch_put(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> int:
    """Upsert plain items; returns how many were written, raises if some stay unprocessed."""
    return batch_write(dynamodb, table_name, (encode_item(item) for item in items))


BODY = "AiqleadsRequestBody"  # no DynamoDB parameter: carries a ready request body past botocore's serialiser
_STAND_IN: dict[str, Any] = {"PutRequest": {"Item": {}}}


def _take_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if BODY in params:
        context[BODY] = params.pop(BODY)


def _put_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if BODY in context:
        params["body"] = context[BODY]


_PK_OPENING = '{"PutRequest":{"Item":{"pk":{"S":'
_PK_CLOSING = '},"sk":'  # cannot occur inside the pk's JSON string: its quotes would be escaped


def _partition(request: str) -> str | None:
    """The pk's JSON text of a put request built with pk then sk first (storage.lead_items), else None."""
    if not request.startswith(_PK_OPENING):
        return None
    end = request.find(_PK_CLOSING, len(_PK_OPENING))
    return None if end < 0 else request[len(_PK_OPENING) : end]


def write_chunks(requests: Sequence[str], limit: int = BATCH_WRITE_LIMIT) -> list[Sequence[str]]:
    """`requests` in calls of at most `limit`, never splitting a run of consecutive requests of one partition
    (a lead's score item and its history item go in the same call) unless the run alone is longer than a call.
    Greedy from the start: the chunks of a run of whole chunks are the same chunks again (callers slice on them)."""
    chunks: list[Sequence[str]] = []
    start = 0
    while start < len(requests):
        end = min(start + limit, len(requests))
        if end < len(requests):
            cut = end
            key = _partition(requests[cut])
            while key is not None and cut > start and _partition(requests[cut - 1]) == key:
                cut -= 1
            end = cut if cut > start else end
        chunks.append(requests[start:end])
        start = end
    return chunks


def write_slices(requests: Sequence[str], parts: int) -> list[list[str]]:
    """`requests` in at most `parts` slices of whole `write_chunks` (for callers writing on a few threads: each
    slice's calls are the chunks they would be unsliced)."""
    chunks = write_chunks(requests)
    per = max(1, -(-len(chunks) // max(1, parts)))
    return [[request for chunk in chunks[i : i + per] for request in chunk] for i in range(0, len(chunks), per)]


def batch_write_json(dynamodb: Any, table_name: str, requests: Sequence[str]) -> int:
    """Upsert items given as the JSON of their put requests (`{"PutRequest":{"Item":{...}}}`, AttributeValue
    form), 25 to a call; returns how many were written.

    botocore would walk every attribute of every item to serialise what is already its wire form (a fifth of a
    bulk job's CPU): the body is joined from the texts instead and put in place of botocore's just before the
    call is signed and sent (`before-call`). Retries of unprocessed items take botocore's own path."""
    events = dynamodb.meta.events
    events.register("before-parameter-build.dynamodb.BatchWriteItem", _take_body, unique_id=f"{BODY}-take")
    events.register("before-call.dynamodb.BatchWriteItem", _put_body, unique_id=f"{BODY}-put")
    opening = '{"RequestItems":{' + json.dumps(table_name) + ":["
    written = 0
    for chunk in write_chunks(requests):
        body = (opening + ",".join(chunk) + "]}}").encode()
        # A stand-in that passes parameter validation and that DynamoDB would refuse (an item without its keys)
        # were it ever sent: only the joined body goes.
        written += _write(dynamodb, table_name, len(chunk), {table_name: [_STAND_IN]}, {BODY: body})
    return written


def batch_write(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> int:
    """Upsert items already in AttributeValue form; returns how many were written."""
    written = 0
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append({"PutRequest": {"Item": item}})
        if len(chunk) == BATCH_WRITE_LIMIT:
            written += _write(dynamodb, table_name, len(chunk), {table_name: chunk})
            chunk = []
    if chunk:
        written += _write(dynamodb, table_name, len(chunk), {table_name: chunk})
    return written


def _write(
    dynamodb: Any, table_name: str, count: int, pending: dict[str, Any], first: dict[str, Any] | None = None
) -> int:
    """One BatchWriteItem of `count` puts (`first`: extra arguments of the first call), then the unprocessed."""
    extra = first or {}
    for attempt in range(MAX_ATTEMPTS):
        response = dynamodb.batch_write_item(RequestItems=pending, **extra)
        pending, extra = response.get("UnprocessedItems") or {}, {}
        if not pending:
            return count
        time.sleep(min(0.05 * 2**attempt, 2.0))
    left = len(pending.get(table_name, []))
    raise RuntimeError(f"DynamoDB left {left} of {count} writes to {table_name} unprocessed after retries")


def batch_get(dynamodb: Any, table_name: str, keys: Sequence[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """The items (AttributeValue form) of those `keys` that exist, 100 keys to a BatchGetItem, its unprocessed
    keys retried with backoff; `options` (ProjectionExpression, ExpressionAttributeNames) go with every call."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        pending: dict[str, Any] = {table_name: {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), **options}}
        for attempt in range(MAX_ATTEMPTS):
            response = dynamodb.batch_get_item(RequestItems=pending)
            items += response["Responses"].get(table_name, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            left = len(pending.get(table_name, {}).get("Keys", []))
            raise RuntimeError(f"DynamoDB left {left} reads from {table_name} unprocessed after retries")
    return items
