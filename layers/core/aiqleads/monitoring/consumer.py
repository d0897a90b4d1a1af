"""The monitor function's two triggers: a MonitorQueue message (one run) and the schedule (one run per tenant).

A message that is not understood, or a run that fails, raises (retried, then dead-lettered). The lease (JobsTable)
makes a redelivered message a no-op while another invocation runs the job or after it completed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiqleads.composition import monitor_runner, monitor_tenants, queue_dead_letters
from aiqleads.monitoring.jobs import monitor_message
from aiqleads.notifications.dead_letters import DeadLetteringProcessor

processor = DeadLetteringProcessor(queue_dead_letters)  # alerts a failure on its last receive


def process_monitor_message(record: SQSRecord) -> str:
    tenant_id, job_id = monitor_message(record.body)
    return monitor_runner().run(tenant_id, job_id, owner=str(record.message_id))


def is_scheduled(event: Any) -> bool:
    """An EventBridge schedule's event (the template's MonitorSchedule)."""
    return isinstance(event, dict) and event.get("detail-type") == "Scheduled Event"


def run_schedule() -> dict[str, Any]:
    """Queue a run for every tenant; each runs in its own invocation, so one large tenant delays no other."""
    jobs = monitor_runner().schedule(monitor_tenants().tenant_ids())
    return {"scheduled": len(jobs), "job_ids": jobs}
