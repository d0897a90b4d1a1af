"""NotifyQueue (domain events from SNS, and delivery tasks) -> signed webhooks; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.telemetry import metrics, queue_age, tracer
from aiqleads.webhooks.consumer import handle_batch

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    return handle_batch(event)
