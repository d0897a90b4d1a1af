"""OutboxTable: every domain event, written as an item, in the same transaction as the write that causes it
where there is one (a new lead, a changed score), else as its own put after the write (a job's close, which
retries with the same event id). The publisher function sends each new item to SNS from the table's stream, so
an event is published if and only if its write happened: an SNS outage delays events, it cannot lose them, and a
crash between the write and the publish cannot happen because there is no publish beside the write.

An item lives `OUTBOX_RETENTION_SECONDS` (DynamoDB's TTL removes it; the stream carries it for 24 h, and the
publisher only takes INSERTs). The key is the event id, so a job that closes twice writes the same item twice and
the second write is no INSERT: the event is published once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.batch import batch_write

OUTBOX_RETENTION_SECONDS = 3 * 86_400  # past the stream's 24 h, and a weekend of a stopped publisher


class Outbox(DynamoTable):
    """The domain-event sink (ports.EventSink) of every function that announces what it did."""

    # PutItem also covers a Put inside TransactWriteItems (LeadRepository's transactions)
    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:PutItem", "dynamodb:BatchWriteItem", on="table_name"),)

    def __init__(self, table_name: str, dynamodb: Any | None = None, clock: Callable[[], float] = time.time):
        super().__init__(table_name, dynamodb)
        self.clock = clock

    def item(self, event: DomainEvent) -> dict[str, Any]:
        """The event's item, in DynamoDB's AttributeValue form."""
        return {
            "pk": {"S": event.id},
            "type": {"S": event.type},
            "tenant_id": {"S": event.tenant_id},
            "event": {"S": event.model_dump_json()},
            "expires_at": {"N": str(int(self.clock()) + OUTBOX_RETENTION_SECONDS)},
        }

    def transaction_put(self, event: DomainEvent) -> dict[str, Any]:
        """The event as one element of a TransactWriteItems call: it is stored if and only if the rest is."""
        return {"Put": {"TableName": self.table_name, "Item": self.item(event)}}

    def publish(self, event: DomainEvent) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=self.item(event))

    def publish_many(self, events: Sequence[DomainEvent]) -> None:
        batch_write(self.dynamodb, self.table_name, (self.item(event) for event in events))
