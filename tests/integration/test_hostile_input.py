"""A hostile fuzzer over every route of the running local cloud: raw HTTP on a socket (so nothing a client library
refuses to send is left out), with bodies, paths, queries and headers nobody writes on purpose.

Every request must get a response (no connection closed without one), no response may be a 5xx, and every 4xx
carries the error envelope. The routes come from openapi.json (which tests/unit/test_openapi.py keeps equal to the
app's routes); the budget is bounded (max_examples per test, derandomized for reproducible CI runs).
"""

from __future__ import annotations

import http.client
import json
import math
import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = json.loads((ROOT / "openapi.json").read_text())
ROUTES: list[tuple[str, str]] = sorted(
    (method.upper(), path) for path, operations in OPENAPI["paths"].items() for method in operations
)
BODY_ROUTES = [(method, path) for method, path in ROUTES if method in ("POST", "PUT", "PATCH")]
FUZZ = settings(max_examples=75, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
MAX_RETRY_AFTER = 5.0

LEAD: dict[str, Any] = {
    "id": "hostile-1",
    "source": "web",
    "contact": {"email": "a@example.com"},
    "property": {"market": "las-vegas", "price": 300000},
    "intent": "buy",
}

# ------------------------------------------------------------------------------------------------ generators

NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**400, 0, -0.0])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),  # any code point, astral and surrogate-free
    st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=10),
    st.sampled_from(["", " ", "\x00", "a#b", "a/b", "%2F", "../..", "\u202e", "\ufeff", "\U0001f600", "é" * 300]),
    st.integers(1000, 200_000).map(lambda n: "x" * n),
)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, st.integers(), st.floats(), HOSTILE_TEXT)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(HOSTILE_TEXT, inner, max_size=5)),
    max_leaves=20,
)

GRAPHQL_QUERIES = [
    "{" + 'lead(id: "a") { ' * 2000 + "}" * 2001,
    "query($id: ID!) { lead(id: $id) { id } }",
    "query($x: Float) { __typename }",
    '{ lead(id: "\\ud800") { id } }',
    "{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }",
]


def _dumps(value: Any) -> bytes:
    # Python's json writes NaN, Infinity and 10**400 as they are: bodies no JSON encoder of a client should send.
    return json.dumps(value, allow_nan=True).encode()


def _mutated_lead(draw: Any) -> bytes:
    """A valid lead with one field (top level or nested) replaced by a hostile value: reaches deep validation."""
    lead = json.loads(json.dumps(LEAD))
    where = draw(st.sampled_from(["id", "source", "intent", "attributes", "description", "contact", "property"]))
    target = lead
    if where in ("contact", "property") and draw(st.booleans()):
        target, where = lead[where], draw(st.sampled_from([*lead[where], "type", "lat", "phone"]))
    target[where] = draw(JSON_VALUES)
    return _dumps(lead)


@st.composite
def hostile_bodies(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["json", "lead", "deep", "utf8", "duplicate", "number", "huge", "graphql"]))
    if kind == "json":
        return _dumps(draw(JSON_VALUES))
    if kind == "graphql":  # hostile documents and variables (the GraphQL route reads both)
        query = draw(st.one_of(HOSTILE_TEXT, st.sampled_from(GRAPHQL_QUERIES)))
        return _dumps({"query": query, "variables": draw(JSON_VALUES), "operationName": draw(HOSTILE_TEXT)})
    if kind == "lead":
        return _mutated_lead(draw)
    if kind == "deep":
        depth = draw(st.sampled_from([33, 1000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "utf8":
        junk = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]))
        return b'{"id": "' + junk + b'", "source": "web"}'
    if kind == "duplicate":
        return b'{"id": "dup-1", "id": {"x": 1}, "source": "web", "source": [], "leads": 1, "leads": []}'
    if kind == "number":
        literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000, "1.5e-400"]))
        return json.dumps(LEAD)[:-1].encode() + b', "attributes": {"n": ' + literal.encode() + b"}}"
    return _dumps({**LEAD, "description": "d" * draw(st.sampled_from([5001, 300_000, 2_000_000]))})


SEGMENTS = st.one_of(
    st.sampled_from(
        ["%2F", "a%2Fb", "%00", "%FF", "%C3%A9", "%F0%9F%98%80", "%2e%2e", "a%23b", "%25", "%", "%zz", "."]
    ),
    HOSTILE_TEXT.filter(bool).map(lambda text: quote(text[:3000], safe="")),
    st.integers(1, 5000).map(lambda n: "a" * n),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), min_size=1, max_size=8),
)
QUERIES = st.lists(
    st.tuples(st.sampled_from(["limit", "cursor", "buyer_id", "first", "x", "", "%00"]), HOSTILE_TEXT),
    max_size=4,
).map(lambda pairs: "&".join(f"{quote(k, safe='%')}={quote(v[:2000], safe='')}" for k, v in pairs))
HEADER_VALUES = st.one_of(
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"x" * 8000, b"", b" "]),
)


def _path(template: str, segment: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: segment, template)


# ------------------------------------------------------------------------------------------------ the client


def send(url: str, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> Any:
    """One raw HTTP/1.1 request; the parsed response, or the reason there was none (a failure of the server)."""
    parts = urlsplit(url)
    head = [
        f"{method} {parts.path}{target} HTTP/1.1".encode("utf-8", "surrogateescape"),
        b"Host: " + parts.netloc.encode(),
    ]
    head += [name + b": " + value for name, value in headers]
    head += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError) as error:
            pytest.fail(f"{method} {target[:200]}: connection closed without a response ({error})")
        return response.status, dict(response.getheaders()), response.read()


def check(
    info: dict[str, Any], method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> None:
    keyed = [(b"x-api-key", info["api_key"].encode()), (b"Content-Type", b"application/json"), *headers]
    status, response_headers, payload = send(info["api_url"], method, target, keyed, body)
    if status == 429:  # the usage plan's answer: wait as told (bounded), then the request is tried once more
        time.sleep(min(float(response_headers.get("Retry-After") or 1), MAX_RETRY_AFTER))
        status, response_headers, payload = send(info["api_url"], method, target, keyed, body)
    where = f"{method} {target[:200]} body {body[:200]!r}"
    assert status < 500, f"{where}: {status} {payload[:500]!r}"
    if status >= 400 and status != 429:
        envelope = json.loads(payload)
        assert set(envelope["error"]) >= {"code", "message"}, (
            f"{where}: {status} without the envelope: {payload[:300]!r}"
        )


# ------------------------------------------------------------------------------------------------ the fuzzers


def test_the_routes_are_the_documented_ones() -> None:
    assert ("POST", "/v1/leads") in ROUTES
    assert len(ROUTES) >= 30


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), body=hostile_bodies())
@example(route=("POST", "/v1/leads"), body=b"[" * 100_000 + b"]" * 100_000)  # issue 15: a RecursionError, 500
@example(route=("POST", "/v1/leads"), body=_dumps({**LEAD, "id": "lead-\U0001f600"}))  # broke the Location header
@example(route=("POST", "/v1/leads"), body=_dumps({**LEAD, "attributes": {str(i): "x" * 9000 for i in range(50)}}))
def test_hostile_bodies(running_info: dict[str, Any], route: tuple[str, str], body: bytes) -> None:
    method, path = route
    check(running_info, method, _path(path, "hostile-1"), [], body)


@FUZZ
@given(route=st.sampled_from([r for r in ROUTES if "{" in r[1]]), segment=SEGMENTS)
@example(route=("GET", "/v1/leads/{lead_id}"), segment="a" * 3000)  # over DynamoDB's key size
@example(route=("GET", "/v1/webhooks/{webhook_id}"), segment="a" * 3000)
def test_hostile_path_segments(running_info: dict[str, Any], route: tuple[str, str], segment: str) -> None:
    method, path = route
    check(running_info, method, _path(path, segment), [], b"{}" if method != "GET" else b"")


@FUZZ
@given(route=st.sampled_from(ROUTES), query=QUERIES)
def test_hostile_query_strings(running_info: dict[str, Any], route: tuple[str, str], query: str) -> None:
    method, path = route
    check(running_info, method, _path(path, "hostile-1") + "?" + query, [], b"{}" if method != "GET" else b"")


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    name=st.sampled_from([b"X-Request-ID", b"Content-Type", b"Accept", b"X-Forwarded-For", b"Idempotency-Key"]),
    value=HEADER_VALUES,
)
def test_hostile_headers(running_info: dict[str, Any], route: tuple[str, str], name: bytes, value: bytes) -> None:
    method, path = route
    check(running_info, method, _path(path, "hostile-1"), [(name, value), (name, value)], _dumps(LEAD))
