"""/v1/models: model versions, their metrics, and which one serves."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, caller
from aiqleads.scoring.catalog import ModelList, list_models

router = APIGatewayRouter()

CallerDep = Annotated[Caller, Depends(caller)]


@router.get("/v1/models", summary="Model versions with their evaluation metrics, and the one serving")
def get_models(who: CallerDep) -> ModelList:
    return list_models()
