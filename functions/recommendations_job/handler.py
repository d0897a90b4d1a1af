"""JobsQueue -> recommendation jobs (POST /v1/recommendations/generate): rank each buyer's leads, write the
results to S3 (results/recommendations/<job id>.jsonl), publish recommendations.ready; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.recommendations.consumer import process_job_message, processor
from aiqleads.telemetry import metrics, queue_age, tracer

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_job_message, processor=processor, context=context
    )
