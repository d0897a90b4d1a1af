"""The bulk_score function's record handler: one BulkQueue message -> the bulk job(s) it names advanced.

A message that is not understood raises (retried, then dead-lettered); S3's test event is acknowledged. The
wiring is built per message from the environment (cheap: clients and the model are cached per process), so a
process can be configured after import.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiqleads.bulk.requests import parse_message
from aiqleads.bulk.runner import BulkScorer, BulkSettings
from aiqleads.composition import default_scorer
from aiqleads.settings import Settings
from aiqleads.storage.jobs import JobRepository
from aiqleads.storage.leads import LeadRepository
from aiqleads.storage.messaging import EventPublisher, QueueSender
from aiqleads.storage.objects import ObjectStore

processor = BatchProcessor(event_type=EventType.SQS)
NO_CONTEXT_MILLIS = 900_000  # called without a Lambda context (scripts): a full Lambda timeout


def bulk_scorer(settings: Settings | None = None) -> BulkScorer:
    settings = (settings or Settings.from_env()).require(
        "jobs_table", "leads_table", "domain_events_topic_arn", "bulk_queue_url"
    )
    return BulkScorer(
        objects=ObjectStore(),
        jobs=JobRepository(settings.jobs_table),
        leads=LeadRepository(settings.leads_table),
        events=EventPublisher(settings.domain_events_topic_arn),
        queue=QueueSender(settings.bulk_queue_url),
        scorer=default_scorer,
        settings=BulkSettings.from_env(),
    )


def process_bulk_message(record: SQSRecord, lambda_context: Any = None) -> list[str]:
    requests = parse_message(record.body)
    if not requests:
        return []
    remaining = lambda_context.get_remaining_time_in_millis if lambda_context is not None else lambda: NO_CONTEXT_MILLIS
    scorer = bulk_scorer()
    return [scorer.handle(request, remaining) for request in requests]
