"""OpenAPI links, declared where the ids are made: a route that creates (or lists) a resource says which response
field holds which id, e.g. `openapi_extensions=produces(lead_id="/lead_id")` on POST /v1/leads. The document
(`aiqleads.api.openapi`) then links that response to every operation taking a parameter, or a top-level body field,
of that name, so a client (or schemathesis' state machine) can follow a created resource to the operations that use
it. Consumers are found by name, so a new route that takes `lead_id` is linked without naming it here.
"""

from __future__ import annotations

from typing import Any

PRODUCES = "x-aiqleads-produces"


def produces(**pointers: str) -> dict[str, Any]:
    """The `openapi_extensions` of a route whose success response holds ids: name -> JSON pointer in its body."""
    return {PRODUCES: pointers}


def _consumers(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, str]:
    """The id names `operation` takes -> where: "path", "query" or "body" (a top-level field of its JSON body)."""
    taken = {parameter["name"]: parameter["in"] for parameter in operation.get("parameters", [])}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = schemas.get(body["$ref"].rsplit("/", 1)[-1], {})
    for name in body.get("properties", {}):
        taken.setdefault(name, "body")
    return taken


def link(doc: dict[str, Any]) -> None:
    """Add the links the routes' `produces` declare to `doc` (in place), and drop the declarations."""
    schemas = doc.get("components", {}).get("schemas", {})
    operations = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]
    for _, _, producer in operations:
        pointers: dict[str, str] = producer.pop(PRODUCES, {})
        if not pointers:
            continue
        links: dict[str, Any] = {}
        for _, _, target in operations:
            if target is producer:
                continue
            taken = _consumers(target, schemas)
            parameters = {f"{taken[name]}.{name}": f"$response.body#{pointer}"
                          for name, pointer in pointers.items() if taken.get(name) in ("path", "query")}  # fmt: skip
            body = {
                name: f"$response.body#{pointer}" for name, pointer in pointers.items() if taken.get(name) == "body"
            }
            if parameters or body:
                links[target["operationId"]] = {
                    "operationId": target["operationId"],
                    **({"parameters": parameters} if parameters else {}),
                    **({"requestBody": body} if body else {}),
                }
        for status, response in producer["responses"].items():
            if status.startswith("2") and links:
                response["links"] = links
