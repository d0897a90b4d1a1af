"""The bulk_score function's record handler: one BulkQueue message -> the bulk job(s) it names advanced.

Lead files (`uploads/`) go to the bulk scorer, market signal files (`market-signals/`) to the market signal
importer (`aiqleads.markets.imports`), rescoring jobs (a promotion's or the schedule's) to the rescorer
(`aiqleads.rescoring`). The function's other trigger, the rescoring schedule (an EventBridge event, not SQS), queues
one rescoring job per tenant (`run_rescore_schedule`).

A message that is not understood raises (retried, then dead-lettered); S3's test event is acknowledged. The
services are wired on the first message (composition.bulk_scorer and bulk_market_imports, from BulkSettings), so a
process can be configured after import.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiqleads.bulk.requests import RescoreRequest, UploadRequest, parse_message
from aiqleads.composition import (
    bulk_market_imports,
    bulk_rescore_schedule,
    bulk_rescorer,
    bulk_scorer,
    bulk_tenants,
    queue_dead_letters,
)
from aiqleads.notifications.dead_letters import DeadLetteringProcessor

processor = DeadLetteringProcessor(queue_dead_letters)  # alerts a failure on its last receive
NO_CONTEXT_MILLIS = 900_000  # called without a Lambda context (scripts): a full Lambda timeout


def process_bulk_message(record: SQSRecord, lambda_context: Any = None) -> list[str]:
    requests = parse_message(record.body)
    if not requests:
        return []
    remaining = lambda_context.get_remaining_time_in_millis if lambda_context is not None else lambda: NO_CONTEXT_MILLIS
    done = []
    for request in requests:
        if isinstance(request, RescoreRequest):
            done.append(bulk_rescorer().handle(request.tenant_id, request.job_id, remaining))
        elif isinstance(request, UploadRequest) and request.kind == "market_signals":
            done.append(bulk_market_imports().handle(request, remaining))
        else:
            done.append(bulk_scorer().handle(request, remaining))
    return done


def run_rescore_schedule(at: datetime) -> dict[str, Any]:
    """The schedule's event: a rescoring job queued for every tenant with open leads (each runs in its own
    invocations, from BulkQueue, so one large tenant delays no other)."""
    return bulk_rescore_schedule().run(bulk_tenants().tenant_ids(), at)
