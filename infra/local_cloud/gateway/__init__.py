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
  not allow) the method ARN gives ACCESS_DENIED; its policy is cached per token for `ReauthorizeEvery` seconds (a
  `!Ref` to a parameter gives the stack's value; 0: no cache; an Unauthorized answer is never cached, as API
  Gateway caches only policies) and evaluated against each method ARN (wildcards included); its `context` and
  `principalId` reach the handler in `requestContext.authorizer` (values as strings, as API Gateway passes them).
- API keys and usage plans (`ApiKeySourceType: AUTHORIZER`): the authorizer's `usageIdentifierKey` must be an
  enabled API key in a usage plan of the stage (moto's API Gateway holds them; `keys`, cached per key value for a
  few seconds as API Gateway caches keys), else INVALID_API_KEY (403) on a route that requires a key. The plan
  holding the key throttles it (`Metadata.AIQLeads` `requests_per_minute` and `burst`, else the plan's Throttle)
  with a token bucket per key: over the limit gives THROTTLED (429) with `Retry-After` = whole seconds until a
  request would pass.
- Lambda proxy events (payload 1.0); a body over 10 MB gives 413; a handler exception or a malformed response gives
  502 `{"message": "Internal server error"}` (traceback on stderr), shaped by DEFAULT_5XX.
Gateway responses (status, headers, body) are the template's GatewayResponses, else its DEFAULT_4XX/5XX, else API
Gateway's defaults, with `$context.requestId` and `$context.error.message` substituted and their ResponseParameters
headers mapped from a 'literal' or the request (`method.request.header|querystring|path.<name>`; left out when the
request has none). Every response carries `x-amzn-RequestId`, the request's id.

Modules: `config` (the template's API), `routes`, `authorizer`, `keys` (API keys), `throttling`, `proxy` (the Lambda proxy event and
response), `responses` (gateway responses), `request`, `handler` (HTTP) and `server` (`LocalGateway`).
"""

from .authorizer import Authorizer, AuthorizerResult, Invoker, PolicyError
from .config import IMPLICIT_API, GatewayConfig
from .handler import DRAIN_LIMIT_BYTES, MAX_BODY_BYTES
from .keys import DEFAULT_KEY_CACHE_SECONDS, ApiKeyCache, KeyLookup, api_gateway_lookup
from .responses import DEFAULT_RESPONSES, GatewayResponse
from .routes import Route, RouteTable
from .server import DEFAULT_API_PORT, LocalGateway
from .throttling import TokenBuckets, UsagePlan

__all__ = [
    "DEFAULT_API_PORT",
    "DEFAULT_KEY_CACHE_SECONDS",
    "DEFAULT_RESPONSES",
    "DRAIN_LIMIT_BYTES",
    "IMPLICIT_API",
    "MAX_BODY_BYTES",
    "ApiKeyCache",
    "Authorizer",
    "AuthorizerResult",
    "GatewayConfig",
    "GatewayResponse",
    "Invoker",
    "KeyLookup",
    "LocalGateway",
    "PolicyError",
    "Route",
    "RouteTable",
    "TokenBuckets",
    "UsagePlan",
    "api_gateway_lookup",
]
