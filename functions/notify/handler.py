"""NotifyQueue (domain events from SNS, and delivery tasks) -> signed webhooks; partial batch failures."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.webhooks.consumer import handle_batch

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_batch(event)
