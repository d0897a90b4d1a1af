"""IdempotencyTable: Powertools' idempotency records (the events function applies each message once)."""

from __future__ import annotations

from typing import ClassVar

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from aiqleads.iam import Access, access


class IdempotencyStore(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence layer, with the calls it makes: a conditional put claims a message, get
    reads a completed one, update stores the result, delete frees the claim when processing failed."""

    IAM: ClassVar[tuple[Access, ...]] = (
        access("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", on="table_name"),
    )
