"""The events function's record handler: one interaction message -> its log item and the aggregates, re-score,
maybe an event.

SQS delivers at least once, so each message is applied once per event id (Powertools idempotency on the
idempotency table): a redelivered message neither counts the interaction twice nor publishes twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from aiqleads.composition import events_idempotency, events_leads, queue_dead_letters
from aiqleads.models import Interaction
from aiqleads.notifications.dead_letters import DeadLetteringProcessor
from aiqleads.process_cache import per_process
from aiqleads.settings import EventsSettings

processor = DeadLetteringProcessor(queue_dead_letters)  # alerts a failure on its last receive


@per_process
def idempotency_config() -> IdempotencyConfig:
    # IDEMPOTENCY_EXPIRES_AFTER outlives the queue's and its dead-letter queue's retention (template.yaml), so a
    # message redriven late still finds its record.
    expires = EventsSettings.current().idempotency_expires_after
    return IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=round(expires))


def register_context(context: Any) -> None:
    """Lets idempotency expire an in-progress record when the invocation that held it timed out."""
    idempotency_config().register_lambda_context(context)


@per_process
def _apply_once() -> Callable[..., Any]:
    config = idempotency_config()

    @idempotent_function(data_keyword_argument="message", persistence_store=events_idempotency(), config=config)
    def apply(message: dict[str, Any]) -> dict[str, Any]:
        interaction = Interaction.model_validate(message["interaction"])
        change = events_leads().apply_interaction(message["tenant_id"], interaction, message["event_id"])
        if change is None:
            return {"event_id": message["event_id"], "applied": False, "reason": "lead not found"}
        return {
            "event_id": message["event_id"],
            "applied": True,
            "score": change.current.score,
            "changed": change.changed,
        }

    return apply


def process_interaction(record: SQSRecord) -> dict[str, Any]:
    """A malformed message raises: it is retried and then dead-lettered, never silently dropped."""
    message = json.loads(record.body)
    for key in ("event_id", "tenant_id", "interaction"):
        if key not in message:
            raise ValueError(f"interaction message without {key!r}")
    return _apply_once()(message=message)
