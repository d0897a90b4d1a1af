"""AlertsTopic: operational alerts (see aiqleads.notifications.alerts), with message attributes for filter policies."""

from __future__ import annotations

from typing import Any

from aiqleads.notifications.alerts import Alert
from aiqleads.storage.aws import client


def _subject(text: str) -> str:
    """SNS subjects are printable ASCII without line breaks, at most 100 characters."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)[:100]


class AlertPublisher:
    def __init__(self, topic_arn: str, sns: Any | None = None):
        self.topic_arn = topic_arn
        self._sns = sns

    @property
    def sns(self) -> Any:
        return self._sns or client("sns")

    def publish(self, alert: Alert) -> None:
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=_subject(f"[AIQLeads {alert.severity}] {alert.summary}"),
            Message=alert.model_dump_json(),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in alert.attributes().items()
            },
        )
