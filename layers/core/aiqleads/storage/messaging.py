"""SNS and SQS senders: domain events to the topic, work items to queues."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.notifications.relay import Refusal
from aiqleads.storage.aws import client


def message_attribute(value: str | int | float) -> dict[str, str]:
    if isinstance(value, str):
        return {"DataType": "String", "StringValue": value}
    return {"DataType": "Number", "StringValue": repr(value)}


class SnsTopic:
    """A topic to publish to, with the process's SNS client unless one is given (tests pass their own)."""

    def __init__(self, topic_arn: str, sns: Any | None = None):
        self.topic_arn = topic_arn
        self._sns = sns

    @property
    def sns(self) -> Any:
        return self._sns or client("sns")


class EventPublisher(SnsTopic):
    """Publishes domain events to the domain-events topic, with filterable message attributes."""

    IAM: ClassVar[tuple[Access, ...]] = (access("sns:Publish", on="topic_arn"),)  # PublishBatch is sns:Publish

    def publish_batch(self, events: Sequence[DomainEvent]) -> list[Refusal]:
        """One PublishBatch call of at most 10 events; the entries SNS refused (SenderFault: for good)."""
        entries = [
            {
                "Id": str(index),
                "Message": event.model_dump_json(),
                "MessageAttributes": {k: message_attribute(v) for k, v in event.attributes().items()},
            }
            for index, event in enumerate(events)
        ]
        response = self.sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
        return [
            Refusal(int(f["Id"]), str(f.get("Code", "")), str(f.get("Message", "")), bool(f.get("SenderFault")))
            for f in response.get("Failed") or []
        ]


class QueueSender:
    IAM: ClassVar[tuple[Access, ...]] = (access("sqs:SendMessage", on="queue_url"),)  # and SendMessageBatch

    def __init__(self, queue_url: str, sqs: Any | None = None):
        self.queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        return self._sqs or client("sqs")

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        request: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": json.dumps(body)}
        if delay_seconds:
            request["DelaySeconds"] = max(0, min(900, delay_seconds))
        if attributes:
            request["MessageAttributes"] = {k: message_attribute(v) for k, v in attributes.items()}
        return str(self.sqs.send_message(**request)["MessageId"])

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies[start : start + 10])]
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} messages: {failed[0].get('Message', failed[0])}")
