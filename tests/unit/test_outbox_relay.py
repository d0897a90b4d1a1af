"""The outbox relay: events in stream order to the topic, retried from the first one SNS could not take,
dead-lettered (with an alert) when SNS refuses one for good; the lead service announces in its write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from aiqleads.models import Lead
from aiqleads.notifications.alerts import Alert
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.notifications.relay import OutboxRecord, OutboxRelay, Refusal
from aiqleads.storage.outbox import OUTBOX_RETENTION_SECONDS, Outbox
from tests.fakes import MemoryQueue, memory_lead_service
from tests.unit.test_api import LEAD


@dataclass
class Topic:
    """SNS as the relay sees it: a list of planned answers, one per call (a list of refusals, or an error)."""

    answers: list[Any] = field(default_factory=list)
    published: list[str] = field(default_factory=list)  # event ids SNS accepted

    def publish_batch(self, events: Sequence[DomainEvent]) -> list[Refusal]:
        answer = self.answers.pop(0) if self.answers else []
        if isinstance(answer, Exception):
            raise answer
        refused = {refusal.index for refusal in answer}
        self.published += [event.id for index, event in enumerate(events) if index not in refused]
        return list(answer)


@dataclass
class Alerts:
    sent: list[Alert] = field(default_factory=list)

    def publish(self, alert: Alert) -> None:
        self.sent.append(alert)


def records(count: int) -> list[OutboxRecord]:
    events = [
        DomainEvent(id=f"evt_{n}", type="lead.scored", tenant_id="t1", data={"lead_id": f"l{n}"}) for n in range(count)
    ]
    return [OutboxRecord(str(100 + n), event.model_dump_json()) for n, event in enumerate(events)]


def relay(topic: Topic) -> tuple[OutboxRelay, MemoryQueue, Alerts]:
    dead, alerts = MemoryQueue(), Alerts()
    return OutboxRelay(topic, dead, alerts), dead, alerts


def test_every_event_is_published_in_order_ten_per_call() -> None:
    topic = Topic()
    assert relay(topic)[0].relay(records(25)) is None
    assert topic.published == [f"evt_{n}" for n in range(25)]


def test_sns_unavailable_retries_from_the_first_unpublished_event_and_publishes_nothing_twice() -> None:
    topic = Topic(answers=[[], ConnectionError("SNS is down")])
    the_relay, dead, _ = relay(topic)
    batch = records(25)
    assert the_relay.relay(batch) == "110"  # the first of the second call's ten
    assert topic.published == [f"evt_{n}" for n in range(10)]
    assert the_relay.relay(batch[10:]) is None  # Lambda's retry, from that record
    assert topic.published == [f"evt_{n}" for n in range(25)]
    assert dead.sent == []


def test_a_refusal_that_can_pass_later_retries_from_it_and_a_permanent_one_is_dead_lettered_with_an_alert() -> None:
    too_long = Refusal(1, "InvalidParameter", "Message too long", permanent=True)
    throttled = Refusal(3, "Throttling", "Rate exceeded", permanent=False)
    topic = Topic(answers=[[too_long, throttled]])
    the_relay, dead, alerts = relay(topic)
    assert the_relay.relay(records(5)) == "103"
    # SNS took 4 in the same call; the retry from 3 sends it again, with its id (subscribers drop the duplicate)
    assert topic.published == ["evt_0", "evt_2", "evt_4"]
    [dead_letter] = dead.sent
    assert dead_letter["event"]["id"] == "evt_1"
    assert dead_letter["reason"] == "InvalidParameter: Message too long"
    [alert] = alerts.sent
    assert (alert.type, alert.severity, alert.tenant_id) == ("event.dead_lettered", "critical", "t1")
    assert alert.details["event_id"] == "evt_1"


def test_a_record_without_a_readable_event_is_dead_lettered_not_retried_forever() -> None:
    topic = Topic()
    the_relay, dead, alerts = relay(topic)
    batch = [OutboxRecord("99", "{not json"), OutboxRecord("98", None), *records(1)]
    assert the_relay.relay(batch) is None
    assert topic.published == ["evt_0"]
    assert [item["sequence_number"] for item in dead.sent] == ["99", "98"]
    assert all(alert.type == "event.dead_lettered" for alert in alerts.sent)


def test_the_outbox_item_carries_the_event_and_expires_after_the_stream_has_dropped_it() -> None:
    event = DomainEvent(type="bulk.completed", tenant_id="t1", data={"job_id": "j1"})
    outbox = Outbox("OutboxTable", dynamodb=object(), clock=lambda: 1_000_000.0)
    put = outbox.transaction_put(event)["Put"]
    assert put["TableName"] == "OutboxTable"
    assert put["Item"]["pk"] == {"S": event.id}
    assert DomainEvent.model_validate_json(put["Item"]["event"]["S"]) == event
    assert int(put["Item"]["expires_at"]["N"]) == 1_000_000 + OUTBOX_RETENTION_SECONDS
    assert OUTBOX_RETENTION_SECONDS > 86_400  # the stream keeps records 24 h


def test_the_lead_service_announces_in_the_write_and_a_refused_write_announces_nothing() -> None:
    lead = LEAD
    service = memory_lead_service()
    service.ingest("t1", Lead.model_validate(lead))
    with pytest.raises(Exception, match="already exists"):
        service.ingest("t1", Lead.model_validate(lead))
    announced = service.leads.outbox.published  # type: ignore[attr-defined]
    assert [(event.type, event.data["lead_id"]) for event in announced] == [("lead.scored", lead["id"])]
