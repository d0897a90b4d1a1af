"""The API's OpenAPI document, derived from the routes and their pydantic models.

Powertools generates paths, parameters and body schemas; this adds what the resolver cannot know: the API-key
security scheme (and the routes that need no key: template.yaml's routes without the authorizer), our error
envelope for every error status the API or API Gateway can answer, the headers every response carries, and the
links from each response holding ids to the operations that take them (`aiqleads.api.links`).
`python -m infra.openapi -o openapi.json` writes the committed copy (`make openapi`); a test fails when the
committed copy is stale. GET /v1/openapi.json serves that copy (`committed`): a Lambda function has no template.yaml
to build it from, so the core layer ships the document instead.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from aiqleads.api.links import link
from aiqleads.api.schemas import ErrorEnvelope

TITLE = "AIQLeads Recommendations API"
VERSION = "1.0.0"
DESCRIPTION = (
    "AI lead scoring and recommendations for a real-estate lead marketplace. Authenticate with your API key in "
    "the x-api-key header; every read and write is scoped to the key's tenant. Errors are "
    '{"error": {"code", "message", "details"}}.'
)
DOCUMENT_FILE = "openapi.json"  # in the repository's root, and in the core layer's (/opt)

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
    "503": "busy (AWS throttled the request): nothing was written; retry after Retry-After seconds",
}
PUBLIC_ERRORS = ("400", "404", "500", "503")
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
def document(public_routes: frozenset[tuple[str, str]]) -> dict[str, Any]:
    """The document; `public_routes` are the (method, path) that need no API key."""
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
            public = (method, path) in public_routes
            if public:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status in PUBLIC_ERRORS if public else tuple(ERRORS):
                responses[status] = _error_response(ERRORS[status])
            for status in responses:  # e.g. the resolver's own 422: ours is the envelope
                if status.startswith(("4", "5")):
                    responses[status] = _error_response(ERRORS.get(status, "error"))
            for status in ("429", "503"):
                if status in responses:
                    responses[status]["headers"] = {
                        "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
                    }
            responses.get("204", {}).pop("content", None)  # no content is what 204 means (DELETE /v1/webhooks/{id})
            for response in responses.values():
                response.setdefault("headers", {}).update(COMMON_HEADERS)
    link(doc)
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc


def render(public_routes: frozenset[tuple[str, str]]) -> str:
    return json.dumps(document(public_routes), indent=2, sort_keys=False) + "\n"


def document_path() -> Path:
    """The committed document: beside the package's directories in a checkout, at the layer's root in Lambda."""
    for directory in Path(__file__).resolve().parents:
        if (directory / DOCUMENT_FILE).is_file():
            return directory / DOCUMENT_FILE
    raise FileNotFoundError(f"no {DOCUMENT_FILE} above {Path(__file__).parent}: run `make openapi`")


@functools.cache
def committed() -> str:
    return document_path().read_text(encoding="utf-8")
