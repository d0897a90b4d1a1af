"""The outbox relay (the publisher function): events written to OutboxTable, in stream order, to the domain-events
topic.

Lambda hands the function a batch of the stream's records; the relay publishes them in order, ten per SNS call,
and stops at the first one SNS could not take for now (throttled, unavailable, a lost connection): that record's
sequence number is the batch's one item failure, so Lambda retries from it and nothing after it is published
ahead of it or twice. An event SNS refuses for good (SNS says the sender is at fault, or the record holds no
event) cannot succeed on a retry: it goes to the publisher's dead-letter queue, with an alert, and the stream
moves on. So every event written is published once, or sits in the dead-letter queue saying why. An event is
published twice, with the same id (webhooks and subscribers drop duplicates by id), only when a publish's answer
was lost, or when SNS refused one entry of a call for now but took the ones after it (the retry sends those again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from aiqleads.notifications.alerts import Alert, AlertSink
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import MessageQueue

logger = logging.getLogger(__name__)

SNS_BATCH = 10


@dataclass(frozen=True, slots=True)
class Refusal:
    """An entry of a batch publish that failed: its index in the batch, and whether retrying can help."""

    index: int
    code: str
    message: str
    permanent: bool


class EventTopic(Protocol):
    def publish_batch(self, events: Sequence[DomainEvent]) -> list[Refusal]: ...


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One stream record: where it is in the stream (its sequence number) and the outbox item's `event`."""

    sequence_number: str
    body: Any


@dataclass
class OutboxRelay:
    topic: EventTopic
    dead_letters: MessageQueue
    alerts: AlertSink

    def relay(self, records: Sequence[OutboxRecord]) -> str | None:
        """Publish the records' events in order; the sequence number to retry from (None: all done)."""
        pending: list[tuple[OutboxRecord, DomainEvent]] = []
        for record in records:
            event = self._event(record)
            if event is not None:
                pending.append((record, event))
        for start in range(0, len(pending), SNS_BATCH):
            chunk = pending[start : start + SNS_BATCH]
            try:
                refusals = self.topic.publish_batch([event for _, event in chunk])
            except Exception as error:  # the call itself failed (SNS down, throttled, connection): retry it all
                logger.warning("publishing %d events failed, will retry: %s", len(chunk), error)
                return chunk[0][0].sequence_number
            retry_at = min((r.index for r in refusals if not r.permanent), default=len(chunk))
            for refusal in refusals:
                if refusal.permanent and refusal.index < retry_at:
                    record, event = chunk[refusal.index]
                    self._dead_letter(record, f"{refusal.code}: {refusal.message}", event)
            if retry_at < len(chunk):
                return chunk[retry_at][0].sequence_number
        return None

    def _event(self, record: OutboxRecord) -> DomainEvent | None:
        """The record's event; one that cannot be read is dead-lettered (no retry can read it)."""
        try:
            if not isinstance(record.body, str):
                raise ValueError(f"the outbox item's event is {type(record.body).__name__}, not a JSON string")
            return DomainEvent.model_validate_json(record.body)
        except (ValidationError, ValueError) as error:
            self._dead_letter(record, f"unreadable event: {error}", None)
            return None

    def _dead_letter(self, record: OutboxRecord, reason: str, event: DomainEvent | None) -> None:
        body = {
            "reason": reason,
            "sequence_number": record.sequence_number,
            "event": event.model_dump(mode="json") if event is not None else record.body,
        }
        self.dead_letters.send(body)
        self.alerts.publish(
            Alert(
                type="event.dead_lettered",
                severity="critical",
                tenant_id=event.tenant_id if event is not None else None,
                summary=f"domain event {event.id if event else record.sequence_number} not published"[:200],
                details={
                    "reason": reason[:1000],
                    "event_id": event.id if event else None,
                    "event_type": event.type if event else None,
                },
            )
        )
