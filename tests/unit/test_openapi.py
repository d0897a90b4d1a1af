"""The committed openapi.json is what the routes and models generate, and it matches template.yaml's routes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiqleads.api.openapi import committed, document, render
from infra.openapi import public_routes
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = public_routes(ROOT / "template.yaml")


def test_committed_openapi_is_current() -> None:
    on_disk = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert on_disk == render(PUBLIC), "openapi.json is stale: run `make openapi` and commit it"


def _template_routes() -> dict[tuple[str, str], dict[str, Any]]:
    template = load_template(ROOT / "template.yaml")
    routes = {}
    for resource in template["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "Api":
                properties = event["Properties"]
                path = re.sub(r"\{[^}]+\}", "{}", properties["Path"])
                routes[properties["Method"].lower(), path] = properties
    return routes


def test_every_documented_operation_is_a_template_route_and_back() -> None:
    documented = {
        (method, re.sub(r"\{[^}]+\}", "{}", path)) for path, ops in document(PUBLIC)["paths"].items() for method in ops
    }
    assert documented - {("get", "/v1/openapi.json")} <= set(_template_routes())
    assert set(_template_routes()) - documented <= {("get", "/v1/openapi.json")}


def test_the_operations_that_need_no_key_are_the_template_routes_without_the_authorizer() -> None:
    public = {
        key for key, properties in _template_routes().items() if properties.get("Auth", {}).get("Authorizer") == "NONE"
    }
    keyless = {
        (method, re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in document(PUBLIC)["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    }
    assert keyless == public - {("get", "/v1/openapi.json")}  # the document does not list itself
    assert ("get", "/v1/openapi.json") in PUBLIC


def test_the_function_serves_the_committed_document() -> None:
    assert committed() == (ROOT / "openapi.json").read_text(encoding="utf-8")


def test_every_error_status_uses_the_envelope() -> None:
    for path, operations in document(PUBLIC)["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)
                assert "X-Request-ID" in response["headers"]
    assert json.dumps(document(PUBLIC)).count("HTTPValidationError") == 0
