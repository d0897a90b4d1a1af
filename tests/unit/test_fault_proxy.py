"""The fault-injecting proxy: how it tells calls apart, when its rules fire, and what botocore sees through it
(real boto3 clients with the project's retry configuration, through the proxy, to a real moto server)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError

from aiqleads.storage.aws import new_client
from infra.local_cloud.faults import (
    Call,
    FaultProxy,
    FaultRule,
    FaultRules,
    classify,
    compressed_backoff,
    reset,
    reset_mid_body,
    slow_down,
    throttling,
    unavailable,
)

SCOPE = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"


def _headers(service: str, **more: str) -> dict[str, str]:
    return {"authorization": SCOPE.format(service), "host": "127.0.0.1:4566", **more}


def test_a_dynamodb_call_is_named_by_its_target_and_every_table_it_writes():
    body = json.dumps(
        {"TransactItems": [{"Put": {"TableName": "Leads"}}, {"Update": {"TableName": "Aggregates"}}]}
    ).encode()
    call = classify("POST", "/", _headers("dynamodb", **{"x-amz-target": "DynamoDB_20120810.TransactWriteItems"}), body)
    assert (call.service, call.operation, call.resources, call.protocol) == (
        "dynamodb",
        "TransactWriteItems",
        ("Leads", "Aggregates"),
        "json",
    )
    batch = classify(
        "POST",
        "/",
        _headers("dynamodb", **{"x-amz-target": "DynamoDB_20120810.BatchWriteItem"}),
        json.dumps({"RequestItems": {"History": []}}).encode(),
    )
    assert batch.resources == ("History",)


def test_a_query_protocol_call_is_named_by_its_action_and_topic():
    body = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aevents&Message=hi"
    call = classify("POST", "/", _headers("sns", **{"content-type": "application/x-www-form-urlencoded"}), body)
    assert (call.service, call.operation, call.resources, call.protocol) == (
        "sns",
        "Publish",
        ("arn:aws:sns:us-east-1:1:events",),
        "query",
    )


def test_an_s3_call_is_named_by_method_and_path_and_a_presigned_url_by_its_credential():
    get = classify("GET", "/uploads/a/b.csv", _headers("s3", range="bytes=0-99"), b"")
    assert (get.operation, get.resources, get.headers["range"]) == ("GetObject", ("uploads",), "bytes=0-99")
    assert classify("GET", "/uploads?list-type=2&prefix=a", _headers("s3"), b"").operation == "ListObjectsV2"
    assert classify("PUT", "/uploads/k?partNumber=1&uploadId=u", _headers("s3"), b"").operation == "UploadPart"
    presigned = classify(
        "PUT", "/uploads/k?X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", {"host": "h"}, b""
    )
    assert (presigned.service, presigned.operation) == ("s3", "PutObject")


def _call(operation: str = "PutItem", table: str = "Leads") -> Call:
    return Call("dynamodb", operation, (table,), "POST", "/", {"x-amz-target": f"DynamoDB_20120810.{operation}"})


def test_a_rule_matches_service_operation_and_resource_and_counts_its_calls():
    rule = FaultRule("dynamodb", "PutItem", resource="Leads", times=2, skip=1)
    assert not rule.matches(_call("GetItem"))
    assert not rule.matches(_call(table="Buyers"))
    assert not FaultRule("s3").matches(_call())

    rules = FaultRules()
    rules.add(rule)
    decisions = [rules.decide(_call()) for _ in range(5)]
    assert [fault is not None for fault in decisions] == [False, True, True, False, False]
    assert (rule.matched, rule.injected, len(rule.calls), rules.forwarded) == (3, 2, 2, 3)


def test_a_rule_with_a_duration_stops_on_its_own():

    rules = FaultRules()
    rule = rules.add(FaultRule("dynamodb", seconds=0.2))
    assert rules.decide(_call()) is not None
    deadline = time.monotonic() + 5
    while rule.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rules.decide(_call()) is None
    assert rule.injected == 1


@pytest.fixture
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    """A proxy in front of a fresh moto, with botocore's backoff compressed (the same attempts, sooner)."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).close()
    with compressed_backoff(), FaultProxy(moto_server) as proxy:
        yield proxy


def _client(service: str, proxy: FaultProxy) -> Any:
    return new_client(
        service,
        endpoint_url=proxy.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="Leads",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_botocore_retries_throttling_it_outlasts_and_gives_up_after_its_attempts(proxy: FaultProxy):
    dynamodb = _client("dynamodb", proxy)
    _table(dynamodb)
    item = {"pk": {"S": "a"}}
    brief = proxy.inject(FaultRule("dynamodb", "PutItem", resource="Leads", times=4, fault=throttling()))
    dynamodb.put_item(TableName="Leads", Item=item)  # max_attempts 4 means 4 retries: the 5th attempt succeeds
    assert brief.injected == 4
    proxy.clear()
    endless = proxy.inject(FaultRule("dynamodb", "PutItem", fault=throttling()))
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName="Leads", Item={"pk": {"S": "b"}})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == endless.injected - 1 == 4
    proxy.clear()
    assert "Item" not in dynamodb.get_item(TableName="Leads", Key={"pk": {"S": "b"}})
    assert dynamodb.get_item(TableName="Leads", Key=item)["Item"] == item


def test_s3_faults_a_slow_down_a_reset_and_a_body_cut_short(proxy: FaultProxy):
    s3 = _client("s3", proxy)
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="k.csv", Body=b"x" * 10_000)
    proxy.inject(FaultRule("s3", "GetObject", times=2, fault=slow_down()))
    assert len(s3.get_object(Bucket="uploads", Key="k.csv")["Body"].read()) == 10_000  # retried
    proxy.clear()
    proxy.inject(FaultRule("s3", "HeadObject", times=1, fault=reset()))
    assert s3.head_object(Bucket="uploads", Key="k.csv")["ContentLength"] == 10_000  # retried
    proxy.clear()
    cut = proxy.inject(
        FaultRule("s3", "GetObject", when=lambda call: "range" in call.headers, fault=reset_mid_body(100))
    )
    body = s3.get_object(Bucket="uploads", Key="k.csv", Range="bytes=0-4999")["Body"]
    with pytest.raises(ResponseStreamingError):
        body.read()
    assert cut.injected == 1


def test_a_reset_that_outlasts_the_retries_is_a_connection_error(proxy: FaultProxy):
    s3 = _client("s3", proxy)
    rule = proxy.inject(FaultRule("s3", "ListBuckets", fault=reset()))
    with pytest.raises(ConnectionClosedError):
        s3.list_buckets()
    assert rule.injected == 5


def test_sns_unavailable_is_an_internal_error_after_the_retries(proxy: FaultProxy):
    sns = _client("sns", proxy)
    topic = sns.create_topic(Name="events")["TopicArn"]
    rule = proxy.inject(FaultRule("sns", "Publish", resource=topic, fault=unavailable()))
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=topic, Message="hello")
    assert (raised.value.response["Error"]["Code"], rule.injected) == ("InternalError", 5)
    proxy.clear()
    assert sns.publish(TopicArn=topic, Message="hello")["MessageId"]


def test_sqs_json_errors_carry_their_code(proxy: FaultProxy):
    sqs = _client("sqs", proxy)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    proxy.inject(FaultRule("sqs", "SendMessage", resource="work", fault=throttling("RequestThrottled")))
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=url, MessageBody="m")
    assert raised.value.response["Error"]["Code"] == "RequestThrottled"
