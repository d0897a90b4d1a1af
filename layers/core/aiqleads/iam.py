"""The IAM actions of the AWS calls a class makes, declared next to those calls (no boto3 here).

    class LeadRepository(DynamoTable):
        IAM = (access("dynamodb:Query", "dynamodb:PutItem", on="table_name"),
               access("dynamodb:Query", on="table_name", path="index/TenantIndex"))

`on` names the attribute holding the resource (a table name, queue URL, topic ARN or bucket name, set from the
function's settings), `path` a part of it (an index, an S3 key pattern). `infra.iam` walks each function's wiring
(`composition.FUNCTION_WIRING`), maps every such attribute back to the template resource its environment
variable refers to, and compares the result with the function's policies in template.yaml; in the local cloud every
AWS call a function makes is checked against the same declarations, so they cannot drift from the calls.
A declaration whose attribute is None is not wired (that function holds the class but not the resource: the API
submits recommendation jobs without their results bucket). S3 access is declared by the classes that decide the keys (the bulk job, recommendation jobs), per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

# `on` for the bucket whose S3 notifications the function is invoked with (the bulk job reads the object a
# notification names): infra.iam finds it in the template from the function's SQS event source.
NOTIFYING_BUCKET = "<the bucket notifying the function's queue>"


@dataclass(frozen=True, slots=True)
class Access:
    actions: tuple[str, ...]
    on: str
    path: str = ""


def access(*actions: str, on: str, path: str = "") -> Access:
    return Access(tuple(actions), on, path)
