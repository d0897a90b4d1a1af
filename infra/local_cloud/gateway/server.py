"""The API server: a request goes through route, authorizer, usage plan and integration, as on API Gateway, and
any of them can answer it with a gateway response instead."""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping

from ..server import DEFAULT_HOST, LocalCloudError, NotLoopbackError, Started, is_loopback_host
from .authorizer import AuthorizerCache, Identity, Invoker, identify
from .config import GatewayConfig
from .handler import IPv6Server, RequestHandler, Server
from .keys import ApiKeyCache
from .proxy import proxy_event, proxy_reply
from .request import Reply, Request
from .responses import LAMBDA_ERROR, GatewayRefusal
from .routes import Route
from .throttling import TokenBuckets, retry_after

DEFAULT_API_PORT = 3000


class LocalGateway(Started):
    """The API server: `start()` binds 127.0.0.1:`port` (0 = any free port) and serves in a thread. `api_keys`
    says which usage plan holds a key (see `keys`)."""

    def __init__(
        self,
        config: GatewayConfig,
        invoke: Invoker,
        *,
        port: int = DEFAULT_API_PORT,
        host: str = DEFAULT_HOST,
        log_requests: bool = False,
        clock: Callable[[], float] = time.monotonic,
        api_keys: ApiKeyCache | None = None,
    ) -> None:
        if not is_loopback_host(host):
            raise NotLoopbackError(f"refusing to bind {host!r}: the local API server listens on loopback only")
        self.config = config
        self.invoke = invoke
        self.host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
        self.requested_port = port
        self.log_requests = log_requests
        self.buckets = TokenBuckets(clock)
        self.authorizer_cache = AuthorizerCache()
        # Without a registry nothing is registered, and every keyed route answers 403, as an API with no keys would.
        self.api_keys = api_keys if api_keys is not None else ApiKeyCache()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> LocalGateway:
        if self._server is not None:
            return self
        handler = type("Handler", (RequestHandler,), {"gateway": self})
        server_class = IPv6Server if ":" in self.host else Server
        try:
            server = server_class((self.host, self.requested_port), handler)
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
    ) -> Reply:
        """One request, as API Gateway would answer it. `body` None means it was over the size limit."""
        request = Request(method.upper(), target, headers, source_ip)
        try:
            if body is None:
                raise GatewayRefusal("REQUEST_TOO_LARGE")
            route, request = self._route(request)
            identity = self._identify(route, request)
            rate_limit = self._throttle(route, identity)
            return self._integrate(route, request, body, identity, rate_limit)
        except GatewayRefusal as refusal:
            return self.config.response(refusal.kind, request, refusal.headers)

    def _route(self, request: Request) -> tuple[Route, Request]:
        matched = None
        if request.stage == self.config.stage:
            matched = self.config.routes.match(request.method, request.path)
        if matched is None:
            raise GatewayRefusal("MISSING_AUTHENTICATION_TOKEN")
        route, path_parameters = matched
        return route, dataclasses.replace(request, path_parameters=path_parameters)

    def _identify(self, route: Route, request: Request) -> Identity | None:
        if route.authorizer is None:
            return None
        authorizer = self.config.authorizers[route.authorizer]
        method_arn = self.config.method_arn(request.method, request.path)
        return identify(authorizer, request.header(authorizer.header), method_arn, self.invoke, self.authorizer_cache)

    def _throttle(self, route: Route, identity: Identity | None) -> Mapping[str, str]:
        """The usage plan holding the caller's key, and that plan's view of its budget (headers for the reply).
        A key no plan of the stage holds as an enabled API key is INVALID_API_KEY (as in AWS, whatever the
        authorizer said); over the plan's limit is THROTTLED."""
        api_key = identity.api_key if identity is not None else None
        plan = None
        if api_key is not None:
            plan_id = self.api_keys.plan_of(api_key)
            plan = self.config.usage_plans.get(plan_id) if plan_id is not None else None
        if route.api_key_required and (api_key is None or plan is None):
            raise GatewayRefusal("INVALID_API_KEY")
        if plan is None or api_key is None or not math.isfinite(plan.requests_per_minute):
            return {}
        wait = self.buckets.take(api_key, plan)
        headers = self.buckets.headers(api_key, plan)
        if wait > 0:
            raise GatewayRefusal("THROTTLED", headers={"Retry-After": retry_after(wait), **headers})
        return headers

    def _integrate(
        self, route: Route, request: Request, body: bytes, identity: Identity | None, rate_limit: Mapping[str, str]
    ) -> Reply:
        event = proxy_event(self.config, route, request, body, identity, f"{self.host}:{self.port}")
        try:
            reply = proxy_reply(self.invoke(route.function_id, event), request.request_id)
        except Exception:
            print(
                f"local API: {route.function_id} failed on {request.method} {request.path} ({request.request_id}):",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            raise GatewayRefusal(LAMBDA_ERROR) from None
        # The usage plan's view of the caller's budget, on every response of a keyed route.
        taken = {name.lower() for name, _ in reply.headers}
        reply.headers.extend((name, value) for name, value in rate_limit.items() if name.lower() not in taken)
        return reply
