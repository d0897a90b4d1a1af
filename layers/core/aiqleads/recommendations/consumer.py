"""The recommendations_job function's record handler: one JobsQueue message -> one recommendation job run.

A message that is not understood raises (retried, then dead-lettered). The lease (JobsTable) makes a redelivered
message a no-op while another invocation runs the job or after it completed.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from aiqleads.composition import queue_dead_letters, recommendations_job_runner
from aiqleads.notifications.dead_letters import DeadLetteringProcessor
from aiqleads.recommendations.jobs import JOB_KIND

processor = DeadLetteringProcessor(queue_dead_letters)  # alerts a failure on its last receive


def process_job_message(record: SQSRecord) -> str:
    message = json.loads(record.body)
    if not isinstance(message, dict) or message.get("kind") != JOB_KIND:
        raise ValueError(f"not a recommendation job message: {record.body[:200]}")
    for key in ("tenant_id", "job_id"):
        if not isinstance(message.get(key), str):
            raise ValueError(f"recommendation job message without {key!r}")
    owner: Any = record.message_id
    return recommendations_job_runner().run(message["tenant_id"], message["job_id"], owner=str(owner))
