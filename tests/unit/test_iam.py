"""An operator deploying template.yaml gets exactly the permissions the code needs: each function's policies,
expanded by SAM's own translator, against what its wiring declares (aiqleads.iam); no AWS, no network."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from infra.iam.actions import Request, requests_of
from infra.iam.policies import RUNTIME_MANAGED_POLICIES, Grant, compare, granted, needed
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_each_function_is_granted_exactly_what_its_code_calls(template: dict[str, Any]) -> None:
    problems = compare(template)
    assert not problems, "\n".join(problems.lines())


def test_the_runtime_policies_sam_adds_are_classified_not_the_codes(template: dict[str, Any]) -> None:
    basic, xray, stream_reader, poller = RUNTIME_MANAGED_POLICIES
    for function, access in granted(template).items():
        events = template["Resources"][function]["Properties"].get("Events") or {}
        polled = any(event["Type"] == "SQS" for event in events.values())
        streamed = any(event["Type"] == "DynamoDB" for event in events.values())
        expected = {basic, xray} | ({poller} if polled else set()) | ({stream_reader} if streamed else set())
        assert set(access.runtime) == expected, function
        assert not access.unclassified, function


def _statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    return statements


def test_a_missing_and_an_unused_grant_each_fail(template: dict[str, Any]) -> None:
    """The review's findings, put back: bulk without s3:AbortMultipartUpload (a failed job could not abort its
    upload), notify with the idempotency table it never touches."""
    changed = copy.deepcopy(template)
    for statement in _statements(changed, "BulkScoreFunction"):
        statement["Action"] = [action for action in statement["Action"] if action != "s3:AbortMultipartUpload"]
    _statements(changed, "NotifyFunction").append(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}}
    )
    problems = compare(changed)
    assert problems.missing["BulkScoreFunction"] == [
        Grant("s3:AbortMultipartUpload", "UploadsBucket", "bulk-work/*"),
        Grant("s3:AbortMultipartUpload", "UploadsBucket", "results/*"),
    ]
    assert problems.unused["NotifyFunction"] == [Grant("dynamodb:GetItem", "IdempotencyTable")]
    assert sum(map(len, problems.missing.values())) == 2
    assert sum(map(len, problems.unused.values())) == 1


def test_policy_templates_over_grant_and_are_caught(template: dict[str, Any]) -> None:
    changed = copy.deepcopy(template)
    changed["Resources"]["AuthorizerFunction"]["Properties"]["Policies"] = [
        {"DynamoDBReadPolicy": {"TableName": {"Ref": "ApiKeysTable"}}}
    ]
    unused = compare(changed).unused["AuthorizerFunction"]
    assert Grant("dynamodb:Scan", "ApiKeysTable") in unused
    assert Grant("dynamodb:GetItem", "ApiKeysTable", "index/*") in unused
    assert Grant("dynamodb:GetItem", "ApiKeysTable") not in unused


def test_the_wiring_is_read_from_the_code(template: dict[str, Any]) -> None:
    needs = needed(template)
    assert needs["AuthorizerFunction"] == {Grant("dynamodb:GetItem", "ApiKeysTable")}  # a reader: no writes
    assert Grant("dynamodb:UpdateItem", "AggregatesTable") not in needs["ApiFunction"]  # the API only reads them
    assert Grant("dynamodb:UpdateItem", "AggregatesTable") in needs["EventsFunction"]
    # the bucket of the bulk job is the one whose notifications reach its queue
    assert Grant("s3:GetObjectVersion", "UploadsBucket", "uploads/*") in needs["BulkScoreFunction"]
    assert not any(grant.resource == "UploadsBucket" for grant in needs["ApiFunction"])  # it only submits jobs


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "b"}}, {"Update": {"TableName": "l"}}]},
            [Request("dynamodb:PutItem", "b"), Request("dynamodb:UpdateItem", "l")],
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "l", "IndexName": "ScoreIndex"},
            [Request("dynamodb:Query", "l", "index/ScoreIndex")],
        ),
        ("dynamodb", "BatchWriteItem", {"RequestItems": {"l": []}}, [Request("dynamodb:BatchWriteItem", "l")]),
        (
            "s3",
            "HeadObject",
            {"Bucket": "u", "Key": "uploads/a.csv", "VersionId": "v"},
            [Request("s3:GetObjectVersion", "u", "uploads/a.csv"), Request("s3:ListBucket", "u")],
        ),
        ("s3", "UploadPart", {"Bucket": "u", "Key": "results/a"}, [Request("s3:PutObject", "u", "results/a")]),
        (
            "s3",
            "AbortMultipartUpload",
            {"Bucket": "u", "Key": "results/a"},
            [Request("s3:AbortMultipartUpload", "u", "results/a")],
        ),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "u", "Delete": {"Objects": [{"Key": "bulk-work/x"}]}},
            [Request("s3:DeleteObject", "u", "bulk-work/x")],
        ),
        ("sqs", "SendMessageBatch", {"QueueUrl": "q"}, [Request("sqs:SendMessage", "q")]),
        ("sns", "PublishBatch", {"TopicArn": "t"}, [Request("sns:Publish", "t")]),
    ],
)
def test_a_call_is_authorised_as_aws_does(
    service: str, operation: str, params: dict[str, Any], expected: list[Request]
) -> None:
    assert requests_of(service, operation, params) == expected
