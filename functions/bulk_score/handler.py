"""BulkQueue (S3 uploads/ and market-signals/ notifications, the function's own continuations, rescoring jobs) ->
bulk jobs; the rescoring schedule (EventBridge) -> one rescoring job per tenant.

Batch size 1: one upload per invocation; a failure is reported for that message only (ReportBatchItemFailures).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.bulk.consumer import process_bulk_message, processor, run_rescore_schedule
from aiqleads.rescoring.schedule import scheduled_time
from aiqleads.telemetry import metrics, queue_age, tracer

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a lead's contact details
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue_age(event)
    at = scheduled_time(event)
    if at is not None:
        return run_rescore_schedule(at)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=process_bulk_message, processor=processor, context=context
    )
