"""The training function's two triggers: a TrainingQueue message (one job) and the schedule (one job per tenant).

A message that is not understood raises (retried, then dead-lettered). The lease (JobsTable) makes a redelivered
message a no-op while another invocation runs the job or after it completed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiqleads.composition import queue_dead_letters, training_runner, training_tenants
from aiqleads.notifications.dead_letters import DeadLetteringProcessor
from aiqleads.training.jobs import training_message

processor = DeadLetteringProcessor(queue_dead_letters)  # alerts a failure on its last receive


def process_training_message(record: SQSRecord) -> str:
    tenant_id, job_id = training_message(record.body)
    return training_runner().run(tenant_id, job_id, owner=str(record.message_id))


def is_scheduled(event: Any) -> bool:
    """An EventBridge schedule's event (the template's TrainingSchedule)."""
    return isinstance(event, dict) and event.get("detail-type") == "Scheduled Event"


def run_schedule() -> dict[str, Any]:
    """Queue a training job for every tenant; each runs in its own invocation, so one slow tenant delays no other."""
    jobs = training_runner().schedule(training_tenants().tenant_ids())
    return {"scheduled": len(jobs), "job_ids": jobs}
