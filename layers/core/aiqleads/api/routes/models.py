"""/v1/models: the tenant's model versions and the global default, and the aliases that choose which one scores."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from aiqleads.api.context import Caller, admin, caller, models, training_jobs
from aiqleads.api.links import produces
from aiqleads.api.responses import Response, json_response
from aiqleads.registry.records import Alias, AliasChange, AliasUpdate, ModelList, ModelVersion
from aiqleads.registry.service import ModelRegistry
from aiqleads.training.jobs import TrainingJobAccepted, TrainingJobs, TrainingRequest

router = APIGatewayRouter()

AdminDep = Annotated[Caller, Depends(admin)]
CallerDep = Annotated[Caller, Depends(caller)]
RegistryDep = Annotated[ModelRegistry, Depends(models)]
TrainingDep = Annotated[TrainingJobs, Depends(training_jobs)]

_FORBIDDEN = "not an admin key"
_UNKNOWN = "unknown alias, or no such version for the tenant or the global default"


@router.get(
    "/v1/models",
    summary="The tenant's model versions and the global default, with metrics, lineage, aliases and the one serving",
    openapi_extensions=produces(version="/data/0/version"),
)
def get_models(who: CallerDep, registry: RegistryDep) -> ModelList:
    return registry.versions(who.tenant_id)


@router.get(
    "/v1/models/<version>",
    summary="One model version of the tenant's or the global default's",
    responses={
        200: {"description": "the version"},
        404: {"description": "no such version for the tenant or the global default"},
    },
)
def get_model(version: str, who: CallerDep, registry: RegistryDep) -> ModelVersion:
    return registry.show(who.tenant_id, version)


@router.put(
    "/v1/models/aliases/<alias>",
    summary="Point the tenant's production or shadow alias at a version; admin keys only",
    description=(
        "`production` scores the tenant's leads (warm functions switch within ModelAliasTtlSeconds); naming the"
        " global default's version returns the tenant to it. `shadow` may be cleared with `null`. Moving"
        " production publishes `model.promoted` with the previous and the new version."
    ),
    responses={
        200: {"description": "the alias moved"},
        403: {"description": _FORBIDDEN},
        404: {"description": _UNKNOWN},
        409: {"description": "the artifact no longer matches its recorded sha256 (artifact_corrupt), or a race"},
        422: {"description": "invalid body (production cannot be cleared)"},
    },
)
def put_alias(alias: Alias, body: AliasUpdate, who: AdminDep, registry: RegistryDep) -> AliasChange:
    return registry.set_alias(who.tenant_id, alias, body.version)


@router.post(
    "/v1/models/aliases/production/rollback",
    summary="Production back to the version it named before its last change; admin keys only",
    responses={
        403: {"description": _FORBIDDEN},
        404: {"description": "the previous version is no longer registered"},
        409: {"description": "no earlier production version, or artifact_corrupt"},
    },
)
def rollback(who: AdminDep, registry: RegistryDep) -> AliasChange:
    return registry.rollback(who.tenant_id)


@router.post(
    "/v1/models/training-jobs",
    summary="Train a candidate from the tenant's stored leads and outcomes, in the background; admin keys only",
    description=(
        "202 with a job to follow at GET /v1/jobs/{id}: its stage (dataset, train, compare, register, decide), then"
        " the candidate's version, its comparison with the serving model on the newest leads, and the decision:"
        " promoted (ROC AUC at least PromotionMinAucGain better, Brier no worse), shadow (the tenant's policy)"
        " or kept. With too little history (default 1,000 labelled leads and 120 conversions) the job fails with"
        " `refused: true` and says why; the tenant keeps its model."
    ),
    responses={202: {"description": "queued"}, 403: {"description": _FORBIDDEN}},
    openapi_extensions=produces(job_id="/job_id"),
)
def start_training(request: TrainingRequest, who: AdminDep, jobs: TrainingDep) -> Response[TrainingJobAccepted]:
    accepted = jobs.submit(who.tenant_id, request)
    return json_response(202, accepted, accepted.status_url)
