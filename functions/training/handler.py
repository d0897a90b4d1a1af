"""TrainingQueue -> training jobs (a tenant's stored history -> a candidate model, compared, maybe promoted); the
schedule -> one queued job per tenant. Batch size 1: a job may take most of the 900 s timeout."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.telemetry import metrics, queue_age, tracer
from aiqleads.training.consumer import is_scheduled, process_training_message, processor, run_schedule

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    if is_scheduled(event):
        return run_schedule()
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_training_message, processor=processor, context=context
    )
