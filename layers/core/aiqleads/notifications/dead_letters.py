"""A `queue.dead_lettered` alert for a queue message that failed on its last receive.

SQS moves a message to its queue's dead-letter queue once it has been received `maxReceiveCount` times
(template.yaml's QueueRedrive mapping, which also sets QUEUE_MAX_RECEIVES: queue ARN -> that count). In AWS a CloudWatch alarm
on the dead-letter queue's depth says so too, minutes later and without naming the message; the local cloud runs no
alarms. So the consumer itself, seeing a record fail whose ApproximateReceiveCount has reached that count, publishes
the alert (queue, message id, receive count, error) before it reports the failure: the same code alerts in both
places. The message is still reported failed, so SQS dead-letters it: the alert never replaces the dead letter.

    processor = DeadLetteringProcessor(queue_dead_letters)   # Powertools' BatchProcessor, alerting on last receives
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from pydantic import ValidationError

from aiqleads.notifications.alerts import Alert, AlertSink

logger = Logger(child=True)
ERROR_CHARS = 300


def describe_error(error: BaseException) -> str:
    """What failed, without the values a validation error quotes (a lead's contact details, say)."""
    if isinstance(error, ValidationError):
        fields = ", ".join(".".join(str(part) for part in e["loc"]) or "(message)" for e in error.errors()[:5])
        return f"ValidationError: {error.error_count()} invalid field(s): {fields}"[:ERROR_CHARS]
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


def queue_name(record: Mapping[str, Any]) -> str:
    """The queue a record came from: the last part of its eventSourceARN."""
    return str(record.get("eventSourceARN") or "").rpartition(":")[2] or "unknown queue"


def receive_count(record: Mapping[str, Any]) -> int:
    attributes = record.get("attributes") or {}
    try:
        return int(attributes.get("ApproximateReceiveCount") or 0)
    except (TypeError, ValueError):
        return 0


class DeadLetterAlerts:
    """Alerts a record's failure when it was the record's last receive (`max_receives`: queue ARN -> its
    maxReceiveCount; a queue not in it is never alerted: the dead-letter queue's alarm is then the only word)."""

    def __init__(self, alerts: AlertSink | None, max_receives: Mapping[str, int]) -> None:
        self.alerts = alerts
        self.max_receives = dict(max_receives)

    def last_receive(self, record: Mapping[str, Any]) -> int | None:
        """The record's queue's maxReceiveCount when this receive is the last, else None."""
        limit = self.max_receives.get(str(record.get("eventSourceARN") or ""))
        return limit if limit is not None and receive_count(record) >= limit else None

    def failed(self, record: Mapping[str, Any], error: BaseException) -> None:
        """Called for every failed record; publishes only on its last receive. Never raises: the failure is what
        must be reported, whatever happens to the alert."""
        limit = self.last_receive(record)
        if self.alerts is None or limit is None:
            return
        queue, message_id = queue_name(record), str(record.get("messageId") or "")
        alert = Alert(
            type="queue.dead_lettered",
            severity="critical",
            summary=f"a message on {queue} failed its last receive and goes to the dead-letter queue"[:200],
            details={
                "queue": queue,
                "message_id": message_id,
                "receive_count": receive_count(record),
                "max_receive_count": limit,
                "error": describe_error(error),
            },
        )
        try:
            self.alerts.publish(alert)
        except Exception:
            logger.exception("could not publish queue.dead_lettered", extra={"queue": queue, "message_id": message_id})
        else:
            logger.error("message dead-lettered", extra={"queue": queue, "message_id": message_id})


class DeadLetteringProcessor(BatchProcessor):
    """Powertools' SQS BatchProcessor, telling `dead_letters()` (built on the first failure: settings are read on
    first use, never at import) of every failed record before the failure is reported."""

    def __init__(self, dead_letters: Callable[[], DeadLetterAlerts]) -> None:
        super().__init__(event_type=EventType.SQS)
        self._dead_letters = dead_letters

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        if isinstance(record, Mapping) and error is not None:
            try:
                self._dead_letters().failed(record, error)
            except Exception:  # e.g. its settings are missing: the record still fails, and is dead-lettered
                logger.exception("dead-letter alerting failed", extra={"message_id": record.get("messageId")})
        return super().failure_handler(record, exception)
