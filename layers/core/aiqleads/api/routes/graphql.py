"""POST /v1/graphql: the GraphQL interface, same auth and tenant scoping as REST.

The graphql package (and its schema) is imported inside the route, on the first GraphQL request, so REST
invocations never pay for it at cold start.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller, leads, models, recommendations
from aiqleads.errors import DomainError
from aiqleads.leads.service import LeadService
from aiqleads.recommendations.service import RecommendationService
from aiqleads.registry.service import ModelRegistry

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]
LeadsDep = Annotated[LeadService, Depends(leads)]
RecommendationsDep = Annotated[RecommendationService, Depends(recommendations)]
RegistryDep = Annotated[ModelRegistry, Depends(models)]


class InvalidJson(DomainError):
    status = 400
    code = "invalid_json"


@router.post("/v1/graphql", summary="GraphQL: lead, leads, recommendations, models and the mutations")
def graphql_endpoint(
    request: Request, who: CallerDep, service: LeadsDep, ranking: RecommendationsDep, registry: RegistryDep
) -> dict[str, Any]:
    from aiqleads.api.graphql import execute
    from aiqleads.api.graphql.schema import Context

    try:
        body = json.loads(request.resolved_event.body or "")
    except ValueError:
        raise InvalidJson("the request body is not valid JSON") from None
    context = Context(
        tenant_id=who.tenant_id, leads=service, recommendations=ranking, models=registry, extensions={"tier": who.tier}
    )
    return execute(body, context)
