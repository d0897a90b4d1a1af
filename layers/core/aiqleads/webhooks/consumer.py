"""The notify function's batch: each record (a domain event or a delivery task) handled concurrently.

Attempts wait on receivers (up to WEBHOOK_TIMEOUT each, 15 s by default), so a batch of 10 handled one after
the other could outlast the function's 60 s; Powertools' BatchProcessor is sequential, hence this small
concurrent version with the same contract: failed records are reported in `batchItemFailures` (retried by SQS,
dead-lettered after maxReceiveCount), never dropped. A malformed message fails the same way. A record failing on
its last receive is alerted (`queue.dead_lettered`, notifications/dead_letters.py) before it is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from aiqleads.composition import notifier as default_notifier
from aiqleads.composition import queue_dead_letters
from aiqleads.notifications.dead_letters import DeadLetterAlerts
from aiqleads.webhooks.delivery import Notifier

logger = Logger(child=True)
MAX_CONCURRENCY = 10


def handle_batch(
    event: dict[str, Any],
    make_notifier: Callable[[], Notifier] = default_notifier,
    dead_letters: Callable[[], DeadLetterAlerts] = queue_dead_letters,
) -> dict[str, Any]:
    records: list[dict[str, Any]] = list(event.get("Records") or [])
    if not records:
        return {"batchItemFailures": []}
    notifier = make_notifier()

    def one(record: dict[str, Any]) -> str:
        message = json.loads(record["body"])
        if not isinstance(message, dict):
            raise ValueError("a notify message is a JSON object")
        return notifier.handle(message)

    failures: list[dict[str, str]] = []
    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENCY, len(records))) as pool:
        futures = [(record, pool.submit(one, record)) for record in records]
        for record, future in futures:
            message_id = record["messageId"]
            try:
                outcome = future.result()
            except Exception as error:
                logger.exception("notify message failed; SQS will retry it", extra={"message_id": message_id})
                _alert_if_last(dead_letters, record, error)
                failures.append({"itemIdentifier": message_id})
            else:
                logger.debug("notify message handled", extra={"message_id": message_id, "outcome": outcome})
    return {"batchItemFailures": failures}


def _alert_if_last(dead_letters: Callable[[], DeadLetterAlerts], record: dict[str, Any], error: Exception) -> None:
    try:
        dead_letters().failed(record, error)
    except Exception:  # e.g. its settings are missing: the record still fails, and is dead-lettered
        logger.exception("dead-letter alerting failed", extra={"message_id": record.get("messageId")})
