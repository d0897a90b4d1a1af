"""GraphQL at POST /v1/graphql: imported only when a GraphQL request arrives (REST cold starts skip it).

A request is parsed, validated (graphql-core's rules, then our limits: depth, aliases, cost; limits.py), charged
its cost to the caller's bucket (tenants/query_budget.py) and only then executed; every response carries
`extensions.cost`, Shopify's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, execute_sync, parse, validate

from aiqleads.api.graphql.limits import exceeded, measure
from aiqleads.api.graphql.schema import Context, format_error, schema
from aiqleads.errors import InvalidInput
from aiqleads.tenants.query_budget import CostBudget, QueryBudgets

MAX_TOKENS = 10_000  # a document longer than any real query is refused by the parser, before validation walks it


@dataclass(frozen=True, slots=True)
class Budget:
    """Whose bucket a request is charged to, and its size."""

    budgets: QueryBudgets
    key: str
    size: CostBudget


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 200, or 429 when the bucket holds less than the query's cost
    body: dict[str, Any]
    retry_after: int = 0


def execute(body: Any, context: Context, budget: Budget) -> Answer:
    """Run one GraphQL-over-HTTP request body ({query, variables, operationName}) for the caller."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise InvalidInput(
            "a GraphQL request needs a JSON body with a 'query' string", [{"field": "query", "message": "required"}]
        )
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("'variables' must be an object", [{"field": "variables", "message": "must be an object"}])
    operation_name = body.get("operationName")
    try:
        document = parse(body["query"], max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return _refused([error], budget, 0)
    errors = validate(schema(), document)
    if errors:
        return _refused(errors, budget, 0)
    found = measure(schema(), document, variables, operation_name)
    over = exceeded(found)
    if over:  # refused before anything runs or is charged
        return _refused(over, budget, found.cost)
    charge = budget.budgets.charge(budget.key, budget.size, found.cost)
    if not charge.allowed:
        message = (f"throttled: the query costs {found.cost}, the key's bucket holds {charge.currently_available} "
                   f"(restoring {charge.restore_rate:g}/s); retry after {charge.retry_after} s")  # fmt: skip
        throttled = {
            "message": message,
            "extensions": {"code": "throttled", "details": {"retry_after": charge.retry_after}},
        }
        body = {"data": None, "errors": [throttled], "extensions": {"cost": charge.extension()}}
        return Answer(429, body, charge.retry_after)
    result = execute_sync(
        schema(), document, variable_values=variables, operation_name=operation_name, context_value=context
    )
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [format_error(error) for error in result.errors]
    response["extensions"] = {"cost": charge.extension()}
    return Answer(200, response)


def _refused(errors: list[GraphQLError], budget: Budget, cost: int) -> Answer:
    # As graphql-core answers a validation error: 200, no data; the bucket stated, not charged.
    status = budget.budgets.status(budget.key, budget.size, cost)
    body = {"data": None, "errors": [format_error(e) for e in errors], "extensions": {"cost": status.extension()}}
    return Answer(200, body)
