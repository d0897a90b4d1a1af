"""DynamoDB attribute values to and from plain Python (floats in, floats out: no Decimal leaks to callers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# DynamoDB's smallest positive number is 1E-130; a float closer to zero (5e-324 is valid JSON) would underflow the
# serializer's context and fail the write, so it is stored as the zero it is indistinguishable from here.
_SMALLEST = 1e-130


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(0) if 0 < abs(value) < _SMALLEST else Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def encode_item(item: dict[str, Any]) -> dict[str, Any]:
    """A Python dict as a DynamoDB item (None values are left out: DynamoDB has no use for them)."""
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None}


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


def encode_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_to_dynamo(value))
