"""API Gateway TOKEN authorizer: the x-api-key header (stored hashed) -> tenant, tier and usage plan key."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiqleads.composition import api_keys
from aiqleads.settings import AuthorizerSettings
from aiqleads.telemetry import metrics, tracer
from aiqleads.tenants.api_keys import authorize

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # the policy carries the caller's API key
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        limits = AuthorizerSettings.current().requests_per_minute
        return authorize(api_keys(), event.get("authorizationToken"), event["methodArn"], limits)
    except PermissionError:
        logger.info("rejected an API key")  # the key itself is never logged
        # API Gateway answers 401 exactly when the authorizer fails with the message "Unauthorized".
        raise Exception("Unauthorized") from None
