"""JobsQueue -> recommendation jobs (POST /v1/recommendations/generate): rank each buyer's leads, write the
results to S3 (results/recommendations/<job id>.jsonl), publish recommendations.ready; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.recommendations.consumer import process_job_message, processor

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_job_message, processor=processor, context=context
    )
