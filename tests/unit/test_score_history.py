"""A lead's score history and trend: the trend rule, the history item, the writers (ingest, events) through the
lead service, and the REST route and GraphQL field over in-memory stores."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp, InvalidHistoryCursor, decode_cursor, encode_cursor
from aiqleads.leads.service import LeadService
from aiqleads.models import Action, Grade, Interaction, Score, ScoreCause, ScoreHistoryEntry, TrendDirection
from aiqleads.storage.codec import encode_item
from aiqleads.storage.leads import LeadRepository, history_entry, history_item
from tests.api_client import call
from tests.fakes import memory_lead_service, override_query_budgets

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEAD: dict[str, Any] = {
    "id": "h-1",
    "source": "zillow",
    "created_at": "2026-11-20T10:00:00Z",
    "contact": {"email": "ana@example.com", "phone": "+1 702 555 0100"},
    "property": {"type": "single_family", "price": 425000, "beds": 3, "market": "las-vegas"},
    "intent": "buy",
    "timeline": "0-3 months",
}


def at(days_ago: float) -> str:
    return trend.stamp(NOW - timedelta(days=days_ago))


def score(value: int = 40, lead_id: str = "h-1") -> Score:
    return Score(
        lead_id=lead_id, probability=value / 100, score=value, grade=Grade.C, reasons=[], model_version="1.0.0"
    )


# ------------------------------------------------------------------------------------------------ the trend rule
def test_the_trend_compares_with_the_score_in_force_seven_days_ago() -> None:
    points = [(at(10), 30), (at(8), 40), (at(3), 52)]
    found = trend.trend(points, NOW)
    assert found is not None
    assert (found.direction, found.delta, found.window_days) == (TrendDirection.IMPROVING, 12, 7)
    assert trend.stamp(found.since) == at(8)  # the latest at or before the window's start, not the oldest
    assert trend.insight(found) == "Score improving: +12 in 7 days"


@pytest.mark.parametrize(
    ("points", "direction", "delta"),
    [
        ([(at(9), 50), (at(1), 45)], TrendDirection.DECLINING, -5),  # the threshold itself counts
        ([(at(9), 50), (at(1), 46)], TrendDirection.STEADY, -4),
        ([(at(9), 50), (at(1), 55)], TrendDirection.IMPROVING, 5),
        ([(at(2), 20), (at(1), 31)], TrendDirection.IMPROVING, 11),  # younger than the window: its first score
        ([(at(2), 20)], TrendDirection.STEADY, 0),  # a new lead
        ([(at(30), 20), (at(20), 60)], TrendDirection.STEADY, 0),  # a rise long ago is steady now
    ],
)
def test_trend_directions(points: list[trend.Point], direction: TrendDirection, delta: int) -> None:
    found = trend.trend(points, NOW)
    assert found is not None
    assert (found.direction, found.delta) == (direction, delta)


def test_no_points_no_trend_and_the_current_score_wins() -> None:
    assert trend.trend([], NOW) is None
    found = trend.trend([(at(9), 50)], NOW, current=70)
    assert found is not None
    assert (found.direction, found.delta) == (TrendDirection.IMPROVING, 20)
    assert trend.insight(trend.trend([(at(9), 50), (at(1), 40)], NOW)) == "Score declining: -10 in 7 days"
    assert trend.insight(trend.trend([(at(9), 50), (at(1), 53)], NOW)) == "Score steady over 7 days (+3)"
    assert trend.insight(trend.trend([(at(1), 50)], NOW)) == "Score steady over 7 days"


def test_extend_keeps_the_window_and_its_baseline_only() -> None:
    points = [(at(20), 10), (at(12), 20), (at(9), 30), (at(2), 40)]
    assert trend.extend(points, NOW, 50) == [(at(9), 30), (at(2), 40), (trend.stamp(NOW), 50)]
    assert trend.extend([(at(2), 40)], NOW, 40) == [(at(2), 40)]  # an unchanged score adds no point
    many = [(trend.stamp(NOW - timedelta(hours=h)), h) for h in range(100, 0, -1)]
    kept = trend.extend(many, NOW, 0)
    assert len(kept) == trend.MAX_POINTS
    assert kept[-1] == (trend.stamp(NOW), 0)
    assert trend.loads(trend.dumps(kept)) == kept
    assert trend.loads(None) == []


# ------------------------------------------------------------------------------------------------ the item
def test_a_history_item_keeps_the_score_but_its_reasons_and_no_index_attribute() -> None:
    stamp = HistoryStamp(NOW, ScoreCause.EVENT, "evt-1")
    item = history_item("t1", score(42), stamp, retention_days=30)
    assert item["pk"] == "t1#h-1"
    assert item["sk"].startswith("history#2026-11-26T12:00:00.000000Z#")
    assert item["expires_at"] == int(NOW.timestamp()) + 30 * 86400
    assert (item["cause"], item["score"], item["probability"], item["grade"]) == ("event", 42, 0.42, "C")
    assert "reasons" not in item
    assert not [name for name in item if name.startswith("gsi")]
    assert history_item("t1", score(42), stamp, 30) == item  # retried: the same item
    assert history_item("t1", score(42), HistoryStamp(NOW, ScoreCause.EVENT, "evt-2"), 30)["sk"] != item["sk"]
    ingest = HistoryStamp(NOW, ScoreCause.INGEST)  # no id: the score's content keys it
    assert history_item("t1", score(42), ingest)["sk"] != history_item("t1", score(43), ingest)["sk"]
    entry = history_entry(item)
    assert isinstance(entry, ScoreHistoryEntry)
    assert entry.model_dump(mode="json", exclude_none=True) == {"at": "2026-11-26T12:00:00Z", "cause": "event", "probability": 0.42,
                                             "score": 42, "grade": "C", "model_version": "1.0.0"}  # fmt: skip


def test_the_entry_has_every_score_field_but_the_lead_id_and_the_reasons() -> None:
    assert set(ScoreHistoryEntry.model_fields) == {"at", "cause"} | set(Score.model_fields) - {"lead_id", "reasons"}


def test_create_and_put_score_write_the_history_item_in_the_same_transaction() -> None:
    class Client:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def transact_write_items(self, **request: Any) -> None:
            self.calls.append(request)

    client = Client()
    repository = LeadRepository("LeadsTable", client, history_retention_days=10, clock=lambda: NOW)
    from aiqleads.models import Lead

    repository.create("t1", Lead.model_validate(LEAD), score(40))
    repository.put_score("t1", "las-vegas", score(47), HistoryStamp(NOW, ScoreCause.EVENT, "e1"), [(at(1), 40)])
    created, updated = client.calls
    puts = [item["Put"]["Item"] for item in created["TransactItems"]]
    assert [p["sk"]["S"] for p in puts][:2] == ["lead", "score"]
    assert puts[2]["sk"]["S"].startswith("history#")
    assert puts[1]["recent_scores"] == {"S": trend.dumps([(trend.stamp(NOW), 40)])}
    update, put = updated["TransactItems"]
    assert update["Update"]["Key"] == encode_item({"pk": "t1#h-1", "sk": "score"})
    assert put["Put"]["Item"]["cause"] == {"S": "event"}
    assert put["Put"]["Item"]["score"] == {"N": "47"}
    points = update["Update"]["ExpressionAttributeValues"]
    assert {"S": trend.dumps([(at(1), 40), (trend.stamp(NOW), 47)])} in points.values()


def test_cursors_belong_to_one_lead() -> None:
    cursor = encode_cursor("h-1", "history#2026-11-26T12:00:00.000000Z#abc")
    assert decode_cursor(cursor, "h-1") == "history#2026-11-26T12:00:00.000000Z#abc"
    for bad, lead in ((cursor, "h-2"), ("not-a-cursor", "h-1"), (encode_cursor("h-1", "score"), "h-1")):
        with pytest.raises(InvalidHistoryCursor) as raised:
            decode_cursor(bad, lead)
        assert raised.value.code == "invalid_cursor"


# ------------------------------------------------------------------------------------------------ the service, the API
@pytest.fixture
def service() -> Iterator[LeadService]:
    fake = memory_lead_service()
    app.dependency_overrides[context.leads] = lambda: fake
    app.dependency_overrides[context.recommendations] = lambda: None  # GraphQL's context: unused here
    app.dependency_overrides[context.models] = lambda: None
    override_query_budgets(app)
    yield fake
    app.dependency_overrides.clear()


def _interact(service: LeadService, action: Action, event_id: str) -> None:
    interaction = Interaction(lead_id="h-1", actor="lead", action=action, timestamp=datetime.now(UTC))
    service.apply_interaction("t1", interaction, event_id)


def test_ingest_then_events_are_served_newest_first_in_pages(service: LeadService) -> None:
    status, _, created = call("POST", "/v1/leads", LEAD)
    assert status == 201
    scores = [created["score"]]
    for index, action in enumerate([Action.CONTACT, Action.SCHEDULE, Action.MESSAGE, Action.CONTACT] * 2):
        _interact(service, action, f"evt-{index}")
        scores.append(service.leads.get("t1", "h-1").score.score)
    written = [scores[0]] + [b for a, b in itertools.pairwise(scores) if a != b]
    assert len(written) >= 2  # contacts lift the score

    status, _, page = call("GET", "/v1/leads/h-1/score/history", query={"limit": "1"})
    assert status == 200
    seen, pages = list(page["data"]), 1
    while page["meta"]["has_more"]:
        status, _, page = call("GET", "/v1/leads/h-1/score/history",
                               query={"limit": "1", "cursor": page["meta"]["next_cursor"]})  # fmt: skip
        seen += page["data"]
        pages += 1
    assert pages == len(seen) >= 2
    assert [entry["cause"] for entry in seen] == ["event"] * (len(seen) - 1) + ["ingest"]
    assert seen[-1]["score"] == created["score"]
    assert set(seen[0]) == set(ScoreHistoryEntry.model_fields)  # fit, engagement, matrix grade: a score's fields
    assert {"fit", "engagement", "matrix_grade"} <= set(seen[0])
    assert seen[0]["matrix_grade"] == service.leads.get("t1", "h-1").score.matrix_grade
    assert [entry["at"] for entry in seen] == sorted((entry["at"] for entry in seen), reverse=True)

    # The lead carries its trend.
    status, _, lead = call("GET", "/v1/leads/h-1")
    assert lead["trend"]["window_days"] == 7
    assert lead["trend"]["delta"] == seen[0]["score"] - created["score"]


def test_history_of_an_unknown_or_another_tenants_lead_is_404_and_a_bad_cursor_400(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD)
    status, _, body = call("GET", "/v1/leads/h-1/score/history", tenant="t2")
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert call("GET", "/v1/leads/nope/score/history")[0] == 404
    status, _, body = call("GET", "/v1/leads/h-1/score/history", query={"cursor": "garbage"})
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    assert call("GET", "/v1/leads/h-1/score/history", query={"limit": "501"})[0] == 422


def test_graphql_serves_the_history_as_a_connection_and_the_trend(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD)
    for index, action in enumerate([Action.CONTACT, Action.SCHEDULE, Action.MESSAGE, Action.CONTACT] * 2):
        _interact(service, action, f"evt-{index}")
    query = """query($after: String) { lead(leadId: "h-1") { trend { direction delta windowDays }
      scoreHistory(first: 1, after: $after) { edges { cursor node { at cause score grade modelVersion probability } }
      pageInfo { hasNextPage endCursor } } } }"""
    causes, after = [], None
    while True:
        status, _, body = call("POST", "/v1/graphql", {"query": query, "variables": {"after": after}})
        assert status == 200, body
        assert "errors" not in body, body
        record = body["data"]["lead"]
        assert record["trend"]["direction"] in ("IMPROVING", "STEADY", "DECLINING")
        connection = record["scoreHistory"]
        causes += [edge["node"]["cause"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert causes[-1] == "INGEST"
    assert len(causes) >= 2
    assert set(causes[:-1]) == {"EVENT"}


# ------------------------------------------------------------------------------------------------ recommendations
def test_a_recommendation_shows_the_trend_from_its_score_item_alone() -> None:
    from aiqleads.recommendations.card import LeadCard
    from aiqleads.recommendations.ranking import Candidate
    from aiqleads.recommendations.service import BuyerProfile, RecommendationService
    from tests.recommendation_fakes import MemoryCandidates, MemoryMarketplace

    card = LeadCard(source="zillow", property_type="condo", price=300_000.0, created_at="2026-11-25T00:00:00Z",
                    intent="buy", timeline="asap", has_email=True, has_phone=True, has_name=True,
                    disposable_email=False, role_email=False, suspicious_phone=False, completeness=0.9)  # fmt: skip
    candidates = MemoryCandidates()
    rising = trend.dumps([(at(9), 50), (at(2), 62)])
    candidates.add("t1", Candidate("up", "austin", 0.62, 62, "B", "1.0.0", card, recent_scores=rising))
    candidates.add("t1", Candidate("old", "austin", 0.5, 50, "B", "1.0.0", card))  # written before the points
    service = RecommendationService(MemoryMarketplace(candidates), candidates, clock=lambda: NOW)
    service.put_buyer("t1", "b-1", BuyerProfile.model_validate({"tier": "pro", "authorised_markets": ["austin"]}))
    page = service.recommend("t1", "b-1", limit=10)
    insights = {item.lead_id: item.insights for item in page.data}
    assert insights["up"][1] == "Score improving: +12 in 7 days"
    assert not any(line.startswith("Score ") for line in insights["old"])
