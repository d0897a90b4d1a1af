"""The notifier's state machine against the real DynamoDB repository (moto in memory, no sockets), with a fake
transport, fake queues and a fake clock: one send per (event, endpoint) whatever SQS duplicates, retries on the
schedule, Retry-After, 410, dead letters and redrive, disabling an endpoint that fails for days."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook

from aiqleads.errors import InvalidInput, NotFound
from aiqleads.notifications.alerts import Alert
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.storage.webhooks import WebhookRepository
from aiqleads.webhooks.consumer import handle_batch
from aiqleads.webhooks.delivery import Notifier
from aiqleads.webhooks.models import WebhookCreate
from aiqleads.webhooks.service import WebhookService
from aiqleads.webhooks.settings import WebhookSettings
from aiqleads.webhooks.transport import Response
from aiqleads.webhooks.urls import Target, UrlPolicy

TENANT = "tenant-a"
HOSTS = {"hooks.example.com": ["93.184.216.34"], "other.example.com": ["93.184.216.35"]}


def resolve(host: str, port: int) -> list[str]:
    return HOSTS[host]


@dataclass
class FakeTransport:
    """Answers from a script per host (the last answer repeats); keeps every request."""

    script: dict[str, list[Response]] = field(default_factory=dict)
    sent: list[tuple[Target, dict[str, str], bytes]] = field(default_factory=list)

    def post(self, target: Target, headers: Mapping[str, str], body: bytes, *, timeout: float, cap: int) -> Response:
        self.sent.append((target, dict(headers), body))
        answers = self.script.get(target.host) or [Response(200, 3.0)]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@dataclass
class FakeQueue:
    messages: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        self.messages.append((json.loads(json.dumps(body)), delay_seconds))
        return str(len(self.messages))

    def send_many(self, bodies: Any) -> None:
        for body in bodies:
            self.send(body)

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.messages = self.messages, []
        return taken


@dataclass
class FakeAlerts:
    alerts: list[Alert] = field(default_factory=list)

    def publish(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    repo: WebhookRepository
    service: WebhookService
    notifier: Notifier
    transport: FakeTransport
    queue: FakeQueue
    dlq: FakeQueue
    alerts: FakeAlerts
    clock: Clock

    def run_queue(self, max_rounds: int = 50) -> list[str]:
        """Deliver queued tasks (advancing the clock over their delays) until the queue is empty."""
        outcomes: list[str] = []
        for _ in range(max_rounds):
            batch = self.queue.take()
            if not batch:
                return outcomes
            for body, delay in batch:
                self.clock.now += delay
                outcomes.append(self.notifier.handle(body))
        raise AssertionError("the queue never drained")


@pytest.fixture
def world(local_aws: None) -> World:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="buyers",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )  # fmt: skip
    settings = WebhookSettings(retry_schedule=(5, 300, 1800), retry_jitter=0, disable_after_seconds=3 * 86400)
    repo = WebhookRepository("buyers", dynamodb)
    transport, clock = FakeTransport(), Clock()
    policy = UrlPolicy(resolver=resolve)
    queue, dlq, alerts = FakeQueue(), FakeQueue(), FakeAlerts()
    notifier = Notifier(
        repo, queue, dlq, alerts, settings, transport=transport, policy=policy, clock=clock, rng=lambda: 0.5
    )
    service = WebhookService(repo, settings, policy=policy, transport=transport, clock=clock)
    return World(repo, service, notifier, transport, queue, dlq, alerts, clock)


def subscribe(world: World, url: str = "https://hooks.example.com/in", **extra: Any) -> tuple[str, str]:
    created = world.service.create(
        TENANT, WebhookCreate.model_validate({"url": url, "event_types": ["lead.scored"], **extra})
    )
    return created.id, created.secret


def scored(score: int = 80, market: str = "austin") -> DomainEvent:
    return DomainEvent(type="lead.scored", tenant_id=TENANT, data={"lead_id": "l1", "score": score, "market": market})


def publish(world: World, event: DomainEvent) -> str:
    return world.notifier.handle(json.loads(event.model_dump_json()))


def test_event_is_delivered_once_signed_even_when_everything_is_duplicated(world: World) -> None:
    endpoint_id, secret = subscribe(world)
    event = scored()
    assert publish(world, event) == "fanned_out:1"
    assert publish(world, event) == "fanned_out:1"  # SNS/SQS delivered the event twice
    tasks = world.queue.take()
    tasks += tasks  # and each task twice
    outcomes = [world.notifier.handle(body) for body, _ in tasks]
    assert sorted(outcomes) == ["delivered", "duplicate", "duplicate", "duplicate"]
    assert len(world.transport.sent) == 1
    _, headers, body = world.transport.sent[0]
    assert headers["webhook-id"] == event.id
    assert abs(int(headers["webhook-timestamp"]) - world.clock.now) < 1
    # (standardwebhooks' verify() checks the timestamp against the real clock: sign at the fake clock's time)
    verifier = Webhook(secret)
    signed = verifier.sign(event.id, datetime.fromtimestamp(world.clock.now, UTC), body.decode())
    assert headers["webhook-signature"] == signed
    history = world.service.deliveries(TENANT, endpoint_id).data
    assert [(a.outcome, a.status_code) for a in history] == [("delivered", 200)]


def test_failures_are_retried_on_the_schedule_then_delivered(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    world.transport.script["hooks.example.com"] = [
        Response(500, 2.0),
        Response(None, 15000, "timed out"),
        Response(204, 1.0),
    ]
    publish(world, scored())
    start = world.clock.now
    outcomes = world.run_queue()
    assert outcomes == ["retrying", "retrying", "delivered"]
    assert world.clock.now - start == 5 + 300  # jitter 0.5 -> exactly the schedule
    ids = {headers["webhook-id"] for _, headers, _ in world.transport.sent}
    bodies = {body for _, _, body in world.transport.sent}
    assert len(world.transport.sent) == 3
    assert len(ids) == 1
    assert len(bodies) == 1
    history = world.service.deliveries(TENANT, endpoint_id).data
    assert [a.outcome for a in history] == ["delivered", "retrying", "retrying"]  # newest first
    assert history[2].error == "HTTP 500"
    assert history[1].error == "timed out"
    assert history[2].next_attempt_at is not None
    assert world.repo.get_endpoint(TENANT, endpoint_id).failing_since is None  # type: ignore[union-attr]


def test_long_delays_hop_through_the_queue_in_at_most_900_seconds(world: World) -> None:
    subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(500, 1.0)] * 3 + [Response(200, 1.0)]
    publish(world, scored())
    outcomes = world.run_queue()
    assert outcomes == ["retrying", "retrying", "retrying", "deferred", "delivered"]  # 1800 s = 900 + 900


def test_retry_after_on_429_is_honoured(world: World) -> None:
    subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(429, 1.0, retry_after="120"), Response(200, 1.0)]
    publish(world, scored())
    world.notifier.handle(world.queue.messages[0][0])
    world.queue.messages = world.queue.messages[1:]
    (task, delay), *_ = world.queue.messages
    assert delay == 120
    assert task["attempt"] == 2


def test_410_disables_the_endpoint_at_once_and_alerts_its_owner(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(410, 1.0)]
    publish(world, scored())
    assert world.run_queue() == ["endpoint_disabled"]
    view = world.service.get(TENANT, endpoint_id)
    assert view.status == "disabled"
    assert "410" in (view.disabled_reason or "")
    assert [(a.type, a.tenant_id) for a in world.alerts.alerts] == [("webhook.endpoint_disabled", TENANT)]
    assert publish(world, scored()) == "no_subscribers"
    world.service.enable(TENANT, endpoint_id)
    assert publish(world, scored()) == "fanned_out:1"


def test_last_attempt_goes_to_the_dead_letter_queue_and_redrive_delivers_once(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(503, 1.0)]
    publish(world, scored())
    assert world.run_queue() == ["retrying", "retrying", "retrying", "deferred", "dead_lettered"]
    assert len(world.transport.sent) == 4
    dead = world.dlq.take()
    assert len(dead) == 1
    assert dead[0][0]["dead_lettered"] is True
    assert [a.type for a in world.alerts.alerts] == ["webhook.dead_lettered"]
    assert world.service.deliveries(TENANT, endpoint_id).data[0].outcome == "dead_lettered"
    # the receiver recovers; the dead letter is redriven twice (a duplicate): one delivery
    world.transport.script["hooks.example.com"] = [Response(200, 1.0)]
    outcomes = [world.notifier.handle(dead[0][0]), world.notifier.handle(dead[0][0])]
    assert outcomes == ["delivered", "duplicate"]
    assert len(world.transport.sent) == 5


def test_an_endpoint_failing_for_days_is_disabled_and_its_owner_alerted(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(500, 1.0)]
    days = 0
    while world.service.get(TENANT, endpoint_id).status == "active" and days < 6:
        publish(world, scored())
        world.run_queue()
        world.clock.now += 86400
        days += 1
    assert days == 4  # the fourth day's first failure comes more than 3 days after the first one
    types = [a.type for a in world.alerts.alerts]
    assert types.count("webhook.endpoint_disabled") == 1
    assert world.service.get(TENANT, endpoint_id).failing_since is not None


def test_a_success_ends_the_failing_streak(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(500, 1.0), Response(200, 1.0)]
    publish(world, scored())
    world.run_queue()
    assert world.service.get(TENANT, endpoint_id).failing_since is None


def test_filters_and_event_types_choose_the_endpoints(world: World) -> None:
    subscribe(world, filter={"score_min": 70})
    subscribe(world, "https://other.example.com/in", filter={"markets": ["phoenix"]})
    assert publish(world, scored(score=60, market="austin")) == "no_subscribers"
    assert publish(world, scored(score=75, market="austin")) == "fanned_out:1"
    assert publish(world, scored(score=60, market="phoenix")) == "fanned_out:1"
    assert publish(world, scored(score=90, market="phoenix")) == "fanned_out:2"
    other = DomainEvent(type="bulk.completed", tenant_id=TENANT, data={"job_id": "j"})
    assert publish(world, other) == "no_subscribers"


def test_dns_rebinding_is_caught_at_delivery_time(world: World) -> None:
    endpoint_id, _ = subscribe(world)
    HOSTS["hooks.example.com"] = ["169.254.169.254"]
    try:
        publish(world, scored())
        assert world.run_queue()[0] == "retrying"
    finally:
        HOSTS["hooks.example.com"] = ["93.184.216.34"]
    assert world.transport.sent == []
    assert "metadata" in (world.service.deliveries(TENANT, endpoint_id).data[0].error or "")


def test_a_crash_after_recording_a_failure_resumes_without_resending(world: World) -> None:
    subscribe(world)
    world.transport.script["hooks.example.com"] = [Response(500, 1.0), Response(200, 1.0)]
    publish(world, scored())
    ((task, _),) = world.queue.take()
    assert world.notifier.handle(task) == "retrying"
    world.queue.take()  # as if the next attempt had never been queued (crash before SendMessage)
    assert world.notifier.handle(task) == "resumed"  # SQS redelivers the first task
    assert len(world.transport.sent) == 1
    assert world.run_queue() == ["delivered"]


def test_subscriptions_service(world: World) -> None:
    endpoint_id, secret = subscribe(world)
    assert [v.id for v in world.service.list(TENANT).data] == [endpoint_id]
    assert world.service.list("someone-else").data == []
    with pytest.raises(NotFound):
        world.service.get("someone-else", endpoint_id)
    with pytest.raises(InvalidInput) as refused:
        subscribe(world, "https://10.0.0.1/hook")
    assert refused.value.details == [
        {"field": "url", "message": "the host '10.0.0.1' resolves to 10.0.0.1, a private or reserved address"}
    ]
    rotated = world.service.rotate_secret(TENANT, endpoint_id)
    assert rotated.secret != secret
    assert rotated.secret.startswith("whsec_")
    result = world.service.send_test(TENANT, endpoint_id)
    assert result.delivered
    assert result.attempt.event_type == "webhook.test"
    _, headers, body = world.transport.sent[-1]
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2  # new and previous secret during the grace period
    for key in (secret, rotated.secret):
        expected = Webhook(key).sign(headers["webhook-id"], datetime.fromtimestamp(world.clock.now, UTC), body.decode())
        assert expected in signatures
    world.service.delete(TENANT, endpoint_id)
    with pytest.raises(NotFound):
        world.service.delete(TENANT, endpoint_id)


def test_batch_reports_only_the_failed_records(world: World) -> None:
    subscribe(world)
    event = {"Records": [
        {"messageId": "ok", "body": scored().model_dump_json()},
        {"messageId": "bad-json", "body": "{"},
        {"messageId": "bad-shape", "body": json.dumps({"type": "nope"})},
    ]}  # fmt: skip
    assert handle_batch(event, lambda: world.notifier) == {
        "batchItemFailures": [{"itemIdentifier": "bad-json"}, {"itemIdentifier": "bad-shape"}]
    }
