"""The Lambda proxy integration (REST API, payload format 1.0): the event a handler receives and what its
response must look like."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any

from ..server import LocalCloudError
from .authorizer import Identity
from .request import Reply, Request, sendable
from .routes import Route

if TYPE_CHECKING:
    from .config import GatewayConfig


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _body_text(body: bytes) -> tuple[str | None, bool]:
    """The body as the event carries it, and whether that is base64 (a body that is not UTF-8 text)."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _request_context(config: GatewayConfig, route: Route, request: Request, default_host: str) -> dict[str, Any]:
    return {
        "accountId": config.account_id,
        "apiId": config.api_id,
        "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "path": f"/{config.stage}{request.path}",
        "stage": config.stage,
        "requestId": request.request_id,
        "extendedRequestId": request.request_id,
        "protocol": "HTTP/1.1",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.started)),
        "requestTimeEpoch": int(request.started * 1000),
        "domainName": request.header_values.get("host", default_host),
        "identity": {
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent"),
            "apiKey": None,
            "accountId": None,
            "caller": None,
            "user": None,
            "userArn": None,
        },
    }


def proxy_event(
    config: GatewayConfig, route: Route, request: Request, body: bytes, identity: Identity | None, default_host: str
) -> dict[str, Any]:
    """The event the route's function receives; `default_host` is requestContext.domainName when no Host came."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query_values:
        multi_query.setdefault(name, []).append(value)
    text, encoded = _body_text(body)
    context = _request_context(config, route, request, default_host)
    if identity is not None:
        context["authorizer"] = dict(identity.context)
        if identity.api_key is not None:
            context["identity"]["apiKey"] = identity.api_key
    return {
        "resource": route.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(request.path_parameters) or None,
        "stageVariables": None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": encoded,
    }


def proxy_reply(result: Any, request_id: str) -> Reply:
    """The handler's proxy response; anything malformed raises (API Gateway's 502)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int | str):
        raise LocalCloudError(f"malformed Lambda proxy response: {str(result)[:200]}")
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    seen = {name.lower() for name in multi}
    headers.extend((name, str(value)) for name, value in single.items() if name.lower() not in seen)
    unsendable = [name for name, value in headers if not sendable(name, value)]
    if unsendable:
        # API Gateway answers a proxy response it cannot send as malformed (502), never with a broken reply.
        raise LocalCloudError(f"malformed Lambda proxy response: header {unsendable[0]!r} cannot be sent in HTTP")
    body = result.get("body")
    if body is None:
        payload = b""
    elif is_true(result.get("isBase64Encoded")):
        payload = base64.b64decode(str(body))
    else:
        payload = str(body).encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return Reply(int(result["statusCode"]), headers, payload)
