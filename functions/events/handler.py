"""EventsQueue -> behaviour aggregates (atomic), re-score, lead.score_changed; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.leads.consumer import process_interaction, processor, register_context
from aiqleads.telemetry import metrics, queue_age, tracer

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    register_context(context)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_interaction, processor=processor, context=context
    )
