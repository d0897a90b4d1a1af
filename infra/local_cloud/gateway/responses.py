"""Gateway responses: what API Gateway answers itself (no route, refused by the authorizer, throttled, ...), as the
template's GatewayResponses shape them, else as API Gateway's defaults do."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..server import LocalCloudError
from .request import Reply, Request, sendable

LAMBDA_ERROR = "LAMBDA_ERROR"

# API Gateway's default gateway responses (used when the template does not define one or a DEFAULT_4XX/5XX).
DEFAULT_RESPONSES: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "AUTHORIZER_FAILURE": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error"),
    "BAD_REQUEST_BODY": (400, "Bad Request"),
    # Not a type a template can name: API Gateway's 502 for a Lambda proxy integration whose function failed or
    # answered something malformed, shaped (headers, body) by DEFAULT_5XX.
    LAMBDA_ERROR: (502, "Internal server error"),
}

ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "INVALID_API_KEY": "ForbiddenException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "THROTTLED": "TooManyRequestsException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    LAMBDA_ERROR: "InternalServerErrorException",
}


class GatewayRefusal(Exception):
    """The gateway answers this request itself, with the gateway response `kind`, instead of the integration."""

    def __init__(self, kind: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.headers = dict(headers or {})  # over the template's own


_REQUEST_VALUE = re.compile(r"method\.request\.(header|querystring|path)\.(.+)")


@dataclass(frozen=True)
class HeaderMapping:
    """One gateway response header's value: a 'literal' or a value of the request, as API Gateway maps them (the
    documented sources of a gateway response parameter are the method request's header, querystring and path
    parameters, and static values)."""

    literal: str | None = None
    source: tuple[str, str] | None = None  # (header | querystring | path, name)

    @classmethod
    def parse(cls, expression: str, where: str) -> HeaderMapping:
        if len(expression) >= 2 and expression[0] == expression[-1] == "'":
            return cls(literal=expression[1:-1])
        found = _REQUEST_VALUE.fullmatch(expression)
        if found is None:
            raise LocalCloudError(
                f"{where}: {expression!r} is not a gateway response mapping the local gateway evaluates "
                "('a literal', or method.request.header|querystring|path.<name>)"
            )
        return cls(source=(found.group(1), found.group(2)))

    def value(self, request: Request) -> str | None:
        """None when the request has no such value (a mapping has no default): the header is left out."""
        if self.source is None:
            return self.literal
        position, name = self.source
        if position == "header":
            return request.header(name)
        if position == "querystring":
            return dict(request.query_values).get(name)
        return request.path_parameters.get(name)


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: Mapping[str, HeaderMapping]
    template: str | None  # the application/json template; None: API Gateway's default {"message": ...}

    @classmethod
    def from_template(cls, kind: str, spec: Mapping[str, Any]) -> GatewayResponse:
        """One entry of the API's GatewayResponses (SAM's form), intrinsics already resolved."""
        headers = ((spec.get("ResponseParameters") or {}).get("Headers")) or {}
        templates = spec.get("ResponseTemplates") or {}
        return cls(
            status=int(spec.get("StatusCode", DEFAULT_RESPONSES.get(kind, (500, ""))[0])),
            headers={
                name: HeaderMapping.parse(str(value), f"GatewayResponses.{kind}.ResponseParameters.Headers.{name}")
                for name, value in headers.items()
            },
            template=templates.get("application/json"),
        )

    def header_values(self, request: Request) -> dict[str, str]:
        values = {name: mapping.value(request) for name, mapping in self.headers.items()}
        # A request value HTTP cannot carry back (a decoded path parameter outside Latin-1) is left out.
        return {name: value for name, value in values.items() if value is not None and sendable(name, value)}


def _body(template: str | None, request: Request, message: str) -> bytes:
    if template is None:
        return json.dumps({"message": message}).encode()
    return (
        template.replace("$context.requestId", request.request_id)
        .replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.message", message)
        .encode()
    )


def render(
    configured: Mapping[str, GatewayResponse], kind: str, request: Request, extra_headers: Mapping[str, str]
) -> Reply:
    """The gateway response `kind`: the template's own, else its DEFAULT_4XX/5XX, else API Gateway's default, with
    `$context.requestId` and `$context.error.message` substituted."""
    default_status, message = DEFAULT_RESPONSES.get(kind, (500, "Internal server error"))
    response = configured.get(kind)
    if response is None:
        fallback = configured.get("DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX")
        response = GatewayResponse(default_status, fallback.headers, fallback.template) if fallback else None
    status = response.status if response else default_status
    headers = response.header_values(request) if response else {}
    headers.setdefault("Content-Type", "application/json")
    headers["x-amzn-ErrorType"] = ERROR_TYPES.get(kind, kind)
    headers.update(extra_headers)
    headers["x-amzn-RequestId"] = request.request_id
    return Reply(status, list(headers.items()), _body(response.template if response else None, request, message))
