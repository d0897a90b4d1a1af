"""AlertsTopic: operational alerts (see aiqleads.notifications.alerts), with message attributes for filter policies."""

from __future__ import annotations

from typing import ClassVar

from aiqleads.iam import Access, access
from aiqleads.notifications.alerts import Alert
from aiqleads.storage.messaging import SnsTopic, message_attribute


def _subject(text: str) -> str:
    """SNS subjects are printable ASCII without line breaks, at most 100 characters."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)[:100]


class AlertPublisher(SnsTopic):
    IAM: ClassVar[tuple[Access, ...]] = (access("sns:Publish", on="topic_arn"),)

    def publish(self, alert: Alert) -> None:
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=_subject(f"[AIQLeads {alert.severity}] {alert.summary}"),
            Message=alert.model_dump_json(),
            MessageAttributes={name: message_attribute(value) for name, value in alert.attributes().items()},
        )
