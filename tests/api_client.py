"""The API function called in-process with API Gateway proxy events, as the tests of every area use it."""

from __future__ import annotations

import json
from typing import Any

from aiqleads.api.app import handle


def call(method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
         tenant: str | None = "t1", raw: str | None = None, role: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """(status, headers, JSON body) of one request; `tenant=None` calls without the authorizer's context, `role`
    is the key's role in that context (None: the context names none, as before keys had roles)."""
    authorizer = {"tenant_id": tenant, "tier": "pro", "principalId": tenant} if tenant else None
    if authorizer is not None and role is not None:
        authorizer["role"] = role
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "requestContext": {"requestId": "req-123", "authorizer": authorizer, "stage": "dev", "httpMethod": method},
        "body": raw if raw is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
    }
    response = handle(event, None)
    merged = dict(response.get("headers") or {})
    merged.update({name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], merged, json.loads(response["body"])
