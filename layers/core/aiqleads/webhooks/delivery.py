"""The notifier: domain events in, signed webhooks out, each (event, endpoint) delivered at most once.

A domain event (from the domain-events topic, raw) becomes one `DeliveryTask` per matching active endpoint, sent
back to the notify queue. A task makes one attempt:

    2xx                  delivered (the endpoint's failing streak ends)
    410 Gone             the endpoint is disabled at once and its owner alerted
    anything else        retried after the schedule's next delay (jittered; a 429/503 Retry-After stretches it),
                         by queueing the next attempt with DelaySeconds (longer waits hop: SQS delays <= 900 s)
    last attempt failed  the task goes to the notify dead-letter queue (redrivable) and an alert is published
    failing for too long the endpoint is disabled (WEBHOOK_DISABLE_AFTER without a success) and its owner alerted

SQS delivers at least once, so before sending, a task claims its (round, attempt) in the store with a
conditional write: a duplicate copy of a task, or of the domain event, finds the claim taken and sends nothing.
Only a crash in the middle of an attempt (after the request, before the outcome is written) can repeat it once
the lease expires; receivers dedupe on `webhook-id`, which is the event id on every attempt.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from aiqleads import telemetry
from aiqleads.notifications.alerts import Alert, AlertSink
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.ports import MessageQueue
from aiqleads.webhooks.models import DeliveryAttempt, DeliveryTask, Outcome, WebhookEndpoint, WebhookPayload
from aiqleads.webhooks.schedule import RetryPolicy, parse_retry_after
from aiqleads.webhooks.settings import WebhookSettings
from aiqleads.webhooks.signing import signature_headers
from aiqleads.webhooks.store import FinalStatus, WebhookStore
from aiqleads.webhooks.transport import HttpTransport, Response, Transport
from aiqleads.webhooks.urls import UnsafeUrl, UrlPolicy

logger = Logger(child=True)

SQS_MAX_DELAY = 900
LEASE_MARGIN_SECONDS = 30.0
RETRY_AFTER_STATUSES = frozenset({429, 503})


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def attempt_once(
    endpoint: WebhookEndpoint,
    message_id: str,
    body: bytes,
    *,
    policy: UrlPolicy,
    transport: Transport,
    settings: WebhookSettings,
    now: float,
) -> Response:
    """Check the URL again (DNS may have changed since the subscription), sign, send once."""
    try:
        target = policy.check(endpoint.url)
    except UnsafeUrl as error:
        return Response(status=None, latency_ms=0.0, error=f"refused: {error}")
    headers = signature_headers(endpoint.signing_secrets(_utc(now)), message_id, int(now), body)
    return transport.post(target, headers, body, timeout=settings.timeout_seconds, cap=settings.response_cap_bytes)


class Notifier:
    def __init__(
        self,
        store: WebhookStore,
        queue: MessageQueue,
        dead_letters: MessageQueue,
        alerts: AlertSink,
        settings: WebhookSettings,
        *,
        transport: Transport | None = None,
        policy: UrlPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.queue = queue
        self.dead_letters = dead_letters
        self.alerts = alerts
        self.settings = settings
        self.transport = transport or HttpTransport()
        self.policy = policy or UrlPolicy(allow_loopback=settings.allow_loopback)
        self.retries = RetryPolicy(settings.retry_schedule, settings.retry_jitter, rng)
        self.clock = clock

    # ------------------------------------------------------------------------------------------ entry point

    def handle(self, message: dict[str, Any]) -> str:
        """One notify-queue message (a raw domain event or a delivery task); returns what was done."""
        if message.get("kind") == "webhook.delivery":
            return self.deliver(DeliveryTask.model_validate(message))
        return self.fan_out(DomainEvent.model_validate(message))

    def fan_out(self, event: DomainEvent) -> str:
        endpoints = [e for e in self.store.list_endpoints(event.tenant_id) if e.accepts(event.type, event.data)]
        if not endpoints:
            return "no_subscribers"
        body = WebhookPayload.of(event).body()
        tasks = [
            DeliveryTask(
                tenant_id=event.tenant_id, endpoint_id=e.id, event_id=event.id, event_type=event.type, body=body
            ).model_dump(mode="json")
            for e in endpoints
        ]
        self.queue.send_many(tasks)
        return f"fanned_out:{len(tasks)}"

    # ------------------------------------------------------------------------------------------ one attempt

    def deliver(self, task: DeliveryTask) -> str:
        now = self.clock()
        if task.not_before - now > 1.0:  # SQS delays in whole seconds, at most 900: hop again
            self._enqueue(task, task.not_before - now)
            return "deferred"
        endpoint = self.store.get_endpoint(task.tenant_id, task.endpoint_id)
        if endpoint is None or endpoint.status != "active":
            return "skipped"  # deleted or disabled: its pending deliveries are dropped
        claim = self.store.claim(task, now, now + self.settings.timeout_seconds + LEASE_MARGIN_SECONDS)
        if claim.kind == "duplicate":
            logger.info("duplicate delivery task ignored", extra={"event_id": task.event_id, "attempt": task.attempt})
            return "duplicate"
        task = task.model_copy(update={"round": claim.round, "attempt": claim.attempt, "dead_lettered": False})
        if claim.kind == "resume":  # the outcome was written but the follow-up may be missing
            if claim.status == "dead":
                self.dead_letters.send(task.model_copy(update={"dead_lettered": True}).model_dump(mode="json"))
            else:
                delay = self.retries.delay_after(task.attempt) or 0.0
                self._enqueue(task.model_copy(update={"attempt": task.attempt + 1, "not_before": now + delay}), delay)
            return "resumed"

        response = attempt_once(
            endpoint,
            task.event_id,
            task.body.encode(),
            policy=self.policy,
            transport=self.transport,
            settings=self.settings,
            now=now,
        )
        telemetry.webhook_attempt(response.delivered, response.latency_ms)
        if response.delivered:
            self._finish(task, "delivered")
            self._record(task, now, response, "delivered")
            if endpoint.failing_since is not None:
                self.store.clear_failing(task.tenant_id, task.endpoint_id)
            return "delivered"
        return self._failed(task, endpoint, now, response)

    def _failed(self, task: DeliveryTask, endpoint: WebhookEndpoint, now: float, response: Response) -> str:
        if response.status == 410:
            self._finish(task, "dropped")
            self._record(task, now, response, "endpoint_disabled")
            self._disable(endpoint, "the endpoint answered 410 Gone", now)
            return "endpoint_disabled"
        failing_since = self.store.mark_failing(task.tenant_id, task.endpoint_id, _utc(now))
        if failing_since is not None and now - failing_since.timestamp() >= self.settings.disable_after_seconds:
            self._finish(task, "dropped")
            self._record(task, now, response, "endpoint_disabled")
            reason = f"no successful delivery since {failing_since.isoformat()}"
            self._disable(endpoint, reason, now)
            return "endpoint_disabled"
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.retry_after, now)
        delay = self.retries.delay_after(task.attempt, retry_after)
        if delay is None:
            if not self._finish(task, "dead"):
                return "lease_lost"
            self.dead_letters.send(task.model_copy(update={"dead_lettered": True}).model_dump(mode="json"))
            self._record(task, now, response, "dead_lettered")
            self._alert(
                Alert(
                    type="webhook.dead_lettered",
                    tenant_id=task.tenant_id,
                    summary=f"webhook {task.event_type} to {endpoint.id} failed {task.attempt} times",
                    details={
                        "endpoint_id": endpoint.id,
                        "url": endpoint.url,
                        "event_id": task.event_id,
                        "event_type": task.event_type,
                        "attempts": task.attempt,
                        "last_status_code": response.status,
                        "last_error": response.error,
                        # The operator's next step, copy-paste ready (AWS credentials and region still needed).
                        "redrive": (
                            "python -m aiqleads.webhooks.redrive"
                            f" --queue-url {self.settings.notify_queue_url}"
                            f" --dead-letter-queue-url {self.settings.notify_dead_letter_queue_url}"
                        ),
                    },
                )
            )
            return "dead_lettered"
        if not self._finish(task, "retrying"):
            return "lease_lost"
        self._enqueue(task.model_copy(update={"attempt": task.attempt + 1, "not_before": now + delay}), delay)
        self._record(task, now, response, "retrying", next_attempt_at=now + delay)
        return "retrying"

    # ------------------------------------------------------------------------------------------ helpers

    def _finish(self, task: DeliveryTask, status: FinalStatus) -> bool:
        finished = self.store.finish(task, status, self.clock())
        if not finished:
            logger.warning("delivery claim lost to another copy", extra={"event_id": task.event_id})
        return finished

    def _enqueue(self, task: DeliveryTask, delay: float) -> None:
        self.queue.send(task.model_dump(mode="json"), delay_seconds=min(SQS_MAX_DELAY, max(0, math.ceil(delay))))

    def _disable(self, endpoint: WebhookEndpoint, reason: str, now: float) -> None:
        if not self.store.disable_endpoint(endpoint.tenant_id, endpoint.id, reason, _utc(now)):
            return  # already disabled (by another attempt): one alert only
        self._alert(
            Alert(
                type="webhook.endpoint_disabled",
                severity="critical",
                tenant_id=endpoint.tenant_id,
                summary=f"webhook endpoint {endpoint.id} disabled: {reason}"[:200],
                details={"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason},
            )
        )

    def _alert(self, alert: Alert) -> None:
        try:
            self.alerts.publish(alert)
        except Exception:  # the state is recorded and the DLQ alarm still fires: never fail the delivery for it
            logger.exception("publishing an alert failed", extra={"alert_type": alert.type})

    def _record(
        self,
        task: DeliveryTask,
        at: float,
        response: Response,
        outcome: Outcome,
        next_attempt_at: float | None = None,
    ) -> None:
        attempt = DeliveryAttempt(
            event_id=task.event_id,
            event_type=task.event_type,
            attempt=task.attempt,
            round=task.round,
            at=_utc(at),
            status_code=response.status,
            latency_ms=round(response.latency_ms, 1),
            outcome=outcome,
            error=response.error or (None if response.delivered else f"HTTP {response.status}"),
            next_attempt_at=None if next_attempt_at is None else _utc(next_attempt_at),
            response_excerpt=response.body_excerpt or None,
        )
        try:
            self.store.record_attempt(task.tenant_id, task.endpoint_id, attempt)
        except Exception:  # history is for people; the delivery state is what guards the sends
            logger.exception("recording a delivery attempt failed", extra={"event_id": task.event_id})
        logger.info(
            "webhook attempt",
            extra={
                "endpoint_id": task.endpoint_id,
                "event_id": task.event_id,
                "attempt": task.attempt,
                "status_code": response.status,
                "latency_ms": attempt.latency_ms,
                "outcome": outcome,
            },
        )
