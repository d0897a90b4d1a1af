"""POST /v1/graphql: the GraphQL interface, same auth and tenant scoping as REST.

The graphql package (and its schema) is imported inside the route, on the first GraphQL request, so REST
invocations never pay for it at cold start.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, cost_budgets, leads, models, query_budgets, recommendations
from aiqleads.errors import DomainError
from aiqleads.leads.service import LeadService
from aiqleads.recommendations.service import RecommendationService
from aiqleads.registry.service import ModelRegistry
from aiqleads.tenants.query_budget import CostBudget, QueryBudgets

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
LeadsDep = Annotated[LeadService, Depends(leads)]
RecommendationsDep = Annotated[RecommendationService, Depends(recommendations)]
RegistryDep = Annotated[ModelRegistry, Depends(models)]
BudgetsDep = Annotated[QueryBudgets, Depends(query_budgets)]
SizesDep = Annotated[dict[str, CostBudget], Depends(cost_budgets)]


class InvalidJson(DomainError):
    status = 400
    code = "invalid_json"


@router.post("/v1/graphql", summary="GraphQL: lead, leads, recommendations, models and the mutations")
def graphql_endpoint(
    request: Request,
    who: CallerDep,
    service: LeadsDep,
    ranking: RecommendationsDep,
    registry: RegistryDep,
    budgets: BudgetsDep,
    sizes: SizesDep,
) -> Response[dict[str, Any]]:
    from aiqleads.api.graphql import Budget, execute
    from aiqleads.api.graphql.schema import Context

    try:
        body = json.loads(request.resolved_event.body or "")
    except ValueError:
        raise InvalidJson("the request body is not valid JSON") from None
    context = Context(
        tenant_id=who.tenant_id, leads=service, recommendations=ranking, models=registry, extensions={"tier": who.tier}
    )
    budget = Budget(budgets, who.key_id, sizes.get(who.tier) or sizes["basic"])
    answer = execute(body, context, budget)
    headers = {"Retry-After": str(answer.retry_after)} if answer.status == 429 else None
    return Response(answer.status, "application/json", answer.body, headers)
