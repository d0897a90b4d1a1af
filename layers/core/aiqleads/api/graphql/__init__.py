"""GraphQL at POST /v1/graphql: imported only when a GraphQL request arrives (REST cold starts skip it)."""

from __future__ import annotations

from typing import Any

from graphql import graphql_sync

from aiqleads.api.graphql.schema import Context, format_error, schema
from aiqleads.errors import InvalidInput


def execute(body: Any, context: Context) -> dict[str, Any]:
    """Run one GraphQL-over-HTTP request body ({query, variables, operationName}) for the caller."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise InvalidInput(
            "a GraphQL request needs a JSON body with a 'query' string", [{"field": "query", "message": "required"}]
        )
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("'variables' must be an object", [{"field": "variables", "message": "must be an object"}])
    result = graphql_sync(
        schema(),
        body["query"],
        variable_values=variables,
        operation_name=body.get("operationName"),
        context_value=context,
    )
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [format_error(error) for error in result.errors]
    return response
