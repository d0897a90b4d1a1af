"""Our DynamoDB response parser gives exactly what botocore's own gives, for every attribute type."""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import JSONParser

from aiqleads.storage.aws import new_client
from aiqleads.storage.dynamo_parser import DynamoJSONParser

MODEL = botocore.session.get_session().get_service_model("dynamodb")
BLOB = base64.b64encode(b"\x00\xffbinary").decode()
ITEM: dict[str, Any] = {
    "pk": {"S": "acme#lead-1"},
    "price": {"N": "425000.5"},
    "ok": {"BOOL": True},
    "nothing": {"NULL": True},
    "tags": {"SS": ["a", "b"]},
    "counts": {"NS": ["1", "2.5"]},
    "raw": {"B": BLOB},
    "raws": {"BS": [BLOB, BLOB]},
    "card": {"M": {"inner": {"L": [{"S": "x"}, {"B": BLOB}, {"M": {"deep": {"BS": [BLOB]}}}]}, "n": {"N": "1"}}},
    "empty_map": {"M": {}},
    "empty_list": {"L": []},
}


def _response(body: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": 200, "headers": {"x-amzn-requestid": "r-1"}, "body": json.dumps(body).encode()}


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("Query", {"Items": [ITEM, ITEM], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": {"pk": {"S": "k"}}}),
        ("GetItem", {"Item": ITEM}),
        ("GetItem", {}),
        ("BatchGetItem", {"Responses": {"Leads": [ITEM]}, "UnprocessedKeys": {}}),
        ("UpdateItem", {"Attributes": ITEM}),
        (
            "TransactGetItems",
            {"Responses": [{"Item": ITEM}, {}]},
        ),
        ("DescribeTable", {"Table": {"TableName": "Leads", "ItemCount": 3, "KeySchema": []}}),
    ],
)
def test_parses_like_botocore(operation: str, body: dict[str, Any]) -> None:
    shape = MODEL.operation_model(operation).output_shape
    expected = JSONParser().parse(_response(body), shape)
    assert DynamoJSONParser().parse(_response(body), shape) == expected
    if "Item" in body:
        assert expected["Item"]["raw"] == {"B": b"\x00\xffbinary"}  # the case that differs on the wire


def test_errors_parse_like_botocore() -> None:
    shape = MODEL.operation_model("PutItem").output_shape
    error = {
        "status_code": 400,
        "headers": {},
        "body": json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"}
        ).encode(),
    }
    assert DynamoJSONParser().parse(dict(error), shape) == JSONParser().parse(dict(error), shape)


def test_dynamodb_clients_use_it() -> None:
    client = new_client("dynamodb", region_name="us-east-1")
    assert isinstance(client._endpoint._response_parser_factory.create_parser("json"), DynamoJSONParser)
    other = new_client("sqs", region_name="us-east-1")
    assert not isinstance(other._endpoint._response_parser_factory.create_parser("json"), DynamoJSONParser)
