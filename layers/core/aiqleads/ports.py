"""The ports every use case sends through, declared once: a queue of work items and the domain-event sink.

`aiqleads.storage.messaging` implements both over SQS and SNS; tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiqleads.notifications.domain_events import DomainEvent


class MessageQueue(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str: ...
    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None: ...


class EventSink(Protocol):
    def publish(self, event: DomainEvent) -> None: ...
    def publish_many(self, events: Sequence[DomainEvent]) -> None: ...
