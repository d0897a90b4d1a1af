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


def _resolves(doc: dict[str, Any], schema: dict[str, Any], pointer: str) -> bool:
    """Whether `pointer` (/data/0/id) names a property the response `schema` declares."""
    for part in pointer.strip("/").split("/"):
        while "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if part.isdigit():
            schema = schema.get("items", {})
        elif part in schema.get("properties", {}):
            schema = schema["properties"][part]
        else:
            return False
    return True


def test_every_path_parameter_and_required_id_is_reachable_through_a_link() -> None:
    """A client (or schemathesis' state machine) can reach every operation with ids the API made: each path
    parameter, and each required query parameter, is filled by a link from some response, is an enum, or is the
    id a create-or-replace names (whose response links it onwards)."""
    doc = document(PUBLIC)
    linked: set[tuple[str, str]] = set()  # (operationId, "path.name")
    for ops in doc["paths"].values():
        for operation in ops.values():
            for status, response in operation["responses"].items():
                for target in response.get("links", {}).values():
                    assert status.startswith("2"), "links only from success responses"
                    # A create-or-replace at a client-chosen id (PUT /v1/buyers/{buyer_id}) fills its own path.
                    linked.update((operation["operationId"], parameter) for parameter in target.get("parameters", {}))
                    linked.update((target["operationId"], parameter) for parameter in target.get("parameters", {}))
                    for expression in [*target.get("parameters", {}).values(), *target.get("requestBody", {}).values()]:
                        schema = response["content"]["application/json"]["schema"]
                        assert _resolves(doc, schema, expression.removeprefix("$response.body#")), expression
    unreachable = [
        f"{method.upper()} {path}: {parameter['name']}"
        for path, ops in doc["paths"].items()
        for method, operation in ops.items()
        for parameter in operation.get("parameters", [])
        if (parameter["in"] == "path" or parameter.get("required"))
        and "enum" not in parameter["schema"]
        and (operation["operationId"], f"{parameter['in']}.{parameter['name']}") not in linked
    ]
    assert not unreachable, "no link fills these parameters: " + "; ".join(unreachable)


def test_a_created_lead_links_to_its_reads_and_to_a_purchase_of_it() -> None:
    links = document(PUBLIC)["paths"]["/v1/leads"]["post"]["responses"]["201"]["links"]
    by_target = {target["operationId"]: target for target in links.values()}
    assert by_target["get_lead_v1_leads__lead_id__get"]["parameters"] == {"path.lead_id": "$response.body#/lead_id"}
    assert by_target["record_purchase_v1_buyers__buyer_id__purchases_post"]["requestBody"] == {
        "lead_id": "$response.body#/lead_id"
    }
