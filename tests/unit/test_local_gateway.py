"""The local API server behaves as API Gateway does for a template: routes, authorizer, usage plans, proxy events.

A tiny template and tiny handlers are written to a temporary directory, loaded as the local cloud loads the real
ones, and driven with real HTTP on 127.0.0.1 (no AWS endpoint is needed: the handlers make no AWS calls).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud.functions import FunctionRuntime, discover_functions, local_environment
from infra.local_cloud.gateway import MAX_BODY_BYTES, ApiKeyCache, GatewayConfig, GatewayResponse, LocalGateway
from infra.local_cloud.gateway.authorizer import Authorizer, AuthorizerCache, identify
from infra.local_cloud.gateway.responses import GatewayRefusal
from infra.local_cloud.intrinsics import Resolver
from infra.local_cloud.server import LocalCloudError
from infra.template import load_template

CROWD = 200  # clients connecting at once

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: test}
  AuthTtl: {Type: Number, Default: 300}
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        STAGE: !Ref Stage
        CALLS_FILE: __CALLS__
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      Auth:
        DefaultAuthorizer: KeyAuth
        ApiKeyRequired: true
        Authorizers:
          KeyAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            FunctionPayloadType: TOKEN
            Identity: {Header: x-api-key, ReauthorizeEvery: !Ref AuthTtl}
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: "401"
          ResponseParameters:
            Headers: {X-Request-ID: method.request.header.X-Request-ID, X-Static: "'fixed'"}
          ResponseTemplates:
            application/json: '{"error": {"code": "unauthorized", "request_id": "$context.requestId"}}'
        ACCESS_DENIED:
          StatusCode: "403"
          ResponseParameters:
            Headers: {X-Request-ID: method.request.header.X-Request-ID, X-Lead: method.request.path.id}
          ResponseTemplates:
            application/json: '{"error": {"code": "forbidden", "request_id": "$context.requestId"}}'
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseParameters:
            Headers: {X-Request-ID: method.request.header.X-Request-ID, X-Query: method.request.querystring.q}
          ResponseTemplates:
            application/json: '{"error": {"code": "not_found", "request_id": "$context.requestId"}}'
        THROTTLED:
          StatusCode: "429"
          ResponseParameters:
            Headers:
              Retry-After: "'1'"
              X-Request-ID: method.request.header.X-Request-ID
          ResponseTemplates:
            application/json: '{"error": {"code": "rate_limited", "request_id": "$context.requestId"}}'
        DEFAULT_4XX:
          ResponseParameters:
            Headers: {X-Request-ID: method.request.header.X-Request-ID}
        DEFAULT_5XX:
          ResponseParameters:
            Headers: {X-Request-ID: method.request.header.X-Request-ID}
  SlowPlan:
    Type: AWS::ApiGateway::UsagePlan
    Metadata:
      AIQLeads: {tier: slow, requests_per_minute: 6, burst: 2}
    Properties:
      ApiStages: [{ApiId: !Ref Api, Stage: !Ref Api.Stage}]
      Throttle: {RateLimit: 0.1, BurstLimit: 2}
  FastPlan:
    Type: AWS::ApiGateway::UsagePlan
    Metadata:
      AIQLeads: {tier: fast, requests_per_minute: 6000, burst: 100}
    Properties:
      ApiStages: [{ApiId: !Ref Api, Stage: !Ref Api.Stage}]
  OtherApiPlan:
    Type: AWS::ApiGateway::UsagePlan
    Metadata:
      AIQLeads: {tier: other}
    Properties:
      ApiStages: [{ApiId: some-other-api, Stage: test}]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: handler.handler
      MemorySize: 256
      Events:
        Score:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/leads/score, Method: post}
        GetLead:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/v1/leads/{id}", Method: get}
        GetLeadScore:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/v1/leads/{id}/score", Method: get}
        Health:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /v1/health
            Method: get
            Auth: {Authorizer: NONE, ApiKeyRequired: false}
        Upload:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/upload, Method: post}
        Crash:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/crash, Method: get}
        Binary:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /v1/binary, Method: get}
        BadHeader:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: "/v1/bad-header/{kind}", Method: get}
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: auth/
      Handler: handler.handler
"""

ECHO = """
import base64, json, os

def handler(event, context):
    if event["path"] == "/v1/crash":
        raise RuntimeError("boom")
    if event["resource"] == "/v1/bad-header/{kind}":
        value = {"emoji": "lead-\U0001f600", "crlf": "a\\r\\nSet-Cookie: x=1", "latin": "caf\u00e9"}
        return {"statusCode": 201, "headers": {"Location": value[event["pathParameters"]["kind"]]}, "body": "{}"}
    if event["path"] == "/v1/binary":
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    seen = {
        "event": event,
        "stage_env": os.environ.get("STAGE"),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]}, "body": json.dumps(seen)}
"""

# Tokens: "<tier>-<anything>" is allowed with that tier; "deny" is denied; "nope" is Unauthorized;
# "...leads-only" is allowed on /v1/leads/* only (a wildcard resource). Which usage plan holds a key is
# `registered_plan` below, standing in for API Gateway's keys.
AUTH = """
import os

def handler(event, context):
    with open(os.environ["CALLS_FILE"], "a") as calls:
        calls.write(event["authorizationToken"] + " " + event["methodArn"] + "\\n")
    token = event["authorizationToken"]
    if token == "nope":
        raise Exception("Unauthorized")
    prefix = event["methodArn"].split("/", 1)[0]
    if token.endswith("leads-only"):
        effect, resource = "Allow", prefix + "/*/GET/v1/leads/*"
    else:
        effect, resource = ("Deny" if token == "deny" else "Allow"), prefix + "/*"
    return {
        "principalId": "tenant-" + token,
        "policyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        "context": {"tenant_id": "t-" + token, "tier": token.split("-")[0], "admin": False, "quota": 5},
        "usageIdentifierKey": token,
    }
"""


# Keys API Gateway holds: "slow-..." in SlowPlan, "fast-..." in FastPlan, "other-..." in a plan of another API;
# anything else in none. "fast-held-by-slow" says tier fast to the authorizer but is SlowPlan's key.
def registered_plan(value: str) -> str | None:
    if value == "fast-held-by-slow":
        return "SlowPlan"
    return {"slow": "SlowPlan", "fast": "FastPlan", "other": "OtherApiPlan"}.get(value.split("-")[0])


class Api:
    def __init__(self, gateway: LocalGateway, calls_file: Path) -> None:
        self.gateway = gateway
        self.calls_file = calls_file

    def request(
        self, method: str, path: str, *, key: str | None = None, body: bytes | None = None, headers: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=10)
        try:
            all_headers = dict(headers or {})
            if key is not None:
                all_headers["x-api-key"] = key
            target = path if path.startswith("/") and path.split("/")[1] != "v1" else f"/test{path}"
            connection.request(method, target, body=body, headers=all_headers)
            response = connection.getresponse()
            merged: dict[str, str] = {}
            for name, value in response.getheaders():  # repeated headers joined, as HTTP allows
                merged[name.lower()] = f"{merged[name.lower()]}, {value}" if name.lower() in merged else value
            return response.status, merged, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        status, headers, body = self.request(method, path, **kwargs)
        return status, headers, json.loads(body)

    def authorizer_calls(self) -> list[str]:
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []


def _write_template(root: Path, calls: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tiny template and its handlers under `root`, loaded as the local cloud loads the real ones."""
    (root / "template.yaml").write_text(TEMPLATE.replace("__CALLS__", str(calls)))
    for name, code in (("echo", ECHO), ("auth", AUTH)):
        (root / name).mkdir()
        (root / name / "handler.py").write_text(textwrap.dedent(code))
    template = load_template(root / "template.yaml")
    return template, discover_functions(template, root)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("gateway")
    calls = root / "calls.txt"
    template, specs = _write_template(root, calls)
    resolver = Resolver(template)
    environment, _ = local_environment(specs, resolver.resolve, aws={})
    runtime = FunctionRuntime(specs, environment).start()
    config = GatewayConfig.from_template(template, specs, resolver.resolve)
    gateway = LocalGateway(config, runtime.invoke, port=0, api_keys=ApiKeyCache(registered_plan)).start()
    try:
        yield Api(gateway, calls)
    finally:
        gateway.stop()
        runtime.stop()
    assert "CALLS_FILE" not in os.environ  # the process environment is restored


# ------------------------------------------------------------------------------------------------ routes


def test_url_carries_the_stage_and_binds_loopback(api: Api) -> None:
    assert api.gateway.url == f"http://127.0.0.1:{api.gateway.port}/test"


def test_literal_segment_wins_over_a_path_parameter(api: Api) -> None:
    status, _, seen = api.json("POST", "/v1/leads/score", key="fast-1", body=b"{}")
    assert status == 200
    assert seen["event"]["resource"] == "/v1/leads/score"
    assert seen["event"]["pathParameters"] is None


def test_path_parameters_are_extracted(api: Api) -> None:
    status, _, seen = api.json("GET", "/v1/leads/zl%2D88213/score", key="fast-1")
    assert status == 200
    assert seen["event"]["resource"] == "/v1/leads/{id}/score"
    assert seen["event"]["pathParameters"] == {"id": "zl-88213"}
    status, _, seen = api.json("GET", "/v1/leads/abc", key="fast-1")
    assert (status, seen["event"]["pathParameters"]) == (200, {"id": "abc"})


def test_path_parameters_are_percent_decoded_and_the_path_stays_as_sent(api: Api) -> None:
    status, _, seen = api.json("GET", "/v1/leads/a%2Eb%23c%2Fd%C3%A9", key="fast-1")
    assert status == 200
    assert seen["event"]["pathParameters"] == {"id": "a.b#c/d\u00e9"}
    assert seen["event"]["path"] == "/v1/leads/a%2Eb%23c%2Fd%C3%A9"


@pytest.mark.parametrize("kind", ["emoji", "crlf"])
def test_a_response_header_http_cannot_carry_is_a_502_not_a_dropped_connection(
    api: Api, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    status, headers, body = api.request("GET", f"/v1/bad-header/{kind}", key="fast-hdr")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert "set-cookie" not in headers
    assert "header 'Location' cannot be sent" in capfd.readouterr().err


def test_a_latin_1_response_header_is_sent(api: Api) -> None:
    status, headers, _ = api.request("GET", "/v1/bad-header/latin", key="fast-hdr")
    assert (status, headers["location"].encode("latin-1")) == (201, b"caf\xe9")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nowhere"),
        ("GET", "/v1/leads/score"),  # the literal resource exists, only for POST: no fallback to /v1/leads/{id}
        ("DELETE", "/v1/leads/abc"),
        ("GET", "/v1/leads/a/b/c"),
        ("GET", "/prod/v1/health"),  # another stage
    ],
)
def test_unknown_route_or_method_is_the_templates_not_found(api: Api, method: str, path: str) -> None:
    status, headers, body = api.json(method, path, key="fast-1")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert body["error"]["request_id"] == headers["x-amzn-requestid"]


def test_route_without_authorizer_needs_no_key(api: Api) -> None:
    calls = len(api.authorizer_calls())
    status, _, seen = api.json("GET", "/v1/health")
    assert status == 200
    assert "authorizer" not in seen["event"]["requestContext"]
    assert len(api.authorizer_calls()) == calls


# ------------------------------------------------------------------------------------------------ authorizer


def test_missing_key_is_401_without_calling_the_authorizer(api: Api) -> None:
    calls = len(api.authorizer_calls())
    status, _, body = api.json("GET", "/v1/leads/abc")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert len(api.authorizer_calls()) == calls


def test_authorizer_unauthorized_is_401_and_deny_is_403(api: Api) -> None:
    status, _, body = api.json("GET", "/v1/leads/abc", key="nope")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, _, body = api.json("GET", "/v1/leads/abc", key="deny")
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_authorizer_event_and_context(api: Api) -> None:
    status, _, seen = api.json("GET", "/v1/leads/xyz", key="fast-ctx")
    assert status == 200
    token, method_arn = api.authorizer_calls()[-1].split(" ")
    assert token == "fast-ctx"
    assert method_arn.startswith("arn:aws:execute-api:us-east-1:")
    assert method_arn.endswith(f":{api.gateway.config.api_id}/test/GET/v1/leads/xyz")
    authorizer = seen["event"]["requestContext"]["authorizer"]
    assert authorizer == {
        "tenant_id": "t-fast-ctx",
        "tier": "fast",
        "admin": "false",
        "quota": "5",
        "principalId": "tenant-fast-ctx",
    }


@pytest.mark.parametrize(("parameters", "ttl"), [({}, 300.0), ({"AuthTtl": "3"}, 3.0), ({"AuthTtl": "0"}, 0.0)])
def test_the_authorizer_ttl_is_the_stacks_parameter_value(
    tmp_path: Path, parameters: dict[str, str], ttl: float
) -> None:
    """ReauthorizeEvery: !Ref AuthTtl reads the value the stack was given, as CloudFormation resolves it."""
    template, specs = _write_template(tmp_path, tmp_path / "calls.txt")
    config = GatewayConfig.from_template(template, specs, Resolver(template, parameters=parameters).resolve)
    assert config.authorizers["KeyAuth"].ttl_seconds == ttl


def test_a_ttl_of_zero_asks_the_authorizer_on_every_request_and_a_refusal_is_never_cached() -> None:
    calls: list[str] = []

    def invoke(function_id: str, event: Any) -> Any:
        calls.append(event["authorizationToken"])
        if event["authorizationToken"] == "nope":
            raise Exception("Unauthorized")
        statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:*"}
        return {"principalId": "p", "policyDocument": {"Statement": [statement]}}

    arn = "arn:aws:execute-api:us-east-1:123456789012:api/test/GET/v1/leads/a"
    uncached = Authorizer("KeyAuth", "AuthFunction", "x-api-key", ttl_seconds=0)
    cached = Authorizer("KeyAuth", "AuthFunction", "x-api-key", ttl_seconds=300)
    for authorizer, token, expected in ((uncached, "key", 2), (cached, "key", 1), (cached, "nope", 2)):
        cache, calls[:] = AuthorizerCache(), []
        for _ in range(2):
            if token == "nope":
                with pytest.raises(GatewayRefusal, match="UNAUTHORIZED"):
                    identify(authorizer, token, arn, invoke, cache)
            else:
                identify(authorizer, token, arn, invoke, cache)
        assert len(calls) == expected, (authorizer, token)


def test_authorizer_result_is_cached_per_token_and_wildcards_apply(api: Api) -> None:
    before = len(api.authorizer_calls())
    assert api.request("GET", "/v1/leads/a", key="fast-leads-only")[0] == 200
    assert api.request("GET", "/v1/leads/b", key="fast-leads-only")[0] == 200  # cached policy, wildcard matches
    assert api.request("POST", "/v1/leads/score", key="fast-leads-only", body=b"{}")[0] == 403  # cached, not allowed
    assert len(api.authorizer_calls()) == before + 1


# ------------------------------------------------------------------------------------------------ usage plans


def test_throttling_after_the_burst_gives_429_with_a_real_retry_after(api: Api) -> None:
    key = "slow-throttle"  # 6 requests/min (one per 10 s), burst 2
    assert [api.request("GET", "/v1/leads/a", key=key)[0] for _ in range(2)] == [200, 200]
    status, headers, body = api.json("GET", "/v1/leads/a", key=key)
    assert status == 429
    assert body["error"]["code"] == "rate_limited"
    assert headers["retry-after"] == "10"  # whole seconds until a token is back, not the template's static '1'
    assert api.request("GET", "/v1/leads/a", key="slow-other")[0] == 200  # buckets are per API key


def test_a_key_no_usage_plan_of_the_stage_holds_is_refused_whatever_the_authorizer_says(api: Api) -> None:
    """API Gateway's rule with ApiKeySourceType AUTHORIZER: the authorizer allowed both, but no usage plan holds
    gold-1, and other-1 is held only by a plan of another API."""
    for key in ("gold-1", "other-1"):
        status, _, body = api.json("GET", "/v1/leads/a", key=key)
        assert status == 403, key
        assert body == {"message": "Forbidden"}  # INVALID_API_KEY: API Gateway's default, the template sets none
    assert api.request("GET", "/v1/health", key="gold-1")[0] == 200  # a route that needs no key


def test_the_plan_holding_the_key_throttles_it_not_the_tier_the_authorizer_names(api: Api) -> None:
    key = "fast-held-by-slow"  # the authorizer's context says tier fast; SlowPlan (burst 2) holds the key
    statuses = [api.request("GET", "/v1/leads/a", key=key)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


# ------------------------------------------------------------------------------------------------ proxy events


def test_proxy_event_shape(api: Api) -> None:
    status, headers, seen = api.json(
        "POST", "/v1/leads/score?a=1&b=2&b=3", key="fast-shape", body=b'{"x": 1}', headers={"X-Custom": "yes"}
    )
    assert status == 200
    assert headers["x-multi"] == "a, b"  # multiValueHeaders are sent as repeated headers
    event = seen["event"]
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/v1/leads/score"
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["queryStringParameters"] == {"a": "1", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1"], "b": ["2", "3"]}
    assert event["stageVariables"] is None
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "test"
    assert context["resourcePath"] == "/v1/leads/score"
    assert context["path"] == "/test/v1/leads/score"
    assert context["httpMethod"] == "POST"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["apiKey"] == "fast-shape"
    assert context["requestId"] == headers["x-amzn-requestid"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["apiId"] == api.gateway.config.api_id
    assert context["accountId"]
    # the function ran with its environment, memory and timeout
    assert seen["stage_env"] == "test"
    assert seen["memory"] == 256
    assert 6000 < seen["remaining_ms"] <= 7000
    assert seen["function_name"] == "EchoFunction"


def test_binary_request_and_response_bodies(api: Api) -> None:
    status, _, seen = api.json("POST", "/v1/upload", key="fast-bin", body=b"\xff\xfe\x00")
    assert status == 200
    assert seen["event"]["isBase64Encoded"] is True
    assert seen["event"]["body"] == "//4A"
    status, headers, body = api.request("GET", "/v1/binary", key="fast-bin")
    assert (status, headers["content-type"], body) == (200, "application/octet-stream", bytes(range(256)))


def test_handler_exception_is_502(api: Api, capfd: pytest.CaptureFixture[str]) -> None:
    status, _, body = api.json("GET", "/v1/crash", key="fast-crash")
    assert (status, body) == (502, {"message": "Internal server error"})
    assert "RuntimeError: boom" in capfd.readouterr().err


def test_body_over_10_mb_is_413(api: Api) -> None:
    status, _, body = api.json("POST", "/v1/upload", key="fast-big", body=b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413
    assert body == {"message": "Request Too Long"}
    status, _, _ = api.request("POST", "/v1/upload", key="fast-big", body=b"x" * 1000)
    assert status == 200


# ------------------------------------------------------------------------------------------------ request ids


@pytest.mark.parametrize(
    ("status", "method", "path", "key"),
    [
        (401, "GET", "/v1/leads/abc", None),  # no key: refused before the authorizer
        (401, "GET", "/v1/leads/abc", "nope"),  # the authorizer says Unauthorized
        (403, "GET", "/v1/leads/abc", "deny"),  # its policy denies
        (403, "GET", "/v1/leads/abc", "gold-rid"),  # no usage plan for the tier (DEFAULT_4XX)
        (404, "GET", "/v1/nowhere", "fast-rid"),
        (502, "GET", "/v1/crash", "fast-rid"),  # the function failed (DEFAULT_5XX)
    ],
)
def test_gateway_responses_echo_the_callers_request_id(
    api: Api, status: int, method: str, path: str, key: str | None, capfd: pytest.CaptureFixture[str]
) -> None:
    got, headers, _ = api.request(method, path, key=key, headers={"X-Request-ID": f"trace-{status}"})
    assert got == status
    assert headers["x-request-id"] == f"trace-{status}"
    assert headers["x-amzn-requestid"] not in {"", f"trace-{status}"}  # API Gateway's own id, always
    capfd.readouterr()  # the 502's traceback


def test_throttled_response_echoes_the_callers_request_id(api: Api) -> None:
    key = "slow-rid"  # burst 2
    assert [api.request("GET", "/v1/leads/a", key=key)[0] for _ in range(2)] == [200, 200]
    status, headers, body = api.json("GET", "/v1/leads/a", key=key, headers={"X-Request-ID": "trace-429"})
    assert status == 429
    assert headers["x-request-id"] == "trace-429"
    assert body["error"]["request_id"] == headers["x-amzn-requestid"]


def test_without_a_callers_request_id_a_gateway_response_has_only_api_gateways(api: Api) -> None:
    # As on AWS: the mapping has no request header to map, and no fallback; the generated id is x-amzn-RequestId.
    status, headers, body = api.json("GET", "/v1/leads/abc")
    assert status == 401
    assert "x-request-id" not in headers
    assert body["error"]["request_id"] == headers["x-amzn-requestid"]


def test_gateway_response_headers_map_literals_and_request_values(api: Api) -> None:
    assert api.request("GET", "/v1/leads/abc")[1]["x-static"] == "fixed"
    assert api.request("GET", "/v1/leads/abc", key="deny")[1]["x-lead"] == "abc"  # the matched route's {id}
    assert api.request("GET", "/v1/nowhere?q=hello", key="fast-rid")[1]["x-query"] == "hello"
    assert "x-lead" not in api.request("GET", "/v1/leads/score", key="deny")[1]  # no such route: no {id}


def test_the_callers_request_id_reaches_the_function(api: Api) -> None:
    status, headers, seen = api.json("GET", "/v1/leads/abc", key="fast-rid", headers={"X-Request-ID": "trace-200"})
    assert status == 200
    assert seen["event"]["headers"]["X-Request-ID"] == "trace-200"
    assert seen["event"]["requestContext"]["requestId"] == headers["x-amzn-requestid"]


def test_a_mapping_the_gateway_cannot_evaluate_is_refused_at_start() -> None:
    spec = {"ResponseParameters": {"Headers": {"X-Request-ID": "context.requestId"}}}
    with pytest.raises(LocalCloudError, match=r"UNAUTHORIZED\.ResponseParameters\.Headers\.X-Request-ID"):
        GatewayResponse.from_template("UNAUTHORIZED", spec)


def test_a_crowd_of_clients_connecting_while_the_server_is_busy_is_all_answered(api: Api) -> None:
    # The server accepts none until all have connected and sent their request (as when the process is busy):
    # with socketserver's listen backlog of 5 the kernel drops or resets the connections past it.
    server = api.gateway._server
    assert server is not None
    gate = threading.Event()
    accept = server.get_request
    server.get_request = lambda: (gate.wait(10), accept())[1]  # type: ignore[method-assign]
    crowd: list[socket.socket] = []
    statuses = []
    try:
        crowd = [socket.create_connection(("127.0.0.1", api.gateway.port), timeout=10) for _ in range(CROWD)]
        for client in crowd:
            client.sendall(b"GET /test/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        gate.set()
        for client in crowd:
            statuses.append(client.makefile("rb").readline())
    finally:
        gate.set()
        server.get_request = accept  # type: ignore[method-assign]
        for client in crowd:
            client.close()
    assert statuses == [b"HTTP/1.1 200 OK\r\n"] * CROWD
