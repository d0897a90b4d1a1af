"""MonitorQueue -> monitoring runs (a tenant's serving model and its shadow: drift against the training baseline,
live performance from outcomes, alerts); the schedule -> one queued run per tenant. Batch size 1."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.monitoring.consumer import is_scheduled, process_monitor_message, processor, run_schedule
from aiqleads.telemetry import metrics, queue_age, tracer

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    if is_scheduled(event):
        return run_schedule()
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_monitor_message, processor=processor, context=context
    )
