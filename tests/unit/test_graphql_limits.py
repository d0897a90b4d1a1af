"""GraphQL limits and the cost budget, in-process: depth, aliases and cost are refused before anything runs, and
each key's bucket charges a query its cost (429 with Retry-After when it holds less)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLString, parse

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.api.graphql.limits import MAX_COST, Measure, exceeded, measure
from aiqleads.api.graphql.schema import schema
from tests.api_client import call
from tests.fakes import memory_lead_service, override_query_budgets
from tests.recommendation_fakes import MemoryMarketplace
from tests.unit.test_graphql import ranking

RECOMMENDATIONS = 'recommendations(buyerId: "b-1", first: %d) { edges { node { leadId } } }'


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(clock: Clock) -> Iterator[MemoryMarketplace]:
    """The API over fakes; yields the marketplace whose `served` log records every recommendation served."""
    service = ranking()
    app.dependency_overrides[context.leads] = lambda: memory_lead_service()
    app.dependency_overrides[context.recommendations] = lambda: service
    app.dependency_overrides[context.models] = lambda: None
    override_query_budgets(app, clock)
    assert isinstance(service.store, MemoryMarketplace)
    yield service.store
    app.dependency_overrides.clear()


def cost(query: str, variables: dict[str, Any] | None = None) -> Measure:
    return measure(schema(), parse(query), variables, None)


def gql(query: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    return call("POST", "/v1/graphql", {"query": query, "variables": variables}, tenant="t1")


# ------------------------------------------------------------------------------------------------ the formula
def test_a_connection_costs_its_first_and_multiplies_what_is_under_it() -> None:
    assert cost("{ leads(first: 5) { edges { node { leadId } } pageInfo { hasNextPage } } }").cost == 5
    # 20 (the default page) leads, each its lead object and 10 history entries: 20 + 20 * (1 + 10)
    nested = cost("{ leads { edges { node { lead { id } scoreHistory(first: 10) { edges { node { score } } } } } } }")
    assert nested.cost == 240
    assert nested.depth == 7


def test_a_variable_first_costs_its_value_or_the_fields_maximum() -> None:
    query = "query($n: Int) { leads(first: $n) { edges { node { leadId } } } }"
    assert cost(query, {"n": 3}).cost == 3
    assert cost(query).cost == 100  # no value: the worst case the resolver allows
    assert cost("query($n: Int = 7) { leads(first: $n) { edges { node { leadId } } } }").cost == 7


def test_aliases_fragments_nodes_and_mutations() -> None:
    many = cost("{ " + " ".join(f"a{i}: {RECOMMENDATIONS % 50}" for i in range(200)) + " }")
    assert (many.aliases, many.cost) == (200, 10_000)
    spread = cost("{ ...F ...F } fragment F on Query { x: leads(first: 2) { edges { node { ... on LeadRecord "
                  "{ leadId } } } } }")  # fmt: skip
    assert (spread.aliases, spread.cost) == (2, 4)  # a named fragment spread twice counts twice
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }').cost == 3
    assert cost('mutation { ingestLead(input: {id: "x"}) { leadId } }').cost == 10


def test_a_fragment_spread_exponentially_is_measured_without_expanding_it() -> None:
    fragments = ["fragment F0 on Query { leads(first: 1) { edges { node { leadId } } } }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 60)]
    assert cost("{ ...F59 } " + " ".join(fragments)).cost == 2**59  # refused, found in linear time


# ------------------------------------------------------------------------------------------------ the limits
def test_200_aliases_are_refused_before_anything_is_served(served: MemoryMarketplace) -> None:
    status, _, body = gql("{ " + " ".join(f"a{i}: {RECOMMENDATIONS % 50}" for i in range(200)) + " }")
    assert status == 200, body  # as every GraphQL validation error is answered
    assert body["data"] is None
    codes = {error["extensions"]["code"]: error for error in body["errors"]}
    assert set(codes) == {"too_many_aliases", "query_too_costly"}
    assert codes["query_too_costly"]["message"] == (
        "query cost (the nodes it may return) is 10000, over the maximum of 1000; nothing was run"
    )
    assert codes["too_many_aliases"]["extensions"]["details"] == {"limit": "aliases", "value": 200, "maximum": 30}
    assert served.served == {}  # nothing ran
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10_000
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000  # nothing charged


def test_depth_is_measured_through_fragments_and_refused_over_ten() -> None:
    # Our schema has no cycle deeper than a few levels; a recursive type shows the walk and the limit.
    node = GraphQLObjectType("T", lambda: {"child": GraphQLField(node), "name": GraphQLField(GraphQLString)})
    recursive = GraphQLSchema(GraphQLObjectType("Query", {"t": GraphQLField(node)}))
    query = "{ t { ...C } } fragment C on T { child { child { ... on T { child { name } } } } }"
    assert measure(recursive, parse(query), None, None).depth == 5
    eleven = "{ t " + "{ child " * 9 + "{ name }" + " }" * 9 + " }"
    found = measure(recursive, parse(eleven), None, None)
    assert found.depth == 11
    (error,) = exceeded(found)
    assert error.extensions == {"code": "query_too_deep",
                                "details": {"limit": "depth", "value": 11, "maximum": 10}}  # fmt: skip
    assert exceeded(Measure(depth=10, aliases=30, cost=1000)) == []


# ------------------------------------------------------------------------------------------------ the budget
def test_every_response_states_its_cost_and_the_bucket(served: MemoryMarketplace) -> None:
    status, _, body = gql("{ " + RECOMMENDATIONS % 5 + " }")
    assert status == 200, body
    assert "errors" not in body
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 5,
        "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 1995, "restoreRate": 100.0},
    }


def test_an_empty_bucket_throttles_with_retry_after_until_it_restores(served: MemoryMarketplace,
                                                                      clock: Clock) -> None:  # fmt: skip
    costly = "{ " + " ".join(f"a{i}: leads(first: 100) {{ edges {{ node {{ leadId }} }} }}" for i in range(10)) + " }"
    assert cost(costly).cost == MAX_COST
    for _ in range(2):  # the pro bucket: 2,000 points
        status, _, body = gql(costly)
        assert status == 200, body
    status, headers, body = gql(costly)
    assert status == 429
    assert headers["Retry-After"] == "10"  # 1,000 points at 100 a second
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "throttled"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    clock.now += 9
    assert gql(costly)[0] == 429  # 900 points: not yet
    clock.now += 1
    status, _, body = gql(costly)
    assert status == 200
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


def test_a_refused_query_charges_nothing(served: MemoryMarketplace) -> None:
    gql("{ " + " ".join(f"a{i}: {RECOMMENDATIONS % 50}" for i in range(200)) + " }")
    gql("{ nope }")
    _, _, body = gql("{ " + RECOMMENDATIONS % 1 + " }")
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 1999
