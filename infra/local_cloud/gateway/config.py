"""The REST API as the template declares it: stage, routes, authorizers, usage plans and gateway responses."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..functions import FunctionSpec, logical_id_of
from ..intrinsics import UnresolvableError
from ..server import ACCOUNT_ID, REGION, LocalCloudError
from .authorizer import Authorizer
from .proxy import is_true
from .request import Reply, Request
from .responses import GatewayResponse, render
from .routes import Route, RouteTable
from .throttling import UsagePlan

IMPLICIT_API = "ServerlessRestApi"


def _api(template: Mapping[str, Any], functions: Mapping[str, FunctionSpec]) -> tuple[str, dict[str, Any]]:
    """The one REST API the functions' Api events name (SAM's implicit one if they name none) and its
    properties, Globals.Api included."""
    api_ids = {event.rest_api_id or IMPLICIT_API for spec in functions.values() for event in spec.api_events}
    if len(api_ids) > 1:
        raise LocalCloudError(f"the local API server serves one REST API; the template routes to {sorted(api_ids)}")
    api_name = next(iter(api_ids), IMPLICIT_API)
    api = (template.get("Resources") or {}).get(api_name) or {}
    globals_api = (template.get("Globals") or {}).get("Api") or {}
    return api_name, {**globals_api, **(api.get("Properties") or {})}


# API Gateway's result TTL when the template names none (SAM leaves it unset; the service's default is 300 s).
DEFAULT_REAUTHORIZE_SECONDS = 300


def _authorizers(
    auth: Mapping[str, Any], functions: Mapping[str, FunctionSpec], resolve: Callable[[Any], Any]
) -> dict[str, Authorizer]:
    authorizers: dict[str, Authorizer] = {}
    for name, spec in (auth.get("Authorizers") or {}).items():
        function_id = logical_id_of(spec.get("FunctionArn"))
        if function_id is None or function_id not in functions:
            raise LocalCloudError(f"authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn of a function")
        payload = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
        if payload != "TOKEN":
            raise LocalCloudError(f"authorizer {name}: only TOKEN authorizers are emulated (got {payload})")
        identity = spec.get("Identity") or {}
        authorizers[name] = Authorizer(
            name=name,
            function_id=function_id,
            header=str(identity.get("Header", "Authorization")).lower(),
            # A parameter's value as the stack was given it (`!Ref AuthorizerCacheTtlSeconds`), as CloudFormation
            # resolves it before API Gateway sees it.
            ttl_seconds=float(resolve(identity.get("ReauthorizeEvery", DEFAULT_REAUTHORIZE_SECONDS))),
        )
    return authorizers


def _routes(
    auth: Mapping[str, Any], authorizers: Mapping[str, Authorizer], functions: Mapping[str, FunctionSpec]
) -> list[Route]:
    """Every Api event, with its authorizer (Auth.DefaultAuthorizer unless the event says otherwise; NONE: no
    authorizer) and whether it needs an API key."""
    default_authorizer = auth.get("DefaultAuthorizer")
    default_key_required = is_true(auth.get("ApiKeyRequired", False))
    routes: list[Route] = []
    for function_id, spec in functions.items():
        for event in spec.api_events:
            name = event.authorizer if event.authorizer is not None else default_authorizer
            if name == "NONE":
                name = None
            if name is not None and name not in authorizers:
                raise LocalCloudError(f"{function_id} {event.name}: no authorizer named {name!r}")
            key_required = default_key_required if event.api_key_required is None else event.api_key_required
            routes.append(Route(event.path, event.method, function_id, name, key_required))
    return routes


def _serves(properties: Mapping[str, Any], api_name: str) -> bool:
    """Whether a usage plan's ApiStages name this REST API (its one stage: `!Ref <Api>.Stage` or the stage name)."""
    return any(
        isinstance(entry, dict) and entry.get("ApiId") == {"Ref": api_name}
        for entry in properties.get("ApiStages") or []
    )


def _plan_id(name: str, resolve: Callable[[Any], Any]) -> str:
    """What `!Ref` gives for the plan where it exists (its id in moto's API Gateway), else its logical id."""
    try:
        return str(resolve({"Ref": name}))
    except UnresolvableError:
        return name


def _usage_plans(resources: Mapping[str, Any], resolve: Callable[[Any], Any], api_name: str) -> dict[str, UsagePlan]:
    """The usage plans of this API's stage by id, with their tier (`Metadata.AIQLeads.tier`) and rate:
    Metadata.AIQLeads `requests_per_minute` and `burst` if given, else the plan's Throttle."""
    plans: dict[str, UsagePlan] = {}
    for name, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGateway::UsagePlan":
            continue
        properties = resource.get("Properties") or {}
        if not _serves(properties, api_name):
            continue
        metadata = (resource.get("Metadata") or {}).get("AIQLeads") or {}
        throttle = resolve(properties.get("Throttle") or {})
        tier = metadata.get("tier")
        if "requests_per_minute" in metadata:
            per_minute = float(metadata["requests_per_minute"])
        elif "RateLimit" in throttle:
            per_minute = float(throttle["RateLimit"]) * 60
        else:
            per_minute = math.inf  # no throttle: the plan admits its keys without a limit
        default_burst = max(1, math.ceil(per_minute / 60)) if math.isfinite(per_minute) else 1
        burst = int(metadata.get("burst", throttle.get("BurstLimit", default_burst)))
        plan_id = _plan_id(name, resolve)
        plans[plan_id] = UsagePlan(name, None if tier is None else str(tier), per_minute, burst, plan_id)
    return plans


@dataclass
class GatewayConfig:
    stage: str
    routes: RouteTable
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    usage_plans: dict[str, UsagePlan] = field(default_factory=dict)  # the stage's, by usage plan id
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    api_id: str = "local"
    region: str = REGION
    account_id: str = ACCOUNT_ID
    api_name: str = "Api"

    @classmethod
    def from_template(
        cls,
        template: Mapping[str, Any],
        functions: Mapping[str, FunctionSpec],
        resolve: Callable[[Any], Any],
        *,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        stack_name: str = "aiqleads-local",
    ) -> GatewayConfig:
        """The REST API the functions' Api events name (one API; SAM's implicit one if they name none)."""
        api_name, properties = _api(template, functions)
        auth = properties.get("Auth") or {}
        authorizers = _authorizers(auth, functions, resolve)
        responses = resolve(properties.get("GatewayResponses") or {})
        return cls(
            stage=str(resolve(properties.get("StageName", "Prod"))),
            routes=RouteTable(_routes(auth, authorizers, functions)),
            authorizers=authorizers,
            usage_plans=_usage_plans(template.get("Resources") or {}, resolve, api_name),
            gateway_responses={kind: GatewayResponse.from_template(kind, spec) for kind, spec in responses.items()},
            api_id=hashlib.sha256(f"{stack_name}/{api_name}".encode()).hexdigest()[:10],
            region=region,
            account_id=account_id,
            api_name=api_name,
        )

    def method_arn(self, method: str, path: str) -> str:
        """What the authorizer's policy is evaluated against."""
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/{method.upper()}{path}"

    def response(self, kind: str, request: Request, headers: Mapping[str, str] | None = None) -> Reply:
        """The gateway response `kind` to `request` (see `responses.render`), with `headers` over its own."""
        return render(self.gateway_responses, kind, request, headers or {})
