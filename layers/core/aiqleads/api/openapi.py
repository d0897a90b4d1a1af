"""The API's OpenAPI document, derived from the routes and their pydantic models.

Powertools generates paths, parameters and body schemas; this adds what the resolver cannot know: the API-key
security scheme (and the routes that need no key), our error envelope for every error status the API or API
Gateway can answer, and the headers every response carries. `python -m aiqleads.api.openapi -o openapi.json`
writes the committed copy (`make openapi`); a test fails when the committed copy is stale.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiqleads.api.schemas import ErrorEnvelope

TITLE = "AIQLeads Recommendations API"
VERSION = "1.0.0"
DESCRIPTION = (
    "AI lead scoring and recommendations for a real-estate lead marketplace. Authenticate with your API key in "
    "the x-api-key header; every read and write is scoped to the key's tenant. Errors are "
    '{"error": {"code", "message", "details"}}.'
)
# Routes API Gateway serves without the authorizer (template.yaml: Auth {Authorizer: NONE}); a test keeps them equal.
PUBLIC_ROUTES = frozenset({("get", "/v1/health"), ("get", "/v1/openapi.json")})

ERRORS = {
    "400": "malformed JSON, cursor or query",
    "401": "missing or invalid API key",
    "403": "the API key may not do this",
    "404": "no such resource for this tenant",
    "409": "conflicts with the current state (e.g. the id exists)",
    "413": "too many items in one request",
    "415": "the body is not application/json",
    "422": "invalid input: details name each field",
    "429": "over the tier's rate limit: retry after Retry-After seconds",
    "500": "an unexpected error (logged with the request id)",
}
PUBLIC_ERRORS = ("400", "404", "500")
COMMON_HEADERS = {
    "X-Request-ID": {
        "description": "the request id (yours, if you sent X-Request-ID); quote it when reporting a problem",
        "schema": {"type": "string"},
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


def _hoist(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


@functools.cache
def document() -> dict[str, Any]:
    from aiqleads.api.app import app

    doc: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION))
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["ErrorEnvelope"] = _hoist(envelope, schemas)
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}
    doc["security"] = [{"ApiKey": []}]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            public = (method, path) in PUBLIC_ROUTES
            if public:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status in PUBLIC_ERRORS if public else tuple(ERRORS):
                responses[status] = _error_response(ERRORS[status])
            for status in responses:  # e.g. the resolver's own 422: ours is the envelope
                if status.startswith(("4", "5")):
                    responses[status] = _error_response(ERRORS.get(status, "error"))
            if "429" in responses:
                responses["429"]["headers"] = {
                    "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
                }
            for response in responses.values():
                response.setdefault("headers", {}).update(COMMON_HEADERS)
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiqleads.api.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 if --output differs from the generated document")
    arguments = parser.parse_args(argv)
    text = render()
    if arguments.check:
        if arguments.output is None or not arguments.output.exists() or arguments.output.read_text() != text:
            print(f"{arguments.output} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    if arguments.output:
        arguments.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
