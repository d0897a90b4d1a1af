"""LocalCloud runs a template's functions end to end: env resolved to local resources, boto3 in handlers reaching
moto with no endpoint code, API routes over HTTP, SQS event sources polled, and a clean stop.

A tiny template and handlers in a temporary directory (independent of the real functions)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: qa}
Globals:
  Function:
    Environment:
      Variables:
        BUCKET: !Ref Bucket
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub runtime-test-${Stage}
  WorkDeadLetterQueue:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 600
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetterQueue.Arn
        maxReceiveCount: 2
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
  WebFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/web/
      Handler: handler.handler
      Environment:
        Variables:
          QUEUE_URL: !Ref WorkQueue
      Events:
        Put:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/v1/things/{name}", Method: put}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: handler.handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""

# No endpoint logic: boto3 finds AWS_ENDPOINT_URL and the resource names in the environment.
WEB = """
import json, os
import boto3

def handler(event, context):
    name = event["pathParameters"]["name"]
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=f"web/{name}", Body=event["body"] or "")
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=name)
    return {"statusCode": 201, "body": json.dumps({"stored": name})}
"""

WORKER = """
import os
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    failures = []
    for record in event["Records"]:
        if record["body"] == "poison":
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"worked/{record['body']}", Body=b"done")
    return {"batchItemFailures": failures}
"""


def wait_for_object(s3: Any, bucket: str, key: str, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    raise AssertionError(f"s3://{bucket}/{key} did not appear within {timeout}s")


def test_functions_run_on_their_routes_and_queues(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    for name, code in (("web", WEB), ("worker", WORKER)):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "handler.py").write_text(code)
    before = os.environ.get("AWS_ENDPOINT_URL")

    cloud = LocalCloud(tmp_path / "template.yaml", port=0, demo=False, retry_delay=1)
    with cloud:
        info = json.loads(json.dumps(cloud.info()))
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert info["api_url"].endswith("/qa")
        assert info["api_port"] not in {0, 3000}  # port=0: the API port is free-picked too
        assert all(item["running"] for item in info["functions"].values())
        s3, sqs = cloud.client("s3"), cloud.client("sqs")
        bucket = info["buckets"]["Bucket"]
        assert bucket == "runtime-test-qa"

        request = urllib.request.Request(f"{info['api_url']}/v1/things/lamp", data=b"bright", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert json.loads(response.read()) == {"stored": "lamp"}
        assert wait_for_object(s3, bucket, "web/lamp") == b"bright"
        # the API function queued the name; the worker polled it
        assert wait_for_object(s3, bucket, "worked/lamp") == b"done"

        # a message the worker reports as failed is retried after 1 s, then dead-lettered (maxReceiveCount 2)
        sqs.send_message(QueueUrl=info["queues"]["WorkQueue"], MessageBody="poison")
        dlq = info["queues"]["WorkDeadLetterQueue"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
            if messages:
                assert messages[0]["Body"] == "poison"
                break
        else:
            raise AssertionError("the poison message did not reach the dead-letter queue")
        api_url = info["api_url"]

    assert os.environ.get("AWS_ENDPOINT_URL") == before  # the process environment is restored
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{api_url}/v1/things/x", timeout=2)
