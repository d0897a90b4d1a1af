"""The API function's resolver: routers, error mapping, request ids, OpenAPI."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from aiqleads.api import errors, limits
from aiqleads.api.routes import (
    activity,
    buyers,
    graphql,
    jobs,
    leads,
    markets,
    models,
    monitoring,
    recommendations,
    system,
    webhooks,
)
from aiqleads.errors import NOT_JSON, DomainError, UnsupportedMediaType

logger = Logger()


class Resolver(APIGatewayRestResolver):
    """Routes on the path as sent (still percent-encoded, as API Gateway's `path` is), and hands the handlers its
    parameters percent-decoded, as API Gateway's `pathParameters` are: GET /v1/leads/a%2Eb reads lead 'a.b'."""

    def _convert_matches_into_route_keys(self, match: Any) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


def create_app() -> APIGatewayRestResolver:
    app = Resolver(enable_validation=True)
    for area in (
        leads,
        activity,
        buyers,
        markets,
        recommendations,
        models,
        monitoring,
        jobs,
        system,
        webhooks,
        graphql,
    ):
        app.include_router(area.router)
    errors.register(app)
    return app


app = create_app()


def openapi_document() -> str:
    from aiqleads.api.openapi import committed

    return committed()


_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def request_id(event: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    given = headers.get("x-request-id")
    # Echoed in a response header: only printable ASCII (no CR/LF, nothing outside Latin-1) is taken as given.
    if isinstance(given, str) and _REQUEST_ID.fullmatch(given):
        return given
    return str((event.get("requestContext") or {}).get("requestId") or "local")


def _not_json(event: dict[str, Any]) -> bool:
    """A body sent as something other than JSON (form posts included: the resolver would try to parse those)."""
    if not event.get("body"):
        return False
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = str(headers.get("content-type", "application/json")).split(";", 1)[0].strip().lower()
    return not (media_type == "application/json" or media_type.endswith("+json"))


def _refusal(event: dict[str, Any]) -> DomainError | None:
    """What the body is refused for before any route parses it: not JSON, or nested too deep to parse safely."""
    if _not_json(event):
        return UnsupportedMediaType(NOT_JSON)
    if not event.get("isBase64Encoded"):  # a base64 body is not UTF-8: the resolver answers 400 for it
        try:
            limits.check_depth(event.get("body"))
        except DomainError as error:
            return error
    return None


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway proxy event; every response carries X-Request-ID (errors too)."""
    rid = request_id(event)
    logger.append_keys(request_id=rid)
    error = _refusal(event)
    if error is not None:
        response: dict[str, Any] = {
            "statusCode": error.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(error.envelope()),
            "isBase64Encoded": False,
        }
    else:
        response = app.resolve(event, context)
    headers: dict[str, Any] = response.setdefault("headers", {}) or {}
    headers["X-Request-ID"] = rid
    limit = ((event.get("requestContext") or {}).get("authorizer") or {}).get("requests_per_minute")
    if limit is not None:
        # Remaining and Reset need the gateway's bucket: the local gateway adds them; API Gateway does not expose it.
        headers["X-RateLimit-Limit"] = str(limit)
    response["headers"] = headers
    multi = response.get("multiValueHeaders")
    if isinstance(multi, dict):
        multi["X-Request-ID"] = [rid]
    return response
