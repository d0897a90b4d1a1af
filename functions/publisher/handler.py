"""OutboxTable's stream (new events) -> the domain-events topic, in order; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.composition import outbox_relay
from aiqleads.notifications.relay import OutboxRecord
from aiqleads.telemetry import metrics, tracer

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [
        OutboxRecord(str(record.dynamodb.sequence_number), (record.dynamodb.new_image or {}).get("event"))
        for record in DynamoDBStreamEvent(event).records
        if record.dynamodb is not None
    ]
    retry_from = outbox_relay().relay(records)
    return {"batchItemFailures": [] if retry_from is None else [{"itemIdentifier": retry_from}]}
