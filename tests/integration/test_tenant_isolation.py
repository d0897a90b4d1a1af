"""Tenant isolation: tenant B's admin key, given tenant A's ids, reaches none of A's data, over every REST operation
openapi.json documents and every GraphQL field that takes an ID.

A is the demo tenant, B the second demo tenant (acme-realty, with an admin key issued here); A's lead, buyer, webhook, jobs, recommendation,
market snapshot and model version are made here through the API (the version with `aiqleads models register`), with
ids nobody else holds. The operations are read from the OpenAPI document, so a new route is walked without an edit
here; one whose path parameter or request body this test cannot fill with A's ids fails it (add it to PATH_VALUES
or BODIES). GraphQL's id-taking fields come from the schema's introspection the same way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud.cloud import write_state_file
from tests.integration.conftest import run_cli
from tests.integration.test_backbone import LEAD
from tests.integration.test_backbone import api as api_once

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = json.loads((ROOT / "openapi.json").read_text())
SHIPPED_MODEL = ROOT / "model_artifacts" / "lead_scorer" / "2.0.0"
RUN = uuid.uuid4().hex[:8]
MARKET = f"iso-{RUN}"
PERIOD = "2026-11"
# In A's data and in no request of B's: a B response holding it holds A's data.
MARKER = f"isolation-marker-{RUN}"
METHODS = ("get", "put", "post", "patch", "delete")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.3)


def api(info: dict[str, Any], method: str, path: str, body: Any = None, *, key: str) -> tuple[int, Any, Any]:
    """One request; a 429 (the key's usage plan: this test sends more than a client usually does) is retried
    after its Retry-After, within a deadline."""
    deadline = time.monotonic() + 30
    while True:
        status, headers, answer = api_once(info, method, path, body, key=key)
        if status != 429 or time.monotonic() > deadline:
            return status, headers, answer
        time.sleep(float(headers.get("Retry-After", "1")))  # the wait the gateway asks for


def created(info: dict[str, Any], key: str, method: str, path: str, body: Any, status: int) -> Any:
    got, _, answer = api(info, method, path, body, key=key)
    assert got == status, (method, path, got, answer)
    return answer


@pytest.fixture(scope="module")
def state(running_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .aiqleads/local.json an operator's `aiqleads` reads."""
    return write_state_file(tmp_path_factory.mktemp("isolation") / "local.json", running_info)


@pytest.fixture(scope="module")
def b_key(state: Path) -> str:
    """An enterprise admin key of tenant B: admin so no route refuses it with 403 before looking anything up,
    enterprise so its usage plan (50 burst) lets the walk through without waits."""
    code, issued, error = run_cli("keys", "issue", "--tenant", "acme-realty", "--tier", "enterprise", "--role",
                                  "admin", "--local-state", str(state), timeout=120)  # fmt: skip
    assert code == 0, error
    return str(issued["api_key"])


@pytest.fixture(scope="module")
def tenant_a(running_info: dict[str, Any], state: Path) -> dict[str, Any]:
    """A's objects, made as A's users make them; their ids by the path parameter that names them."""
    info, key = running_info, running_info["admin_api_key"]
    lead_id, buyer_id = f"iso-lead-{RUN}", f"iso-buyer-{RUN}"
    lead = {
        **LEAD,
        "id": lead_id,
        "contact": {"name": "Isolde Marker", "email": f"{MARKER}@example.com", "phone": "+1 702 555 0199"},
        "property": {**LEAD["property"], "market": MARKET},
        "description": MARKER,
    }
    created(info, key, "POST", "/v1/leads", lead, 201)
    buyer = {"name": f"{MARKER} buyer", "tier": "enterprise", "authorised_markets": [MARKET]}
    created(info, key, "PUT", f"/v1/buyers/{buyer_id}", buyer, 201)
    webhook = created(info, key, "POST", "/v1/webhooks",
                      {"url": f"http://127.0.0.1:9/{MARKER}", "event_types": ["lead.scored"],
                       "filter": {"markets": [MARKET]}, "description": MARKER}, 201)  # fmt: skip
    signals = {"median_price": 417321, "inventory": 12, "days_on_market": 31}
    created(info, key, "PUT", f"/v1/markets/{MARKET}/snapshots/{PERIOD}", signals, 201)
    job = created(info, key, "POST", "/v1/recommendations/generate", {"buyer_ids": [buyer_id], "limit": 5}, 202)

    def recommendation() -> str | None:
        _, _, page = api(info, "GET", f"/v1/recommendations?buyer_id={buyer_id}&market={MARKET}", key=key)
        return next((rec["id"] for rec in page.get("data", []) if rec.get("id")), None)

    recommendation_id = wait_for(recommendation, "A's recommendation (the candidate cache refreshes)")
    version = f"9.{int(RUN[:4], 16)}.0"
    code, _, error = run_cli("models", "register", "--dir", str(SHIPPED_MODEL), "--tenant", "demo",
                             "--version", version, "--local-state", str(state), timeout=120)  # fmt: skip
    assert code == 0, error
    return {
        "lead_id": lead_id,
        "buyer_id": buyer_id,
        "webhook_id": webhook["id"],
        "job_id": job["job_id"],
        "recommendation_id": recommendation_id,
        "market": MARKET,
        "period": PERIOD,
        "version": version,
        "alias": "production",  # not an id: B's alias of that name, which the body points at A's version
    }


# Each path parameter: the key in tenant_a holding A's value for it.
PATH_VALUES = {
    "lead_id": "lead_id",
    "buyer_id": "buyer_id",
    "webhook_id": "webhook_id",
    "job_id": "job_id",
    "recommendation_id": "recommendation_id",
    "market": "market",
    "period": "period",
    "version": "version",
    "alias": "alias",
}

# The body B sends to each operation that takes one: wherever it names something, it names A's.
BODIES: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("put", "/v1/buyers/{buyer_id}"): lambda a: {"name": "B's own", "tier": "basic", "authorised_markets": ["boise"]},
    ("post", "/v1/buyers/{buyer_id}/purchases"): lambda a: {"lead_id": a["lead_id"], "exclusive": True},
    ("post", "/v1/conversions"): lambda a: {
        "conversions": [{"lead_id": a["lead_id"], "outcome": "converted", "at": "2026-11-25T10:00:00Z"}]
    },
    ("post", "/v1/events"): lambda a: {
        "events": [{"lead_id": a["lead_id"], "actor": a["buyer_id"], "action": "inquiry", "timestamp": now()}]
    },
    ("post", "/v1/graphql"): lambda a: {"query": f"{{ lead(leadId: {json.dumps(a['lead_id'])}) {{ lead {{ id }} }} }}"},
    ("post", "/v1/leads"): lambda a: {**LEAD, "id": a["lead_id"]},
    ("post", "/v1/leads/batch"): lambda a: {"leads": [{**LEAD, "id": a["lead_id"]}]},
    ("post", "/v1/leads/score"): lambda a: {**LEAD, "id": a["lead_id"]},
    ("put", "/v1/markets/{market}/snapshots/{period}"): lambda a: {
        "median_price": 1,
        "inventory": 1,
        "days_on_market": 1,
    },
    ("put", "/v1/models/aliases/{alias}"): lambda a: {"version": a["version"]},
    ("post", "/v1/models/training-jobs"): lambda a: {"challengers": "keep"},
    ("post", "/v1/recommendations/generate"): lambda a: {"buyer_ids": [a["buyer_id"]]},
    ("patch", "/v1/recommendations/{recommendation_id}"): lambda a: {"status": "dismissed"},
    ("post", "/v1/webhooks"): lambda a: {"url": "http://127.0.0.1:9/b", "event_types": ["lead.scored"]},
}
# Query parameters that name something: B names A's.
QUERY_VALUES = {"buyer_id": "buyer_id", "market": "market"}

# What a path-parameter operation answers B instead of 404: a create-or-replace creates B's own (201; a 200
# would have replaced A's).
NOT_404 = {("put", "/v1/buyers/{buyer_id}"): 201, ("put", "/v1/markets/{market}/snapshots/{period}"): 201}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the document that needs a key, reads before writes, deletes last: a
    write of B's must not make a later read answer B's own object."""
    found = [
        (method, path, operation)
        for path, item in OPENAPI["paths"].items()
        for method, operation in item.items()
        if method in METHODS and operation.get("security") != []
    ]
    order = {"get": 0, "put": 1, "post": 1, "patch": 1, "delete": 2}
    return sorted(found, key=lambda op: order[op[0]])


def parameters(operation: dict[str, Any], where: str) -> list[dict[str, Any]]:
    resolved = []
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = OPENAPI["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        if parameter.get("in") == where:
            resolved.append(parameter)
    return resolved


def request_of(method: str, path: str, operation: dict[str, Any], a: dict[str, Any]) -> tuple[str, Any]:
    """The URL and body of B's request naming A's objects; fails for what this test does not know how to fill."""
    url = path
    for parameter in parameters(operation, "path"):
        name = parameter["name"]
        assert name in PATH_VALUES, f"{method.upper()} {path}: no other-tenant value for path parameter {name!r}"
        url = url.replace("{" + name + "}", str(a[PATH_VALUES[name]]))
    query = [f"{p['name']}={a[QUERY_VALUES[p['name']]]}" for p in parameters(operation, "query")
             if p["name"] in QUERY_VALUES]  # fmt: skip
    if query:
        url += "?" + "&".join(query)
    body = None
    if "requestBody" in operation or (method, path) in BODIES:
        assert (method, path) in BODIES, f"{method.upper()} {path}: no body for B's request (add it to BODIES)"
        body = BODIES[(method, path)](a)
    return url, body


def a_ids(a: dict[str, Any]) -> list[str]:
    return [str(a[name]) for name in ("lead_id", "buyer_id", "webhook_id", "job_id", "recommendation_id", "version")]


def a_state(info: dict[str, Any], a: dict[str, Any]) -> dict[str, Any]:
    """Everything of A's that B's requests could change, as A reads it."""
    key = info["admin_api_key"]
    paths = [
        f"/v1/leads/{a['lead_id']}",
        f"/v1/leads/{a['lead_id']}/score/history",
        f"/v1/buyers/{a['buyer_id']}",
        f"/v1/webhooks/{a['webhook_id']}",
        f"/v1/recommendations/{a['recommendation_id']}",
        f"/v1/markets/{a['market']}/snapshots/{a['period']}",
        f"/v1/models/{a['version']}",
        "/v1/models",
    ]
    state = {}
    for path in paths:
        status, _, body = api(info, "GET", path, key=key)
        assert status == 200, (path, body)
        state[path] = body
    return state


def delivered_events(info: dict[str, Any], a: dict[str, Any]) -> set[str]:
    """The event ids A's webhook has deliveries for (their attempts go on in the background, so only the ids
    are compared: B's requests must add none of B's events)."""
    status, _, body = api(info, "GET", f"/v1/webhooks/{a['webhook_id']}/deliveries", key=info["admin_api_key"])
    assert status == 200, body
    return {delivery["event_id"] for delivery in body["data"]}


def event_tenants(aws: Callable[[str], Any], table: str) -> dict[str, str]:
    """Every announced event's tenant, from OutboxTable (each event is written there with its write)."""
    found: dict[str, str] = {}
    for page in aws("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            found[item["pk"]["S"]] = item["tenant_id"]["S"]
    return found


def introspect(info: dict[str, Any], key: str) -> dict[str, Any]:
    query = """{ __schema { queryType { name } mutationType { name } types { name kind fields(includeDeprecated: true) {
      name args(includeDeprecated: true) { name type { ...T } } type { ...T } }
      inputFields { name type { ...T } } } } }
      fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"""
    status, _, body = api(info, "POST", "/v1/graphql", {"query": query}, key=key)
    assert status == 200, body
    assert not body.get("errors"), body
    schema: dict[str, Any] = body["data"]["__schema"]
    return schema


def named(type_ref: dict[str, Any]) -> tuple[str, bool, bool]:
    """(the named type, is a list, is non-null at the top)."""
    non_null, is_list = type_ref["kind"] == "NON_NULL", False
    while type_ref.get("ofType"):
        is_list = is_list or type_ref["kind"] == "LIST"
        type_ref = type_ref["ofType"]
    return str(type_ref["name"]), is_list, non_null


def id_fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Query fields with an ID argument, whose other required arguments are none."""
    types = {t["name"]: t for t in schema["types"]}
    query_type = types[schema["queryType"]["name"]]
    fields = []
    for field in query_type["fields"]:
        args = field["args"]
        if not any(named(arg["type"])[0] == "ID" for arg in args):
            continue
        required = [arg for arg in args if named(arg["type"])[2] and named(arg["type"])[0] != "ID"]
        assert not required, f"{field['name']}: required non-ID arguments this test cannot fill: {required}"
        fields.append(("query", field))
    return fields


def selection(schema: dict[str, Any], type_name: str) -> str:
    """Enough of a result to tell null from data: `__typename` (and `edges { node { __typename } }` for a
    connection)."""
    types = {t["name"]: t for t in schema["types"]}
    fields = {f["name"] for f in (types[type_name].get("fields") or [])}
    if not fields and types[type_name]["kind"] not in ("INTERFACE", "UNION"):
        return ""
    return "{ __typename edges { node { __typename } } }" if "edges" in fields else "{ __typename }"


# Mutations that name an object by ID (an argument, or a field of their input): the arguments B sends with A's
# ids. Each must refuse with not_found and change nothing (test_tenant_b_reaches_none_of_tenant_as_objects_over_rest
# compares A's objects before and after).
MUTATIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "giveFeedback": lambda a: f'recommendation: "{a["recommendation_id"]}", input: {{status: "dismissed"}}',
    "recordConversion": lambda a: f'input: {{leadId: "{a["lead_id"]}", outcome: CONVERTED, at: "{now()}"}}',
    "recordEvent": lambda a: (
        f'input: {{leadId: "{a["lead_id"]}", actor: "{a["buyer_id"]}", action: INQUIRY, timestamp: "{now()}"}}'
    ),
}
# Mutations whose ID only names what they create: B's own object under that id (REST's POST /v1/leads covers it,
# and creating it here would make the REST walk's reads answer B's own lead).
CREATES = {"ingestLead"}


def id_mutations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Mutation fields with an ID argument or an input object holding an ID field."""
    if not schema.get("mutationType"):
        return []
    types = {t["name"]: t for t in schema["types"]}

    def takes_id(type_name: str) -> bool:
        if type_name == "ID":
            return True
        inputs = types.get(type_name, {}).get("inputFields") or []
        return any(named(field["type"])[0] == "ID" for field in inputs)

    return [field for field in types[schema["mutationType"]["name"]]["fields"]
            if any(takes_id(named(arg["type"])[0]) for arg in field["args"])]  # fmt: skip


def test_tenant_b_gets_null_for_tenant_as_global_ids_over_graphql(
    running_info: dict[str, Any], tenant_a: dict[str, Any], b_key: str
) -> None:
    info, a_key = running_info, running_info["admin_api_key"]
    schema = introspect(info, b_key)
    # A's global ids, read as A: the ids B would have to guess or steal.
    query = """query($l: ID!, $b: ID!) { lead(leadId: $l) { id } buyer(buyerId: $b) { id }
        recommendations(buyer: $b, first: 5) { edges { node { id recommendationId } } } }"""
    variables = {"l": tenant_a["lead_id"], "b": tenant_a["buyer_id"]}
    status, _, found = api(info, "POST", "/v1/graphql", {"query": query, "variables": variables}, key=a_key)
    assert status == 200, found
    data = found["data"]
    recommendation = [edge["node"]["id"] for edge in data["recommendations"]["edges"]
                      if edge["node"]["recommendationId"] == tenant_a["recommendation_id"]]  # fmt: skip
    assert recommendation, data
    global_ids = [data["lead"]["id"], data["buyer"]["id"], *recommendation]
    ids = [*global_ids, tenant_a["lead_id"], tenant_a["buyer_id"], tenant_a["recommendation_id"]]

    # B's REST walk (the next test) creates B's own lead and buyer under A's ids; until then B has none.
    assert api(info, "GET", f"/v1/leads/{tenant_a['lead_id']}", key=b_key)[0] == 404

    holes: list[str] = []
    fields = id_fields(schema)
    assert {"node", "nodes", "lead", "buyer"} <= {field["name"] for _, field in fields}
    for _, field in fields:
        id_args = [arg for arg in field["args"] if named(arg["type"])[0] == "ID"]
        aliased = []
        for number, value in enumerate(ids):  # every id in every ID argument, one alias each, one request a field
            arguments = ", ".join(
                f"{arg['name']}: {json.dumps([value]) if named(arg['type'])[1] else json.dumps(value)}"
                for arg in id_args
            )
            aliased.append(f"a{number}: {field['name']}({arguments}) {selection(schema, named(field['type'])[0])}")
        query = "{ " + " ".join(aliased) + " }"
        status, _, body = api(info, "POST", "/v1/graphql", {"query": query}, key=b_key)
        errors = body.get("errors") or []
        codes = {str((error.get("extensions") or {}).get("code")) for error in errors}
        if status != 200 or MARKER in json.dumps(body) or (codes - {"not_found"}):
            holes.append(f"{query} -> {status}: {json.dumps(body)[:500]}")
            continue
        for number, value in enumerate(ids):
            data = (body.get("data") or {}).get(f"a{number}")
            if not (data is None or data == [None] or (isinstance(data, dict) and data.get("edges") == [])):
                holes.append(f"{field['name']} with A's {value!r} -> {json.dumps(data)}")
    for mutation in id_mutations(schema):
        name = mutation["name"]
        if name in CREATES:
            continue
        assert name in MUTATIONS, f"mutation {name} takes an ID: add B's arguments naming A's object to MUTATIONS"
        query = f"mutation {{ {name}({MUTATIONS[name](tenant_a)}) {{ __typename }} }}"
        status, _, body = api(info, "POST", "/v1/graphql", {"query": query}, key=b_key)
        codes = {str((error.get("extensions") or {}).get("code")) for error in body.get("errors") or []}
        if status != 200 or body.get("data") is not None or codes != {"not_found"} or MARKER in json.dumps(body):
            holes.append(f"{query} -> {status}: {json.dumps(body)[:500]}")
    assert not holes, "GraphQL returned A's objects to B:\n" + "\n".join(holes)


def test_tenant_b_reaches_none_of_tenant_as_objects_over_rest(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], tenant_a: dict[str, Any], b_key: str
) -> None:
    info = running_info
    before = a_state(info, tenant_a)
    answers: list[str] = []
    holes: list[str] = []
    for method, path, operation in operations():
        url, body = request_of(method, path, operation, tenant_a)
        status, _, answer = api(info, method.upper(), url, body, key=b_key)
        text = json.dumps(answer)
        answers.append(f"{method.upper()} {url} -> {status}")
        where = f"{method.upper()} {url} (B's key) -> {status}: {text[:300]}"
        if status >= 500:
            holes.append(f"a 5xx: {where}")
        if MARKER in text:
            holes.append(f"A's data in the answer: {where}")
        if parameters(operation, "path"):
            expected = NOT_404.get((method, path), 404)
            if status != expected:
                holes.append(f"expected {expected}: {where}")
            elif expected == 404 and not (isinstance(answer, dict) and answer.get("error", {}).get("code")):
                holes.append(f"404 without the error envelope: {where}")
        elif method == "get":
            sent = url + json.dumps(body)  # an id B named may come back in its own 404's details
            leaked = [value for value in a_ids(tenant_a) if value in text and value not in sent]
            if leaked:
                holes.append(f"lists A's {leaked}: {where}")
    assert not holes, "isolation holes:\n" + "\n".join(holes) + "\n\nwalked:\n" + "\n".join(answers)
    assert a_state(info, tenant_a) == before, "B's requests changed A's objects"
    tenants = event_tenants(running_aws, info["tables"]["OutboxTable"])
    foreign = {event for event in delivered_events(info, tenant_a) if tenants.get(event) != "demo"}
    assert not foreign, f"A's webhook has deliveries of events not A's: {foreign}"
    # B's own reads of the walked writes did not come from A's records either.
    status, _, buyer = api(info, "GET", f"/v1/buyers/{tenant_a['buyer_id']}", key=b_key)
    assert (status, buyer["name"]) == (200, "B's own"), buyer
