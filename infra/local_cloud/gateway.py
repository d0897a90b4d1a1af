"""An HTTP server on 127.0.0.1 that behaves as API Gateway (REST) does for the template's API.

    config = GatewayConfig.from_template(template, resolve)    # routes, authorizer, usage plans, gateway responses
    with LocalGateway(config, runtime.invoke, port=3000) as gateway:
        gateway.url                                             # http://127.0.0.1:3000/dev  (the stage is in the path)

What it does, as API Gateway does:
- The stage is the first path segment (`/dev/v1/leads`), so a client's base URL works the same against AWS
  (`https://<id>.execute-api.<region>.amazonaws.com/dev`) and locally (`http://127.0.0.1:3000/dev`).
- Routes come from the functions' `Api` events. A resource is chosen first (literal segments win over `{param}`,
  which wins over `{proxy+}`), then its method; no resource or no such method on it gives the
  MISSING_AUTHENTICATION_TOKEN gateway response.
- The TOKEN authorizer (Auth.DefaultAuthorizer, per-route `Auth: {Authorizer: NONE}`): a missing identity header
  gives UNAUTHORIZED without calling it; an `Unauthorized` exception gives UNAUTHORIZED; a policy that denies (or does
  not allow) the method ARN gives ACCESS_DENIED; its policy is cached per token for `ReauthorizeEvery` seconds and
  evaluated against each method ARN (wildcards included); its `context` and `principalId` reach the handler in
  `requestContext.authorizer` (values as strings, as API Gateway passes them).
- Usage plans: the authorizer's `usageIdentifierKey` is the API key, its context's `tier` picks the usage plan
  (`Metadata.AIQLeads.tier`, `requests_per_minute`, `burst`; else the plan's Throttle), and a token bucket per key
  throttles: over the limit gives THROTTLED (429) with `Retry-After` = whole seconds until a request would pass.
- Lambda proxy events (payload 1.0); a body over 10 MB gives 413; a handler exception or a malformed response gives
  502 `{"message": "Internal server error"}` (traceback on stderr).
Gateway responses (status, headers, body) are the template's GatewayResponses, else API Gateway's defaults, with
`$context.requestId` and `$context.error.message` substituted.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .functions import FunctionSpec, logical_id_of
from .server import ACCOUNT_ID, DEFAULT_HOST, REGION, LocalCloudError, NotLoopbackError, is_loopback_host

DEFAULT_API_PORT = 3000
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # an oversized body is read and dropped up to this, then the connection closed
IMPLICIT_API = "ServerlessRestApi"

Invoker = Callable[[str, Any], Any]  # (function logical id, event) -> the handler's result

# API Gateway's default gateway responses (used when the template does not define one or a DEFAULT_4XX/5XX).
DEFAULT_RESPONSES: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "AUTHORIZER_FAILURE": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error"),
    "BAD_REQUEST_BODY": (400, "Bad Request"),
}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# ---------------------------------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    resource: str  # the path template, e.g. /v1/leads/{id}
    method: str  # upper case, or ANY
    function_id: str
    authorizer: str | None  # the authorizer's name, or None (no authorizer)
    api_key_required: bool = False


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 0


def _match_resource(template: list[str], path: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(template):
        rank = _segment_rank(segment)
        if rank == 2:  # greedy: the rest of the path, at least one segment
            if index >= len(path):
                return None
            parameters[segment[1:-2]] = "/".join(path[index:])
            return parameters
        if index >= len(path):
            return None
        if rank == 1:
            parameters[segment[1:-1]] = path[index]
        elif segment != path[index]:
            return None
    return parameters if len(template) == len(path) else None


class RouteTable:
    """Resources (path templates) and their methods."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = list(routes)
        self._resources: dict[str, dict[str, Route]] = {}
        for route in routes:
            methods = self._resources.setdefault(route.resource, {})
            if route.method in methods:
                raise LocalCloudError(f"two functions serve {route.method} {route.resource}")
            methods[route.method] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` on `path` (without the stage) and its path parameters; None when API Gateway
        would answer Missing Authentication Token (no such resource, or no such method on it)."""
        segments = [unquote(segment) for segment in _segments(path)]
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for resource in self._resources:
            template = _segments(resource)
            parameters = _match_resource(template, segments)
            if parameters is None:
                continue
            key = tuple(_segment_rank(segment) for segment in template)
            if best is None or key < best[0]:
                best = (key, resource, parameters)
        if best is None:
            return None
        methods = self._resources[best[1]]
        route = methods.get(method.upper()) or methods.get("ANY")
        return (route, best[2]) if route is not None else None


# ---------------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_id: str
    header: str  # the identity header, e.g. x-api-key
    ttl_seconds: float  # ReauthorizeEvery (0: no cache)


@dataclass(frozen=True)
class UsagePlan:
    name: str
    tier: str | None
    requests_per_minute: float
    burst: int


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: Mapping[str, str]
    template: str | None  # the application/json template; None: API Gateway's default {"message": ...}


@dataclass
class GatewayConfig:
    stage: str
    routes: RouteTable
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    usage_plans: dict[str, UsagePlan] = field(default_factory=dict)  # by tier
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
        resources = template.get("Resources") or {}
        api_ids = {event.rest_api_id or IMPLICIT_API for spec in functions.values() for event in spec.api_events}
        if len(api_ids) > 1:
            raise LocalCloudError(f"the local API server serves one REST API; the template routes to {sorted(api_ids)}")
        api_name = next(iter(api_ids), IMPLICIT_API)
        api = resources.get(api_name) or {}
        globals_api = (template.get("Globals") or {}).get("Api") or {}
        properties = {**globals_api, **(api.get("Properties") or {})}
        stage = str(resolve(properties.get("StageName", "Prod")))

        auth = properties.get("Auth") or {}
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
                ttl_seconds=float(identity.get("ReauthorizeEvery", 300)),
            )
        default_authorizer = auth.get("DefaultAuthorizer")
        default_key_required = _is_true(auth.get("ApiKeyRequired", False))

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

        plans: dict[str, UsagePlan] = {}
        for name, resource in resources.items():
            if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGateway::UsagePlan":
                continue
            metadata = (resource.get("Metadata") or {}).get("AIQLeads") or {}
            throttle = (resource.get("Properties") or {}).get("Throttle") or {}
            tier = metadata.get("tier")
            if "requests_per_minute" in metadata:
                per_minute = float(metadata["requests_per_minute"])
            elif "RateLimit" in throttle:
                per_minute = float(throttle["RateLimit"]) * 60
            else:
                continue  # no throttle: nothing to enforce
            burst = int(metadata.get("burst", throttle.get("BurstLimit", max(1, math.ceil(per_minute / 60)))))
            plan = UsagePlan(name, None if tier is None else str(tier), per_minute, burst)
            plans[plan.tier or name] = plan

        responses: dict[str, GatewayResponse] = {}
        for kind, spec in (resolve(properties.get("GatewayResponses") or {})).items():
            headers = ((spec.get("ResponseParameters") or {}).get("Headers")) or {}
            templates = spec.get("ResponseTemplates") or {}
            default_status = DEFAULT_RESPONSES.get(kind, (500, ""))[0]
            responses[kind] = GatewayResponse(
                status=int(spec.get("StatusCode", default_status)),
                headers={name: str(value).strip("'") for name, value in headers.items()},
                template=templates.get("application/json"),
            )

        api_id = hashlib.sha256(f"{stack_name}/{api_name}".encode()).hexdigest()[:10]
        return cls(
            stage=stage,
            routes=RouteTable(routes),
            authorizers=authorizers,
            usage_plans=plans,
            gateway_responses=responses,
            api_id=api_id,
            region=region,
            account_id=account_id,
            api_name=api_name,
        )

    def response(self, kind: str, request_id: str, message: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """A gateway response: the template's own, else its DEFAULT_4XX/5XX, else API Gateway's default."""
        default_status, default_message = DEFAULT_RESPONSES.get(kind, (500, "Internal server error"))
        message = message or default_message
        configured = self.gateway_responses.get(kind)
        if configured is None:
            fallback = self.gateway_responses.get("DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX")
            if fallback is not None:
                configured = GatewayResponse(default_status, fallback.headers, fallback.template)
        status = configured.status if configured else default_status
        headers = dict(configured.headers) if configured else {}
        template = configured.template if configured else None
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = (
                template.replace("$context.requestId", request_id)
                .replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", message)
            )
        headers.setdefault("Content-Type", "application/json")
        headers["x-amzn-ErrorType"] = _ERROR_TYPES.get(kind, kind)
        return status, headers, body.encode()


_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "INVALID_API_KEY": "ForbiddenException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "THROTTLED": "TooManyRequestsException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
}


# ---------------------------------------------------------------------------------------------------- authorizer


def _arn_pattern(resource: str) -> re.Pattern[str]:
    """An execute-api resource ARN with `*` and `?` wildcards, as a regular expression."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource))


class PolicyError(Exception):
    """The authorizer returned something API Gateway cannot use (AUTHORIZER_CONFIGURATION_ERROR)."""


@dataclass(frozen=True)
class AuthorizerResult:
    principal_id: str
    statements: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # (effect, resource patterns)
    context: Mapping[str, str]
    usage_identifier_key: str | None

    @classmethod
    def parse(cls, result: Any) -> AuthorizerResult:
        if not isinstance(result, dict) or "principalId" not in result or "policyDocument" not in result:
            raise PolicyError("the authorizer must return principalId and policyDocument")
        document = result["policyDocument"]
        raw = document.get("Statement") if isinstance(document, dict) else None
        raw = [raw] if isinstance(raw, dict) else raw
        if not isinstance(raw, list):
            raise PolicyError("policyDocument.Statement must be a list")
        statements = []
        for statement in raw:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if not any(_arn_pattern(action).fullmatch("execute-api:Invoke") for action in actions):
                continue
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            effect = str(statement.get("Effect", ""))
            if effect not in {"Allow", "Deny"}:
                raise PolicyError(f"statement Effect must be Allow or Deny, got {effect!r}")
            statements.append((effect, tuple(_arn_pattern(str(item)) for item in resources)))
        context: dict[str, str] = {}
        for key, value in (result.get("context") or {}).items():
            if isinstance(value, dict | list):
                raise PolicyError(f"context values must be strings, numbers or booleans ({key} is not)")
            context[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        key = result.get("usageIdentifierKey")
        return cls(str(result["principalId"]), tuple(statements), context, None if key is None else str(key))

    def allows(self, method_arn: str) -> bool:
        """Explicit Deny wins; otherwise an Allow must match."""
        matching = [effect for effect, patterns in self.statements if any(p.fullmatch(method_arn) for p in patterns)]
        return "Deny" not in matching and "Allow" in matching


class _AuthorizerCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, AuthorizerResult]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer: str, token: str) -> AuthorizerResult | None:
        with self._lock:
            entry = self._entries.get((authorizer, token))
            if entry is None or entry[0] <= time.monotonic():
                self._entries.pop((authorizer, token), None)
                return None
            return entry[1]

    def put(self, authorizer: str, token: str, result: AuthorizerResult, ttl: float) -> None:
        if ttl > 0:
            with self._lock:
                self._entries[(authorizer, token)] = (time.monotonic() + ttl, result)


# ---------------------------------------------------------------------------------------------------- throttling


class TokenBuckets:
    """One token bucket per API key: `burst` tokens, refilled at `requests_per_minute / 60` per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, plan: UsagePlan) -> float:
        """0 if a request may pass now (and count it), else the seconds until one could."""
        rate = plan.requests_per_minute / 60.0
        capacity = float(max(1, plan.burst))
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate if rate > 0 else math.inf

    def headers(self, key: str, plan: UsagePlan) -> dict[str, str]:
        """X-RateLimit-Limit (requests per minute), -Remaining (requests that would pass now) and -Reset
        (seconds until the bucket is full again), after the last `take`."""
        rate = plan.requests_per_minute / 60.0
        capacity = float(max(1, plan.burst))
        with self._lock:
            tokens, at = self._buckets.get(key, (capacity, self._clock()))
            tokens = min(capacity, tokens + (self._clock() - at) * rate)
        reset = math.ceil((capacity - tokens) / rate) if rate > 0 and tokens < capacity else 0
        return {
            "X-RateLimit-Limit": str(int(plan.requests_per_minute)),
            "X-RateLimit-Remaining": str(int(tokens)),
            "X-RateLimit-Reset": str(reset),
        }


# ---------------------------------------------------------------------------------------------------- the server


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class LocalGateway:
    """The API server: `start()` binds 127.0.0.1:`port` (0 = any free port) and serves in a thread."""

    def __init__(
        self,
        config: GatewayConfig,
        invoke: Invoker,
        *,
        port: int = DEFAULT_API_PORT,
        host: str = DEFAULT_HOST,
        log_requests: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not is_loopback_host(host):
            raise NotLoopbackError(f"refusing to bind {host!r}: the local API server listens on loopback only")
        self.config = config
        self.invoke = invoke
        self.host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
        self.requested_port = port
        self.log_requests = log_requests
        self.buckets = TokenBuckets(clock)
        self.authorizer_cache = _AuthorizerCache()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> LocalGateway:
        if self._server is not None:
            return self
        gateway = self

        class Handler(_RequestHandler):
            pass

        Handler.gateway = gateway
        server_class = _IPv6Server if ":" in self.host else _Server
        try:
            server = server_class((self.host, self.requested_port), Handler)
        except OSError as error:
            raise LocalCloudError(
                f"the API server cannot bind {self.host}:{self.requested_port}: {error} (choose one with --api-port)"
            ) from error
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="local-cloud-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise LocalCloudError("the local API server is not running (call start() first)")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The API's base URL, stage included: append /v1/..."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{self.config.stage}"

    # ------------------------------------------------------------------------------------------------ requests

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None, source_ip: str
    ) -> _Reply:
        """One request, as API Gateway would answer it. `body` None means it was over the size limit."""
        config = self.config
        request_id = str(uuid.uuid4())
        started = time.time()
        parts = urlsplit(target)
        segments = _segments(parts.path)

        def gateway_response(kind: str, message: str | None = None, extra: Mapping[str, str] | None = None) -> _Reply:
            status, response_headers, payload = config.response(kind, request_id, message)
            response_headers.update(extra or {})
            response_headers["x-amzn-RequestId"] = request_id
            return _Reply(status, list(response_headers.items()), payload)

        if body is None:
            return gateway_response("REQUEST_TOO_LARGE")
        if not segments or segments[0] != config.stage:
            return gateway_response("MISSING_AUTHENTICATION_TOKEN")
        path = "/" + "/".join(segments[1:])
        matched = config.routes.match(method, path)
        if matched is None:
            return gateway_response("MISSING_AUTHENTICATION_TOKEN")
        route, path_parameters = matched

        single_headers = {name.lower(): value for name, value in headers}
        authorizer_context: dict[str, Any] | None = None
        api_key: str | None = None
        if route.authorizer is not None:
            authorizer = config.authorizers[route.authorizer]
            token = single_headers.get(authorizer.header)
            if not token:
                return gateway_response("UNAUTHORIZED")
            method_arn = (
                f"arn:aws:execute-api:{config.region}:{config.account_id}:{config.api_id}/{config.stage}/"
                f"{method.upper()}{path}"
            )
            result = self.authorizer_cache.get(authorizer.name, token)
            if result is None:
                token_event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
                try:
                    result = AuthorizerResult.parse(self.invoke(authorizer.function_id, token_event))
                except PolicyError as error:
                    print(f"local API: authorizer {authorizer.name}: {error}", file=sys.stderr)
                    return gateway_response("AUTHORIZER_CONFIGURATION_ERROR")
                except Exception as error:
                    if str(error) == "Unauthorized":
                        return gateway_response("UNAUTHORIZED")
                    print(f"local API: authorizer {authorizer.name} failed:", file=sys.stderr)
                    traceback.print_exc(file=sys.stderr)
                    return gateway_response("AUTHORIZER_FAILURE")
                self.authorizer_cache.put(authorizer.name, token, result, authorizer.ttl_seconds)
            if not result.allows(method_arn):
                return gateway_response("ACCESS_DENIED")
            authorizer_context = {**result.context, "principalId": result.principal_id}
            api_key = result.usage_identifier_key

        plan = None
        if api_key is not None and authorizer_context is not None:
            plan = config.usage_plans.get(str(authorizer_context.get("tier")))
        if route.api_key_required and (api_key is None or plan is None):
            return gateway_response("INVALID_API_KEY")
        rate_limit: dict[str, str] = {}
        if plan is not None and api_key is not None:
            wait = self.buckets.take(api_key, plan)
            rate_limit = self.buckets.headers(api_key, plan)
            if wait > 0:
                retry_after = str(max(1, math.ceil(wait))) if math.isfinite(wait) else "60"
                return gateway_response("THROTTLED", extra={"Retry-After": retry_after, **rate_limit})

        event = self.proxy_event(
            method, parts.query, path, route, path_parameters, headers, body, source_ip, request_id, started
        )
        if authorizer_context is not None:
            event["requestContext"]["authorizer"] = authorizer_context
        if api_key is not None:
            event["requestContext"]["identity"]["apiKey"] = api_key
        try:
            result = self.invoke(route.function_id, event)
            reply = self._proxy_reply(result, request_id)
            # The usage plan's view of the caller's budget, on every response of a keyed route.
            taken = {name.lower() for name, _ in reply.headers}
            reply.headers.extend((name, value) for name, value in rate_limit.items() if name.lower() not in taken)
            return reply
        except Exception:
            print(f"local API: {route.function_id} failed on {method} {path} ({request_id}):", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return _Reply(
                502,
                [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)],
                b'{"message": "Internal server error"}',
            )

    def proxy_event(
        self,
        method: str,
        query: str,
        path: str,
        route: Route,
        path_parameters: Mapping[str, str],
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        request_id: str,
        started: float,
    ) -> dict[str, Any]:
        """A Lambda proxy integration event (REST API, payload format 1.0)."""
        config = self.config
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        text: str | None
        encoded = False
        if not body:
            text = None
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode("ascii"), True
        lowered = {name.lower(): values[-1] for name, values in multi_headers.items()}
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method.upper(),
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_parameters) or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": config.account_id,
                "apiId": config.api_id,
                "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
                "resourcePath": route.resource,
                "httpMethod": method.upper(),
                "path": f"/{config.stage}{path}",
                "stage": config.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "protocol": "HTTP/1.1",
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(started)),
                "requestTimeEpoch": int(started * 1000),
                "domainName": lowered.get("host", f"{self.host}:{self.port}"),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lowered.get("user-agent"),
                    "apiKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                },
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    @staticmethod
    def _proxy_reply(result: Any, request_id: str) -> _Reply:
        """The handler's proxy response; anything malformed is API Gateway's 502."""
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int | str):
            raise LocalCloudError(f"malformed Lambda proxy response: {str(result)[:200]}")
        status = int(result["statusCode"])
        headers: list[tuple[str, str]] = []
        single = result.get("headers") or {}
        multi = result.get("multiValueHeaders") or {}
        for name, values in multi.items():
            headers.extend((name, str(value)) for value in values)
        seen = {name.lower() for name in multi}
        headers.extend((name, str(value)) for name, value in single.items() if name.lower() not in seen)
        body = result.get("body")
        if body is None:
            payload = b""
        elif _is_true(result.get("isBase64Encoded")):
            payload = base64.b64decode(str(body))
        else:
            payload = str(body).encode("utf-8")
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-RequestId", request_id))
        return _Reply(status, headers, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: LocalGateway
    protocol_version = "HTTP/1.1"
    # The status line and headers go out in one write and the body in another: with Nagle's algorithm on, the
    # body waits for the client's delayed ACK of the headers, ~40 ms on every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "aiqleads-local-api"

    def _read_body(self) -> bytes | None:
        """The request body; None if it is over the limit (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY_BYTES:
                    self.close_connection = True
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            # Read (and drop) what the client is sending, up to a bound, so that it reads the 413 instead of
            # failing on a connection reset.
            remaining = min(length, DRAIN_LIMIT_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            body = b""
        headers = [(name, value) for name, value in self.headers.items()]
        reply = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # Every other method (TRACE, QUERY, ...) reaches the route table too and gets the gateway's "no such route"
        # response, as on API Gateway, instead of http.server's 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        if self.gateway.log_requests:
            super().log_message(format, *args)
