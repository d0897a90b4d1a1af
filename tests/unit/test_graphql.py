"""GraphQL through the API function in-process (fake stores): queries, mutations, connections, errors."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.leads.service import LeadService
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.ranking import Candidate
from aiqleads.recommendations.service import BuyerProfile, RecommendationService
from tests.api_client import call
from tests.fakes import memory_lead_service, override_query_budgets
from tests.recommendation_fakes import MemoryCandidates, MemoryMarketplace
from tests.registry_fakes import memory_registry

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

LEAD_INPUT = """{id: "%s", source: "zillow", createdAt: "2026-11-%02dT10:00:00Z", contact: {email: "a@example.com"},
  property: {type: CONDO, price: 310000, market: "%s"}, intent: SELL, timeline: ASAP}"""


@pytest.fixture
def service() -> Iterator[LeadService]:
    fake = memory_lead_service()
    app.dependency_overrides[context.leads] = lambda: fake
    recommendations = ranking()
    app.dependency_overrides[context.recommendations] = lambda: recommendations
    registry = memory_registry()
    app.dependency_overrides[context.models] = lambda: registry
    override_query_budgets(app)
    yield fake
    app.dependency_overrides.clear()


def ranking() -> RecommendationService:
    """60 ranked leads in three markets for tenant t1, and one buyer allowed two of them."""
    candidates = MemoryCandidates()
    for index in range(60):
        card = LeadCard(source=["zillow", "fsbo"][index % 2], property_type="condo", price=300_000.0,
                        created_at="2026-11-25T00:00:00Z", intent="buy", timeline="asap", has_email=True,
                        has_phone=True, has_name=True, disposable_email=False, role_email=False,
                        suspicious_phone=False, completeness=0.9)  # fmt: skip
        market = ["las-vegas", "austin", "phoenix"][index % 3]
        candidates.add("t1", Candidate(f"lead-{index:02d}", market, 0.9 - index / 100, 90 - index, "A", "2.0.0", card))
    service = RecommendationService(MemoryMarketplace(candidates), candidates, clock=lambda: NOW)
    service.put_buyer("t1", "b-1", BuyerProfile.model_validate(
        {"tier": "pro", "authorised_markets": ["las-vegas", "austin"]}))  # fmt: skip
    return service


def gql(query: str, variables: dict[str, Any] | None = None, tenant: str = "t1") -> tuple[int, dict[str, Any]]:
    status, _, body = call("POST", "/v1/graphql", {"query": query, "variables": variables}, tenant=tenant)
    assert "requestedQueryCost" in body.pop("extensions")["cost"]  # every response states its cost (limits tests)
    return status, body


def ingest(lead_id: str, day: int = 20, market: str = "austin", tenant: str = "t1") -> dict[str, Any]:
    status, body = gql(f"mutation {{ ingestLead(input: {LEAD_INPUT % (lead_id, day, market)}) {{ leadId score grade }} }}",
                       tenant=tenant)  # fmt: skip
    assert status == 200
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["ingestLead"]
    return result


def test_ingest_then_query_the_lead(service: LeadService) -> None:
    created = ingest("g-1")
    assert created["leadId"] == "g-1"
    assert created["grade"] in "ABCD"
    _, body = gql(
        '{ lead(id: "g-1") { lead { id intent property { type market } } score { score grade reasons { text } } } }'
    )
    record = body["data"]["lead"]
    assert record["lead"] == {"id": "g-1", "intent": "SELL", "property": {"type": "CONDO", "market": "austin"}}
    assert record["score"]["score"] == created["score"]
    assert record["score"]["reasons"]


def test_lead_of_another_tenant_is_null(service: LeadService) -> None:
    ingest("g-2", tenant="t1")
    _, body = gql('{ lead(id: "g-2") { lead { id } } }', tenant="t2")
    assert body["data"]["lead"] is None


def test_leads_connection_pages_are_complete_without_duplicates(service: LeadService) -> None:
    for day in range(1, 26):
        ingest(f"p-{day:02d}", day=day, market="austin" if day % 2 else "phoenix")
    seen: list[str] = []
    after = None
    for _ in range(10):
        _, body = gql("query($after: String) { leads(first: 7, after: $after) { edges { cursor node { lead { id } } }"
                      " pageInfo { hasNextPage endCursor } } }", {"after": after})  # fmt: skip
        assert "errors" not in body, body
        page = body["data"]["leads"]
        seen += [edge["node"]["lead"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"p-{day:02d}" for day in range(25, 0, -1)]  # newest first, each exactly once


def test_leads_filter(service: LeadService) -> None:
    for day in range(1, 9):
        ingest(f"f-{day}", day=day, market="austin" if day % 2 else "phoenix")
    _, body = gql(
        '{ leads(first: 50, filter: {market: "phoenix"}) { edges { node { lead { property { market } } } } } }'
    )
    markets = [edge["node"]["lead"]["property"]["market"] for edge in body["data"]["leads"]["edges"]]
    assert markets == ["phoenix"] * 4


def test_validation_errors_carry_our_code_and_fields(service: LeadService) -> None:
    _, body = gql('mutation { ingestLead(input: {id: "bad", source: "zillow", property: {price: 5, market: "austin"},'
                  " intent: BUY}) { leadId } }")  # fmt: skip
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "validation_error"
    fields = {detail["field"] for detail in error["extensions"]["details"]}
    assert "input.property.price" in fields
    assert error["path"] == ["ingestLead"]


def test_unknown_enum_value_is_a_graphql_error(service: LeadService) -> None:
    _, body = gql('mutation { ingestLead(input: {id: "x", source: "zillow", property: {market: "austin"}, intent: RENT})'
                  " { leadId } }")  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "graphql_validation_error"
    assert "RENT" in body["errors"][0]["message"]


def test_record_event_for_an_unknown_lead_is_not_found(service: LeadService) -> None:
    _, body = gql('mutation { recordEvent(input: {leadId: "nope", actor: "lead", action: VIEW,'
                  ' timestamp: "2026-11-21T10:00:00Z"}) { accepted } }')  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "not_found"


def test_record_event_and_conversion(service: LeadService) -> None:
    ingest("e-1")
    _, body = gql('mutation { recordEvent(input: {leadId: "e-1", actor: "buyer-1", action: INQUIRY,'
                  ' timestamp: "2026-11-21T10:00:00Z"}) { accepted eventIds } }')  # fmt: skip
    assert body["data"]["recordEvent"]["accepted"] == 1
    _, body = gql('mutation { recordConversion(input: {leadId: "e-1", outcome: CONVERTED, at: "2026-11-25T00:00:00Z"})'
                  " { recorded } }")  # fmt: skip
    assert body["data"]["recordConversion"] == {"recorded": 1}


def test_tampered_cursor_is_rejected(service: LeadService) -> None:
    _, body = gql('{ leads(after: "not-a-cursor") { edges { cursor } } }')
    assert body["errors"][0]["extensions"]["code"] == "validation_error"


def test_rest_cold_start_does_not_import_graphql() -> None:
    probe = "import sys, aiqleads.api.app; print('graphql' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"


def test_recommendations_connection_pages_through_the_buyers_leads(service: LeadService) -> None:
    seen: list[str] = []
    after = None
    for _ in range(10):
        _, body = gql("query($after: String) { recommendations(buyerId: \"b-1\", first: 15, after: $after) {"
                      " edges { cursor node { leadId rank market score { score } actions { action priority } } }"
                      " pageInfo { hasNextPage endCursor } } }", {"after": after})  # fmt: skip
        assert "errors" not in body, body
        page = body["data"]["recommendations"]
        seen += [edge["node"]["leadId"] for edge in page["edges"]]
        assert {edge["node"]["market"] for edge in page["edges"]} <= {"las-vegas", "austin"}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 40  # the 40 leads in the buyer's two markets, once each


def test_models_and_feedback(service: LeadService) -> None:
    _, body = gql("{ models { serving data { version serving metrics } } }")
    assert body["data"]["models"]["serving"] == "2.0.0"
    _, body = gql('{ recommendations(buyerId: "b-1", first: 1) { edges { node { id } } } }')
    rec_id = body["data"]["recommendations"]["edges"][0]["node"]["id"]
    _, body = gql('mutation($id: String!) { giveFeedback(recommendationId: $id, input: {usefulness: 4,'
                  ' status: "contacted"}) { id feedback { usefulness status } } }', {"id": rec_id})  # fmt: skip
    assert body["data"]["giveFeedback"] == {"id": rec_id, "feedback": {"usefulness": 4, "status": "contacted"}}
    _, body = gql('mutation { giveFeedback(recommendationId: "rec_nope", input: {usefulness: 9}) { id } }')
    assert body["errors"][0]["extensions"]["code"] in ("validation_error", "not_found")


# ------------------------------------------------------------------------- Relay: ID, Node, global ids, deprecations
def introspect(type_name: str) -> dict[str, Any]:
    _, body = gql(
        "query($name: String!) { __type(name: $name) { kind interfaces { name } possibleTypes { name }"
        " fields { name type { ...Deep }"
        " args(includeDeprecated: true) { name isDeprecated deprecationReason type { ...Deep } } }"
        " inputFields { name type { ...Deep } } } }"
        " fragment Deep on __Type { kind name ofType { kind name ofType { kind name ofType { name } } } }",
        {"name": type_name},
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["__type"]
    return result


def named(type_ref: dict[str, Any]) -> str:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return str(type_ref["name"])


def field_types(type_name: str) -> dict[str, str]:
    described = introspect(type_name)
    return {f["name"]: named(f["type"]) for f in described["fields"] or described["inputFields"]}


def test_node_interface_and_its_types(service: LeadService) -> None:
    node = introspect("Node")
    assert node["kind"] == "INTERFACE"
    assert {t["name"] for t in node["possibleTypes"]} == {"LeadRecord", "Buyer", "Recommendation"}
    assert field_types("Node") == {"id": "ID"}
    for type_name in ("LeadRecord", "Buyer", "Recommendation"):
        assert introspect(type_name)["interfaces"] == [{"name": "Node"}]
    query = {f["name"]: f for f in introspect("Query")["fields"]}
    assert [(a["name"], named(a["type"])) for a in query["node"]["args"]] == [("id", "ID")]
    assert [(a["name"], named(a["type"])) for a in query["nodes"]["args"]] == [("ids", "ID")]


def test_identifiers_are_ids(service: LeadService) -> None:
    expected = {
        "LeadRecord": ("id", "leadId"),
        "Lead": ("id",),
        "Score": ("leadId",),
        "Recommendation": ("id", "recommendationId", "buyerId", "leadId"),
        "Buyer": ("id", "buyerId", "purchasedLeadIds"),
        "FeedbackRecorded": ("id", "recommendationId", "buyerId", "leadId"),
        "EventsAccepted": ("eventIds",),
        "LeadInput": ("id",),
        "InteractionInput": ("leadId",),
        "ConversionInput": ("leadId",),
    }
    for type_name, fields in expected.items():
        types = field_types(type_name)
        assert {name: types[name] for name in fields} == dict.fromkeys(fields, "ID"), type_name
    assert field_types("Lead")["source"] == "String"  # only identifiers
    query = {f["name"]: f for f in introspect("Query")["fields"]}
    current = {(field, a["name"]): named(a["type"]) for field in ("lead", "buyer", "recommendations")
               for a in query[field]["args"] if not a["isDeprecated"]}  # fmt: skip
    assert current[("lead", "leadId")] == current[("buyer", "buyerId")] == current[("recommendations", "buyer")] == "ID"


def test_deprecated_string_arguments_are_marked_and_still_resolve(service: LeadService) -> None:
    args = {(f["name"], a["name"]): a for f in introspect("Query")["fields"] + introspect("Mutation")["fields"]
            for a in f["args"]}  # fmt: skip
    for old, new in ((("lead", "id"), "leadId"), (("recommendations", "buyerId"), "buyer"),
                     (("giveFeedback", "recommendationId"), "recommendation")):  # fmt: skip
        assert args[old]["isDeprecated"] is True
        assert new in args[old]["deprecationReason"]
        assert named(args[old]["type"]) == "String"
        assert args[(old[0], new)]["isDeprecated"] is False
    _, body = gql('{ __type(name: "Query") { fields { name args { name } } } }')  # deprecated ones hidden by default
    lead_args = next(f["args"] for f in body["data"]["__type"]["fields"] if f["name"] == "lead")
    assert lead_args == [{"name": "leadId"}]
    ingest("dep-1")
    _, old = gql("query($id: String!) { lead(id: $id) { leadId lead { id } } }", {"id": "dep-1"})
    _, new = gql("query($id: ID!) { lead(leadId: $id) { leadId lead { id } } }", {"id": "dep-1"})
    assert old == new == {"data": {"lead": {"leadId": "dep-1", "lead": {"id": "dep-1"}}}}
    _, body = gql('{ lead(id: "dep-1", leadId: "dep-1") { leadId } }')
    assert body["errors"][0]["extensions"]["code"] == "validation_error"
    _, body = gql("{ lead { leadId } }")
    assert body["errors"][0]["extensions"]["code"] == "validation_error"
    _, old = gql('{ recommendations(buyerId: "b-1", first: 3) { edges { node { id recommendationId } } } }')
    _, new = gql('{ recommendations(buyer: "b-1", first: 3) { edges { node { id recommendationId } } } }')
    assert old == new
    assert "errors" not in new
    rec = new["data"]["recommendations"]["edges"][0]["node"]
    for argument, value in (("recommendationId", rec["recommendationId"]), ("recommendation", rec["recommendationId"]),
                            ("recommendation", rec["id"])):  # fmt: skip
        _, body = gql(f"mutation($r: {'String' if argument == 'recommendationId' else 'ID'}!) {{ giveFeedback("
                      f"{argument}: $r, input: {{usefulness: 5}}) {{ id recommendationId }} }}", {"r": value})  # fmt: skip
        assert body == {"data": {"giveFeedback": rec}}, (argument, body)


def node_query(global_id: str, tenant: str = "t1") -> dict[str, Any]:
    _, body = gql("query($id: ID!) { node(id: $id) { __typename id ... on LeadRecord { leadId lead { source } }"
                  " ... on Buyer { buyerId tier } ... on Recommendation { recommendationId leadId buyerId } } }",
                  {"id": global_id}, tenant=tenant)  # fmt: skip
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def global_ids(service: LeadService) -> dict[str, tuple[str, str]]:
    """Each node type's (global id, local id), read from the fields that serve them."""
    ingest("n-1")
    _, lead = gql('{ lead(leadId: "n-1") { id leadId } }')
    _, buyer = gql('{ buyer(buyerId: "b-1") { id buyerId tier } }')
    _, recs = gql('{ recommendations(buyer: "b-1", first: 1) { edges { node { id recommendationId } } } }')
    rec = recs["data"]["recommendations"]["edges"][0]["node"]
    return {
        "LeadRecord": (lead["data"]["lead"]["id"], lead["data"]["lead"]["leadId"]),
        "Buyer": (buyer["data"]["buyer"]["id"], buyer["data"]["buyer"]["buyerId"]),
        "Recommendation": (rec["id"], rec["recommendationId"]),
    }


def test_node_round_trips_each_node_type(service: LeadService) -> None:
    ids = global_ids(service)
    local_field = {"LeadRecord": "leadId", "Buyer": "buyerId", "Recommendation": "recommendationId"}
    for type_name, (global_id, local) in ids.items():
        assert global_id != local
        assert "t1" not in base64.urlsafe_b64decode(global_id + "==").decode()  # the tenant is never in it
        found = node_query(global_id)["node"]
        assert found["__typename"] == type_name
        assert found["id"] == global_id
        assert found[local_field[type_name]] == local
    assert node_query(ids["LeadRecord"][0])["node"]["lead"] == {"source": "zillow"}
    assert node_query(ids["Buyer"][0])["node"]["tier"] == "PRO"
    _, body = gql("query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
                  {"ids": [ids["Buyer"][0], "nope", ids["LeadRecord"][0]]})  # fmt: skip
    assert body == {"data": {"nodes": [{"__typename": "Buyer", "id": ids["Buyer"][0]}, None,
                                       {"__typename": "LeadRecord", "id": ids["LeadRecord"][0]}]}}  # fmt: skip
    # The ID arguments take a global id as well as a local one.
    _, body = gql("query($id: ID!) { lead(leadId: $id) { leadId } }", {"id": ids["LeadRecord"][0]})
    assert body == {"data": {"lead": {"leadId": "n-1"}}}
    _, body = gql("query($id: ID!) { buyer(buyerId: $id) { buyerId } }", {"id": ids["Buyer"][0]})
    assert body == {"data": {"buyer": {"buyerId": "b-1"}}}


def test_node_is_null_for_other_tenants_malformed_and_unknown_ids(service: LeadService) -> None:
    ids = global_ids(service)
    for global_id, _local in ids.values():
        assert node_query(global_id, tenant="t2") == {"node": None}  # no error telling it exists elsewhere

    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    for malformed in ("", "%%%", "n-1", b64("LeadRecord"), b64("LeadRecord:"), b64("Planet:n-1"),
                      b64("FeedbackRecorded:x"), b64("LeadRecord:n-1") + "==", b64("LeadRecord:unknown"),
                      b64("Recommendation:rec_nope"), b64("Buyer:b-9"), "\u00e9\u00e9"):  # fmt: skip
        assert node_query(malformed) == {"node": None}, malformed
    _, body = gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 101})
    assert body["errors"][0]["extensions"]["code"] == "validation_error"
    _, body = gql('{ buyer(buyerId: "b-1") { buyerId } }', tenant="t2")
    assert body == {"data": {"buyer": None}}
