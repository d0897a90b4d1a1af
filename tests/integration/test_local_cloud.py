"""The local cloud's resource layer, driven from outside with boto3: what template.yaml declares exists and behaves
(S3 -> SQS notifications, SNS -> SQS fan-out, redrive to dead-letter queues), and nothing talks to real AWS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event

from infra.local_cloud import (
    LocalAwsServer,
    LocalCloud,
    NotLoopbackError,
    client,
    create_resources,
    require_loopback_endpoint,
)

from .conftest import ROOT, TEMPLATE, receive_until

pytestmark = pytest.mark.integration

Aws = Callable[[str], Any]


def declared(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


# ------------------------------------------------------------------------------------------------ what exists


def test_every_declared_resource_is_created_or_listed_as_skipped(
    template: dict[str, Any], local_cloud: LocalCloud, local_info: dict[str, Any]
) -> None:
    created, skipped = set(local_info["resources"]), set(local_info["skipped"])
    assert created | skipped == set(template["Resources"])
    assert not created & skipped
    for kind in (
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::ApiGateway::UsagePlan",
    ):
        assert set(declared(template, kind)) <= created, kind
    for name in skipped:
        assert local_info["skipped"][name]["type"] == template["Resources"][name]["Type"]
        assert local_info["skipped"][name]["reason"]
    skipped_kinds = {template["Resources"][name]["Type"] for name in skipped}
    assert skipped_kinds <= {
        "AWS::Serverless::Function",
        "AWS::Serverless::LayerVersion",
        "AWS::Serverless::Api",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    }


def test_local_json_names_what_a_user_needs(local_info: dict[str, Any], template: dict[str, Any]) -> None:
    assert local_info["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert local_info["region"] == "us-east-1"
    assert local_info["uploads_bucket"] == local_info["buckets"]["UploadsBucket"]
    assert local_info["events_topic_arn"] == local_info["topics"]["DomainEventsTopic"]
    assert local_info["alerts_topic_arn"] == local_info["topics"]["AlertsTopic"]
    assert set(local_info["tables"]) == set(declared(template, "AWS::DynamoDB::Table"))
    assert set(local_info["queues"]) == set(declared(template, "AWS::SQS::Queue"))
    # The template's own outputs, where they exist locally (the API URL comes from the local API server).
    assert local_info["outputs"]["UploadsBucketName"] == local_info["uploads_bucket"]
    assert local_info["outputs"]["BulkQueueUrl"] == local_info["queues"]["BulkQueue"]


def test_explicit_names_come_from_the_template(local_info: dict[str, Any]) -> None:
    # Names derive from the stack (aiqleads-local); the bucket's from the stage and the stack id's first group.
    assert local_info["uploads_bucket"] == "aiqleads-uploads-dev-123456789012-us-east-1-local"
    assert local_info["queues"]["BulkQueue"].endswith("/123456789012/aiqleads-local-bulk")
    assert local_info["events_topic_arn"] == "arn:aws:sns:us-east-1:123456789012:aiqleads-local-domain-events"
    assert local_info["tables"]["LeadsTable"] == "aiqleads-local-LeadsTable"  # no TableName: <stack>-<LogicalId>


def test_every_table_exists_with_its_keys_indexes_ttl_and_pitr(
    template: dict[str, Any], local_info: dict[str, Any], aws: Aws
) -> None:
    dynamodb = aws("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for logical_id, resource in declared(template, "AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        name = local_info["tables"][logical_id]
        assert name in existing, logical_id
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["KeySchema"] == properties["KeySchema"], logical_id
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(properties["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == properties["BillingMode"]
        wanted_indexes = {index["IndexName"]: index for index in properties.get("GlobalSecondaryIndexes", [])}
        actual_indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
        assert set(actual_indexes) == set(wanted_indexes), logical_id
        for index_name, wanted in wanted_indexes.items():
            assert actual_indexes[index_name]["KeySchema"] == wanted["KeySchema"]
            assert actual_indexes[index_name]["Projection"]["ProjectionType"] == wanted["Projection"]["ProjectionType"]

        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in properties:
            assert ttl["TimeToLiveStatus"] == "ENABLED", logical_id
            assert ttl["AttributeName"] == properties["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", logical_id
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
        wanted_pitr = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
        assert pitr == ("ENABLED" if wanted_pitr else "DISABLED"), logical_id


def test_queues_have_their_attributes_and_redrive_policies(
    template: dict[str, Any], local_cloud: LocalCloud, local_info: dict[str, Any], aws: Aws
) -> None:
    sqs = aws("sqs")
    arns = {name: resource["Arn"] for name, resource in local_info["resources"].items() if "Arn" in resource}
    for logical_id, resource in declared(template, "AWS::SQS::Queue").items():
        properties = resource["Properties"]
        attributes = sqs.get_queue_attributes(QueueUrl=local_info["queues"][logical_id], AttributeNames=["All"])[
            "Attributes"
        ]
        assert attributes["QueueArn"] == arns[logical_id]
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in properties:
                assert attributes[key] == str(properties[key]), (logical_id, key)
        if "RedrivePolicy" in properties:
            redrive = json.loads(attributes["RedrivePolicy"])
            target = properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert redrive["deadLetterTargetArn"] == arns[target]
            configured = local_cloud.resources.resolve(properties["RedrivePolicy"]["maxReceiveCount"])  # FindInMap
            assert int(redrive["maxReceiveCount"]) == int(configured)


def test_the_function_environment_resolves_to_local_names(local_cloud: LocalCloud, local_info: dict[str, Any]) -> None:
    environment = local_cloud.resources.function_environment("BulkScoreFunction")
    assert environment["UPLOADS_BUCKET"] == local_info["uploads_bucket"]
    assert environment["LEADS_TABLE"] == local_info["tables"]["LeadsTable"]
    assert environment["BULK_QUEUE_URL"] == local_info["queues"]["BulkQueue"]
    assert environment["OUTBOX_TABLE"] == local_info["tables"]["OutboxTable"]
    assert environment["AIQLEADS_MODEL_DIR"] == "/opt/model_artifacts/lead_scorer/2.0.0"


# ------------------------------------------------------------------------------------------------ behaviour


def test_an_upload_under_uploads_notifies_the_bulk_queue(local_info: dict[str, Any], aws: Aws) -> None:
    s3, sqs = aws("s3"), aws("sqs")
    bucket, queue = local_info["uploads_bucket"], local_info["queues"]["BulkQueue"]
    run = uuid.uuid4().hex[:8]
    ignored, wanted = f"results/{run}.scored.csv", f"uploads/leads {run}.csv"  # a space: keys arrive URL-encoded
    s3.put_object(Bucket=bucket, Key=ignored, Body=b"id,score\n")
    s3.put_object(Bucket=bucket, Key=wanted, Body=b"id,email\n1,a@example.com\n")

    def is_upload(message: dict[str, Any]) -> bool:
        body = json.loads(message["Body"])
        return "Records" in body and S3Event(body).object_key == wanted

    message, seen = receive_until(sqs, queue, is_upload)
    event = S3Event(json.loads(message["Body"]))
    assert event.bucket_name == bucket
    assert event.record.event_name.startswith("ObjectCreated:")
    assert event.record.s3.get_object.size == len(b"id,email\n1,a@example.com\n")
    # Only uploads/ notifies (S3 also sends an s3:TestEvent when the notification is configured).
    keys = [S3Event(json.loads(item["Body"])).object_key for item in seen if "Records" in json.loads(item["Body"])]
    assert ignored not in keys


def test_a_domain_event_arrives_raw_on_the_notify_queue(local_info: dict[str, Any], aws: Aws) -> None:
    event = {"type": "lead.score_changed", "id": uuid.uuid4().hex, "data": {"score": 87}}
    aws("sns").publish(TopicArn=local_info["events_topic_arn"], Message=json.dumps(event))
    message, _ = receive_until(aws("sqs"), local_info["queues"]["NotifyQueue"], lambda m: event["id"] in m["Body"])
    assert json.loads(message["Body"]) == event  # RawMessageDelivery: the body is the message, no SNS envelope


def _redriven_queues() -> list[str]:
    from infra.template import load_template

    return [
        name
        for name, resource in declared(load_template(TEMPLATE), "AWS::SQS::Queue").items()
        if "RedrivePolicy" in resource["Properties"]
    ]


@pytest.mark.parametrize("queue_id", _redriven_queues())
def test_a_message_received_too_often_moves_to_the_dead_letter_queue(
    queue_id: str, template: dict[str, Any], local_cloud: LocalCloud, local_info: dict[str, Any], aws: Aws
) -> None:
    sqs = aws("sqs")
    redrive = template["Resources"][queue_id]["Properties"]["RedrivePolicy"]
    dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    limit = int(local_cloud.resources.resolve(redrive["maxReceiveCount"]))  # the template's QueueRedrive mapping
    queue, dead_letter_queue = local_info["queues"][queue_id], local_info["queues"][dead_letter_id]
    body = f"poison {uuid.uuid4().hex}"
    sqs.send_message(QueueUrl=queue, MessageBody=body)

    receipts = 0
    for _ in range(limit + 3):  # a consumer that fails every time: receive, never delete, visible again at once
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
        receipts += sum(message["Body"] == body for message in messages.get("Messages", []))
    assert receipts == limit

    message, _ = receive_until(sqs, dead_letter_queue, lambda m: m["Body"] == body, timeout=5.0)
    assert message["Body"] == body


# ------------------------------------------------------------------------------------------------ robustness


def test_creating_the_resources_again_changes_nothing(local_cloud: LocalCloud, aws: Aws) -> None:
    first = local_cloud.resources
    sns = aws("sns")
    topic = first.topics["DomainEventsTopic"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]

    again = create_resources(local_cloud.endpoint_url, TEMPLATE)

    assert again.created == first.created
    assert again.skipped == first.skipped
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == subscriptions
    assert len(subscriptions) == 1


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://sqs.us-east-1.amazonaws.com",
        "http://10.0.0.8:4566",
        "http://0.0.0.0:4566",
        "http://localhost.example.com:4566",
        "http://127.0.0.1.nip.io:4566",
        "ftp://127.0.0.1:4566",
    ],
)
def test_nothing_talks_to_a_non_loopback_endpoint(endpoint: str) -> None:
    with pytest.raises(NotLoopbackError):
        require_loopback_endpoint(endpoint)
    with pytest.raises(NotLoopbackError):
        client("sqs", endpoint)
    with pytest.raises(NotLoopbackError):
        create_resources(endpoint, TEMPLATE)


def test_loopback_endpoints_are_accepted() -> None:
    for endpoint in ("http://127.0.0.1:4566", "http://localhost:4566", "http://127.0.0.2:1", "http://[::1]:4566"):
        assert require_loopback_endpoint(endpoint) == endpoint


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_the_server_refuses_to_listen_beyond_loopback(host: str) -> None:
    with pytest.raises(NotLoopbackError):
        LocalAwsServer(port=0, host=host)


def test_a_port_in_use_is_reported_not_hung_on(local_cloud: LocalCloud) -> None:
    started = time.monotonic()
    with pytest.raises(Exception, match="already in use"):
        LocalAwsServer(port=local_cloud.server.port).start()
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------------------------------ the command


def test_up_runs_until_interrupted_and_writes_local_json(tmp_path: Path) -> None:
    state_file = tmp_path / "local.json"
    command = [sys.executable, "-m", "infra.local_cloud", "up", "--port", "0", "--state-file", str(state_file)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ}
    )
    try:
        # Start-up seeds the demo (3,000 scored leads, keys, the model registry): on a loaded 2-core host it has
        # taken over 30 s, so the bound is generous; the loop ends as soon as local.json appears.
        deadline = time.monotonic() + 90
        while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_file.exists(), "local.json was not written"
        info = json.loads(state_file.read_text())
        for key in ("aws_endpoint_url", "region", "uploads_bucket", "events_topic_arn", "alerts_topic_arn"):
            assert info[key], key
        assert set(info["tables"]) >= {"LeadsTable", "ApiKeysTable"}
        assert "BulkQueue" in info["queues"]
        # Another process, another moto: reachable at the endpoint it wrote.
        buckets = client("s3", info["aws_endpoint_url"]).list_buckets()["Buckets"]
        assert info["uploads_bucket"] in [bucket["Name"] for bucket in buckets]

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert process.returncode == 0, output
    assert info["uploads_bucket"] in output
    assert "stopped." in output
    assert not state_file.exists(), "local.json must not outlive the cloud it describes"
