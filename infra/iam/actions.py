"""Which IAM actions, on which resources, AWS checks for one API call: `requests_of(service, operation, params)`.

Mostly `service:Operation` on the resource the call names, but not always:

- DynamoDB transactions and batches are authorised per item and table: TransactWriteItems needs PutItem,
  UpdateItem, DeleteItem or ConditionCheckItem on each item's table (there is no TransactWriteItems action), a
  BatchWriteItem needs BatchWriteItem on each table it names; a Query on an index is on `table/<t>/index/<i>`.
- S3: HeadObject is s3:GetObject (GetObjectVersion with a VersionId); multipart calls are s3:PutObject but for
  AbortMultipartUpload; DeleteObjects is s3:DeleteObject on each key. HeadObject also needs s3:ListBucket on the
  bucket for S3 to answer 404 rather than 403 when the key is absent, which `ObjectStore.head` relies on.
- SQS and SNS batches are authorised as their single calls (SendMessageBatch is sqs:SendMessage, PublishBatch is
  sns:Publish).

A resource is named as the call names it (table name, bucket name, queue URL, topic ARN) with a path inside it
("index/ScoreIndex", an object key); `infra.iam` maps names to the template's logical ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Request:
    """One authorisation AWS makes for a call: an action on a resource (by name) and a path inside it."""

    action: str
    resource: str
    path: str = ""

    def astuple(self) -> tuple[str, str, str]:
        return (self.action, self.resource, self.path)


_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_S3_PUT = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_SINGLE = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
}


def requests_of(service: str, operation: str, params: Mapping[str, Any]) -> list[Request]:
    """The authorisations of one call (`params` as given to the client method)."""
    return list(dict.fromkeys(_requests(service, operation, params)))


def _requests(service: str, operation: str, params: Mapping[str, Any]) -> Iterator[Request]:
    action = f"{service}:{_SINGLE.get((service, operation), operation)}"
    if service == "dynamodb":
        yield from _dynamodb(operation, params)
    elif service == "s3":
        yield from _s3(operation, params)
    elif service == "sqs":
        yield Request(action, str(params.get("QueueUrl", "*")))
    elif service == "sns":
        yield Request(action, str(params.get("TopicArn") or params.get("TargetArn") or "*"))
    else:
        yield Request(action, "*")


def _dynamodb(operation: str, params: Mapping[str, Any]) -> Iterator[Request]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                name = "GetItem" if kind == "Get" else _TRANSACT_WRITE[kind]
                yield Request(f"dynamodb:{name}", str(body["TableName"]))
    elif operation in ("BatchWriteItem", "BatchGetItem"):
        for table in params.get("RequestItems", {}):
            yield Request(f"dynamodb:{operation}", str(table))
    else:
        index = params.get("IndexName")
        yield Request(f"dynamodb:{operation}", str(params.get("TableName", "*")), f"index/{index}" if index else "")


def _s3(operation: str, params: Mapping[str, Any]) -> Iterator[Request]:
    bucket, key = str(params.get("Bucket", "*")), str(params.get("Key", ""))
    versioned = "Version" if params.get("VersionId") else ""
    if operation in ("GetObject", "HeadObject"):
        yield Request(f"s3:GetObject{versioned}", bucket, key)
        if operation == "HeadObject":
            yield Request("s3:ListBucket", bucket)
    elif operation in _S3_PUT:
        yield Request("s3:PutObject", bucket, key)
    elif operation == "DeleteObject":
        yield Request(f"s3:DeleteObject{versioned}", bucket, key)
    elif operation == "DeleteObjects":
        for entry in params.get("Delete", {}).get("Objects", []):
            yield Request(f"s3:DeleteObject{'Version' if entry.get('VersionId') else ''}", bucket, str(entry["Key"]))
    elif operation == "CopyObject":
        source = params.get("CopySource")
        if isinstance(source, Mapping):
            yield Request("s3:GetObject", str(source.get("Bucket")), str(source.get("Key")))
        yield Request("s3:PutObject", bucket, key)
    elif operation in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        yield Request("s3:ListBucket", bucket)
    else:
        yield Request(f"s3:{operation}", bucket, key)
