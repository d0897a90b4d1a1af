"""One mapping from exceptions to the error envelope {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from botocore.exceptions import ClientError

from aiqleads.errors import NOT_JSON, DomainError, ErrorEnvelope, PayloadTooLarge, UnsupportedMediaType
from aiqleads.storage.aws import item_too_large, throttled
from aiqleads.validation.fields import field_errors, summary

logger = Logger(child=True)
# How soon a client may try again after AWS throttled us past botocore's retries (DynamoDB's on-demand tables
# adapt within seconds; a burst is absorbed by then).
THROTTLED_RETRY_AFTER_SECONDS = 2


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    body = json.dumps(ErrorEnvelope.of(code, message, details))
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        kind, parts = parts[0], parts[1:]
        return ".".join(parts) if parts else kind
    return ".".join(parts) or "body"


def validation_details(error: RequestValidationError) -> list[dict[str, str]]:
    return field_errors(error.errors(), name=_field)


ITEM_TOO_LARGE = "the stored item would exceed DynamoDB's 400 KB item limit; send less (attributes, description)"


def register(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[Any]:
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(error: RequestUnsupportedContentType) -> Response[Any]:
        return domain_error(UnsupportedMediaType(NOT_JSON))

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        details = validation_details(error)
        message = summary(details, 5) or "invalid request"
        return error_response(422, "validation_error", message, details)

    @app.exception_handler(UnicodeDecodeError)
    def undecodable_body(error: UnicodeDecodeError) -> Response[Any]:
        return error_response(400, "invalid_json", "the request body is not UTF-8 JSON")

    @app.not_found
    def not_found(error: NotFoundError) -> Response[Any]:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(ClientError)
    def aws_error(error: ClientError) -> Response[Any]:
        if item_too_large(error):
            # The models bound what a client sends far below DynamoDB's item limit; this is the residual case.
            return domain_error(PayloadTooLarge(ITEM_TOO_LARGE, [{"field": "body", "message": ITEM_TOO_LARGE}]))
        if not throttled(error):
            return unexpected(error)
        # Every write we make is one call or one transaction, so a refused one left nothing half-written: the
        # client may simply try again later.
        logger.warning("AWS throttled the request past its retries", extra={"code": error.response["Error"]})
        response = error_response(503, "service_unavailable", "the service is busy; retry after Retry-After seconds")
        response.headers["Retry-After"] = str(THROTTLED_RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
