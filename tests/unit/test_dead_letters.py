"""queue.dead_lettered: a record failing on its queue's last receive is alerted once, before its failure is reported;
earlier receives are not, and an alert that cannot be published never hides the failure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from aiqleads.models import Interaction
from aiqleads.notifications.alerts import Alert
from aiqleads.notifications.dead_letters import DeadLetterAlerts, DeadLetteringProcessor, describe_error
from aiqleads.webhooks.consumer import handle_batch

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:aiqleads-dev-events"


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.alerts: list[Alert] = []
        self.fail = fail

    def publish(self, alert: Alert) -> None:
        if self.fail:
            raise ConnectionError("SNS is down")
        self.alerts.append(alert)


def record(message_id: str, receives: int, body: str = "{not json") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def parse(record: SQSRecord) -> str:
    json.loads(record.body)
    return "ok"


def run(sink: Sink, *records: dict[str, Any]) -> Any:
    alerts = DeadLetterAlerts(sink, {QUEUE_ARN: 5})
    processor = DeadLetteringProcessor(lambda: alerts)
    return process_partial_response(event={"Records": list(records)}, record_handler=parse, processor=processor)


def test_only_the_last_receive_is_alerted_and_the_failure_still_reported() -> None:
    sink = Sink()
    response = run(sink, record("early", 4), record("last", 5), record("fine", 5, body="{}"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "early"}, {"itemIdentifier": "last"}]}
    (alert,) = sink.alerts
    assert alert.type == "queue.dead_lettered"
    assert alert.details["queue"] == "aiqleads-dev-events"
    assert alert.details["message_id"] == "last"
    assert alert.details["receive_count"] == alert.details["max_receive_count"] == 5
    assert alert.details["error"].startswith("JSONDecodeError: ")


def test_an_alert_that_cannot_be_published_does_not_hide_the_failure() -> None:
    with pytest.raises(BatchProcessingError):  # every record failed: the whole batch is retried, then dead-lettered
        run(Sink(fail=True), record("last", 5))


def test_a_queue_without_a_known_count_is_never_alerted() -> None:
    sink = Sink()
    alerts = DeadLetterAlerts(sink, {})
    alerts.failed(record("last", 99), ValueError("x"))
    assert sink.alerts == []


def test_a_validation_error_is_described_without_the_values() -> None:
    with pytest.raises(ValidationError) as caught:
        Interaction.model_validate({"lead_id": "jane.doe@example.com", "actor": 3, "action": "?", "timestamp": "x"})
    described = describe_error(caught.value)
    assert described.startswith("ValidationError: ")
    assert "jane.doe" not in described
    assert "action" in described


def test_notify_alerts_a_malformed_message_on_its_last_receive() -> None:
    sink = Sink()
    alerts = DeadLetterAlerts(sink, {QUEUE_ARN: 5})
    event = {"Records": [record("early", 1), record("last", 5)]}
    response = handle_batch(event, lambda: None, lambda: alerts)  # type: ignore[arg-type,return-value]
    assert response == {"batchItemFailures": [{"itemIdentifier": "early"}, {"itemIdentifier": "last"}]}
    assert [alert.details["message_id"] for alert in sink.alerts] == ["last"]
