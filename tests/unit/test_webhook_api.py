"""The /v1/webhooks routes in the resolver: request inputs are exactly the documented ones."""

from __future__ import annotations

import json

from aiqleads.api.app import openapi_document
from tests.api_client import call


def test_webhook_routes_take_no_hidden_inputs_and_validate_after_the_document_is_built() -> None:
    document = json.loads(openapi_document())
    paths = {path: item for path, item in document["paths"].items() if path.startswith("/v1/webhooks")}
    assert len(paths) == 6
    for path, item in paths.items():
        for method, operation in item.items():
            if method == "post" and path == "/v1/webhooks":
                assert operation["requestBody"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/WebhookCreate"
                }
            else:
                assert "requestBody" not in operation, (method, path)
    status, _, body = call("POST", "/v1/webhooks", {"url": "ftp://x", "event_types": ["lead.nope"]})
    assert status == 422
    assert {item["field"] for item in body["error"]["details"]} == {"url", "event_types.0"}
