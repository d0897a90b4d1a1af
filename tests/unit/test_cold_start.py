"""Cold starts: a fresh interpreter imports a function's handler as Lambda does (its CodeUri on sys.path, the core
layer importable), invokes it once against a moto server, and must not have loaded the scoring stack or the model: the
authorizer and notify functions never score, and recommendation jobs rank the scores already stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The scoring stack (and the training one, which the serving layer does not ship).
HEAVY = {"onnxruntime", "numpy", "pyarrow", "lightgbm", "sklearn", "pandas"}

PRELUDE = """
import json, os, sys
sys.path.insert(0, os.path.join("functions", sys.argv[1]))
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "AIQLeads"  # Lambda's environment is there before the import
import handler
loaded = {"import": sorted(sys.modules)}
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                  POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="aiqleads", AWS_ENDPOINT_URL=sys.argv[2])
import boto3
def table(name, key, *sort):
    attributes = [{"AttributeName": k, "AttributeType": "S"} for k in (key, *sort)]
    schema = [{"AttributeName": key, "KeyType": "HASH"}] + [{"AttributeName": k, "KeyType": "RANGE"} for k in sort]
    boto3.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                          AttributeDefinitions=attributes, KeySchema=schema)
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "cold-start", 512, "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start"
    def get_remaining_time_in_millis(self): return 10_000
"""

AUTHORIZER = """
os.environ["API_KEYS_TABLE"] = "api-keys"
os.environ["TIER_RATE_LIMITS"] = '{"basic": 1, "pro": 5, "enterprise": 16.67}'
table("api-keys", "key_hash")
from aiqleads.models import Tier
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.tenants.api_keys import ApiKeyRecord
key, record = ApiKeyRecord.issue("t1", Tier.PRO)
ApiKeyRepository("api-keys").put(record)
arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/v1/leads"
allowed = handler.handler({"type": "TOKEN", "authorizationToken": key, "methodArn": arn}, Context())
assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow", allowed
try:
    handler.handler({"type": "TOKEN", "authorizationToken": "aiq_wrong", "methodArn": arn}, Context())
    raise AssertionError("an unknown key was let through")
except Exception as error:
    assert str(error) == "Unauthorized", error
"""

NOTIFY = """
os.environ.update(BUYERS_TABLE="buyers", NOTIFY_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/1/notify",
                  NOTIFY_DEAD_LETTER_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/1/notify-dlq",
                  ALERTS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:alerts")
table("buyers", "pk", "sk")
event = {"id": "evt-1", "type": "lead.scored", "tenant_id": "t1", "occurred_at": "2026-11-20T10:00:00Z",
         "data": {"lead_id": "l1", "market": "austin", "score": 80, "grade": "A"}}
result = handler.handler({"Records": [{"messageId": "m1", "body": json.dumps(event)}]}, Context())
assert result == {"batchItemFailures": []}, result
"""

RECOMMENDATIONS_JOB = """
os.environ.update(LEADS_TABLE="leads", BUYERS_TABLE="buyers", JOBS_TABLE="jobs", UPLOADS_BUCKET="uploads",
                  OUTBOX_TABLE="outbox")
table("jobs", "pk", "sk")
body = json.dumps({"kind": "recommendations", "tenant_id": "t1", "job_id": "rec-unknown"})
record = {"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
          "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:jobs", "awsRegion": "us-east-1"}
result = handler.handler({"Records": [record]}, Context())
assert result == {"batchItemFailures": []}, result
"""

EPILOGUE = """
loaded["invoked"] = sorted(sys.modules)
print(json.dumps(loaded))
"""


def _cold_start(function: str, invocation: str, endpoint: str) -> dict[str, set[str]]:
    """The modules loaded after importing the handler, and after invoking it once against moto's server."""
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + invocation + EPILOGUE, function, endpoint],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return {stage: set(names) for stage, names in modules.items()}


def _heavy(modules: set[str]) -> set[str]:
    """The heavy packages loaded, and the scoring modules (the model's loader among them)."""
    packages = {name.split(".")[0] for name in modules} & HEAVY
    return packages | {name for name in modules if name.startswith("aiqleads.scoring")}


@pytest.mark.parametrize(
    ("function", "invocation"),
    [("authorizer", AUTHORIZER), ("notify", NOTIFY), ("recommendations_job", RECOMMENDATIONS_JOB)],
)
def test_a_function_that_never_scores_loads_no_model_stack(function: str, invocation: str, local_aws: None) -> None:
    modules = _cold_start(function, invocation, os.environ["AWS_ENDPOINT_URL"])
    assert _heavy(modules["import"]) == set()
    assert _heavy(modules["invoked"]) == set()
    assert "aiqleads.composition" in modules["invoked"]  # wired through the one composition root
