"""The /v1/webhooks routes in the resolver: request inputs are exactly the documented ones."""

from __future__ import annotations

import json
from pathlib import Path

from aiqleads.api.openapi import render
from infra.openapi import public_routes
from tests.api_client import call

ROOT = Path(__file__).resolve().parents[2]


def test_webhook_routes_take_no_hidden_inputs_and_validate_after_the_document_is_built() -> None:
    document = json.loads(render(public_routes(ROOT / "template.yaml")))
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
