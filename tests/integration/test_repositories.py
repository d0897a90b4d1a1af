"""The DynamoDB repositories against the local endpoint: conditions, atomic counters, batch writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiqleads.errors import Conflict
from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.models import Action, Intent, Interaction, Lead, Score, Tier
from aiqleads.settings import AuthorizerSettings
from aiqleads.storage.aggregates import AggregateRepository, InteractionLogReader
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.leads import LeadBatchWriter, LeadRepository
from aiqleads.storage.markets import MarketSignalStore
from aiqleads.storage.query_budgets import QueryBudgetRepository
from aiqleads.tenants.api_keys import ApiKeyRecord, authorize
from aiqleads.tenants.query_budget import Bucket, CostBudget, QueryBudgets
from aiqleads_offline.generate import market_snapshots
from infra.local_cloud.intrinsics import Resolver

pytestmark = pytest.mark.integration

LEAD = Lead.model_validate(
    {
        "id": "repo-1",
        "source": "zillow",
        "created_at": "2026-11-20T10:00:00Z",
        "contact": {"email": "a@example.com"},
        "property": {"type": "condo", "price": 300000, "market": "austin"},
        "intent": "buy",
    }
)


def _score(lead_id: str, value: int) -> Score:
    return Score(lead_id=lead_id, probability=value / 100, score=value, grade="B", reasons=[], model_version="t")


def test_lead_create_is_conditional_and_reads_back(aws: Callable[[str], Any], local_info: dict[str, Any]) -> None:
    leads = LeadRepository(local_info["tables"]["LeadsTable"], aws("dynamodb"))
    leads.create("tenant-a", LEAD, _score("repo-1", 42))
    with pytest.raises(Conflict):
        leads.create("tenant-a", LEAD.model_copy(update={"intent": Intent.SELL}), _score("repo-1", 1))
    record = leads.get("tenant-a", "repo-1")
    assert record is not None
    assert record.lead == LEAD
    assert record.score is not None
    assert record.score.score == 42
    assert leads.get("tenant-b", "repo-1") is None  # tenant-scoped keys
    assert leads.exists("tenant-a", ["repo-1", "nope"]) == {"repo-1"}


def test_score_index_orders_candidates_by_score(aws: Callable[[str], Any], local_info: dict[str, Any]) -> None:
    dynamodb = aws("dynamodb")
    leads = LeadRepository(local_info["tables"]["LeadsTable"], dynamodb)
    items = []
    for index, value in enumerate([5, 97, 40, 100, 0]):
        lead = LEAD.model_copy(update={"id": f"idx-{index}"})
        items += [leads.lead_item("tenant-i", lead), leads.score_item("tenant-i", "austin", _score(lead.id, value))]
    assert LeadBatchWriter(leads.table_name, dynamodb).write_items(items) == 10
    response = dynamodb.query(
        TableName=local_info["tables"]["LeadsTable"],
        IndexName="ScoreIndex",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "tenant-i#austin"}},
        ScanIndexForward=False,
    )
    assert [int(item["score"]["N"]) for item in response["Items"]] == [100, 97, 40, 5, 0]


def test_aggregates_count_atomically_and_split_sessions(aws: Callable[[str], Any], local_info: dict[str, Any]) -> None:
    aggregates = AggregateRepository(local_info["tables"]["AggregatesTable"], aws("dynamodb"))
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def event(action: Action, minutes: int) -> Interaction:
        return Interaction(lead_id="agg-1", actor="lead", action=action, timestamp=start + timedelta(minutes=minutes))

    aggregates.record("t", event(Action.VIEW, 0), "e1")
    aggregates.record("t", event(Action.VIEW, 10), "e2")  # same session
    aggregates.record("t", event(Action.CONTACT, 20), "e3")
    aggregates.record("t", event(Action.INQUIRY, 120), "e4")  # gap of 100 min: a new session
    aggregates.record("t", event(Action.VIEW, 5), "e5")  # late arrival: counted, last activity unchanged
    totals = aggregates.record("t", event(Action.CONTACT, 130), "e6")  # a later contact keeps the first
    assert (totals.views, totals.inquiries, totals.sessions, totals.interactions) == (3, 1, 2, 6)
    assert totals.first_contact_at == start + timedelta(minutes=20)
    assert totals.last_activity_at == start + timedelta(minutes=130)
    signals = totals.signals(lead_created_at=start, now=start + timedelta(minutes=190), half_life_days=30.0)
    assert signals["minutes_to_first_contact"] == pytest.approx(20)
    assert signals["hours_since_last_activity"] == pytest.approx(1)
    # The log replays to the same totals (the pure rule is DynamoDB's), and to what they were at any moment.
    log = InteractionLogReader(aggregates.table_name, aws("dynamodb"))
    replayed = BehaviourTotals.replay(log.before("t", "agg-1", start + timedelta(days=1)))
    assert replayed == totals
    assert totals.days["views"] == {"20261121": 3}
    assert totals.days["sessions"] == {"20261121": 2}
    # Training replays the log, serving reads DynamoDB's day counts: the same decayed inputs, for any half-life.
    later = start + timedelta(days=45)
    for half_life in (7.0, 30.0):
        assert replayed is not None
        decayed = totals.signals(start, later, half_life_days=half_life)
        assert replayed.signals(start, later, half_life_days=half_life) == decayed
        age_days = (later - start.replace(hour=12)).total_seconds() / 86400  # from the day's noon
        assert decayed["views"] == pytest.approx(3 * 0.5 ** (age_days / half_life))
    assert [action for action, _ in log.before("t", "agg-1", start + timedelta(minutes=20))] == [Action.VIEW] * 3
    assert log.before("t", "agg-1", start) == []  # strictly before: the first view at `start` is left out
    assert log.before("t", "other", start + timedelta(days=1)) == []


def test_latest_market_snapshot(aws: Callable[[str], Any], local_info: dict[str, Any]) -> None:
    markets = MarketSignalStore(local_info["tables"]["MarketSignalsTable"], aws("dynamodb"), cache_seconds=0)
    for month in (9, 11, 10):
        for snapshot in market_snapshots(2026, month):
            assert markets.put("tenant-m", snapshot)  # new
    latest = markets.latest("tenant-m", "austin")
    assert latest is not None
    assert latest.period == "2026-11"
    assert markets.latest("tenant-m", "atlantis") is None
    assert markets.latest("tenant-n", "austin") is None  # another tenant's snapshots are not its own
    assert not markets.put("tenant-m", latest.model_copy(update={"inventory": 1}))  # replaced
    assert markets.get("tenant-m", "austin", "2026-11") == latest.model_copy(update={"inventory": 1})
    assert markets.put_many("tenant-n", market_snapshots(2026, 12)) == len(market_snapshots(2026, 12))
    assert (markets.latest("tenant-n", "austin") or latest).period == "2026-12"
    assert markets.latest("tenant-m", "austin") == markets.get("tenant-m", "austin", "2026-11")


def test_api_keys_are_stored_hashed(
    aws: Callable[[str], Any], local_info: dict[str, Any], template: dict[str, Any]
) -> None:
    variables = template["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    rates = AuthorizerSettings.from_env(
        {"API_KEYS_TABLE": "keys", "TIER_RATE_LIMITS": Resolver(template).resolve(variables["TIER_RATE_LIMITS"])}
    ).requests_per_minute
    table = local_info["tables"]["ApiKeysTable"]
    keys = ApiKeyRepository(table, aws("dynamodb"))
    key, record = ApiKeyRecord.issue("tenant-k", Tier.PRO)
    keys.put(record)
    dumped = str(aws("dynamodb").scan(TableName=table)["Items"])
    assert key not in dumped
    answer = authorize(keys, key, "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/v1/leads/x", rates)
    assert answer["context"] == {
        "tenant_id": "tenant-k",
        "tier": "pro",
        "role": "member",
        "key_id": record.key_hash[:12],  # a record with no API Gateway key id (written to the table alone)
        "requests_per_minute": 300,
    }
    assert answer["policyDocument"]["Statement"][0]["Resource"].endswith("abc/dev/*")
    with pytest.raises(PermissionError, match="Unauthorized"):
        authorize(keys, key + "x", "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/v1/leads/x", rates)
    keys.put(record.model_copy(update={"status": "revoked"}))
    with pytest.raises(PermissionError, match="Unauthorized"):
        authorize(keys, key, "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/v1/leads/x", rates)


def test_put_requests_as_json_are_written_and_unprocessed_ones_retried(
    aws: Callable[[str], Any], local_info: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """batch_write_json sends joined request texts in place of botocore's body; what DynamoDB leaves
    unprocessed goes again by botocore's own path, and the client's other calls are untouched."""
    import json

    from aiqleads.storage import batch

    dynamodb, table = aws("dynamodb"), local_info["tables"]["LeadsTable"]
    items = [
        {"pk": {"S": f"tenant-j#j-{i}"}, "sk": {"S": "lead"}, "note": {"S": f'"quoted" \\ é {i}'}} for i in range(60)
    ]
    requests = [json.dumps({"PutRequest": {"Item": item}}) for item in items]
    bodies: list[Any] = []

    def record(request: Any, **_: Any) -> None:
        bodies.append(request.body)

    def leave_two_unprocessed(parsed: dict[str, Any], **_: Any) -> None:
        if len(bodies) == 1:  # the first call: DynamoDB processed all but two of its puts
            parsed["UnprocessedItems"] = {table: [{"PutRequest": {"Item": item}} for item in items[23:25]]}

    events = dynamodb.meta.events
    events.register("before-send.dynamodb.BatchWriteItem", record)
    events.register("after-call.dynamodb.BatchWriteItem", leave_two_unprocessed)
    monkeypatch.setattr(batch.time, "sleep", lambda seconds: None)
    try:
        assert batch.batch_write_json(dynamodb, table, requests) == 60
        assert batch.batch_put(dynamodb, table, [{"pk": "tenant-j#plain", "sk": "lead"}]) == 1
    finally:
        events.unregister("before-send.dynamodb.BatchWriteItem", record)
        events.unregister("after-call.dynamodb.BatchWriteItem", leave_two_unprocessed)
    assert len(bodies) == 5  # 3 joined bodies, the retry of the two, the plain write
    assert json.loads(bodies[0]) == {"RequestItems": {table: [json.loads(r) for r in requests[:25]]}}
    assert json.loads(bodies[1])["RequestItems"][table] == [{"PutRequest": {"Item": item}} for item in items[23:25]]
    for item in [*items, {"pk": {"S": "tenant-j#plain"}, "sk": {"S": "lead"}}]:
        stored = dynamodb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
        assert stored == item


def test_score_history_items_sit_beside_the_score_and_readers_skip_them(
    aws: Callable[[str], Any], local_info: dict[str, Any]
) -> None:
    from aiqleads.leads.history import HistoryStamp
    from aiqleads.models import Conversion, ScoreCause

    dynamodb = aws("dynamodb")
    table = local_info["tables"]["LeadsTable"]
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    leads = LeadRepository(table, dynamodb, history_retention_days=30, clock=lambda: start)
    lead = LEAD.model_copy(update={"id": "hist-1"})
    leads.create("tenant-h", lead, _score("hist-1", 20))
    leads.put_conversion("tenant-h", Conversion(lead_id="hist-1", outcome="converted", at=start))
    record = leads.get("tenant-h", "hist-1")
    assert record is not None
    for step in range(1, 8):
        stamp = HistoryStamp(start + timedelta(days=step), ScoreCause.EVENT, f"evt-{step}")
        leads.put_score("tenant-h", "austin", _score("hist-1", 20 + 3 * step), stamp, record.recent_scores)
        if step == 7:  # the same event again (a redelivery): the same item, no second entry
            leads.put_score("tenant-h", "austin", _score("hist-1", 41), stamp, record.recent_scores)
        record = leads.get("tenant-h", "hist-1", conversions=False)
        assert record is not None
        assert record.conversions == []

    # The lead's readers see neither the history nor its volume; the conversion is still read.
    full = leads.get("tenant-h", "hist-1")
    assert full is not None
    assert full.score is not None
    assert full.score.score == 41
    assert [c.outcome.value for c in full.conversions] == ["converted"]
    trend = full.trend(start + timedelta(days=7))
    assert trend is not None
    assert (trend.direction.value, trend.delta) == ("improving", 21)  # 41 against the ingest's 20
    assert full.recent_scores[0][0] == "2026-11-20T10:00:00Z"  # the baseline, kept
    page, _ = leads.recent("tenant-h", 10)
    assert [r.lead.id for r, _ in page] == ["hist-1"]  # TenantIndex: one lead, no history item

    # The history, newest first, in pages; each item expires with the retention.
    pages, after, seen = 0, None, []
    while True:
        found = leads.history("tenant-h", "hist-1", 3, after)
        assert found is not None
        entries, after = found
        seen += entries
        pages += 1
        if after is None:
            break
    assert pages == 3
    assert [entry.cause.value for _, entry in seen] == ["event"] * 7 + ["ingest"]
    assert [entry.score for _, entry in seen] == [41, 38, 35, 32, 29, 26, 23, 20]
    raw = dynamodb.get_item(TableName=table, Key={"pk": {"S": "tenant-h#hist-1"}, "sk": {"S": seen[0][0]}})["Item"]
    assert int(raw["expires_at"]["N"]) == int((start + timedelta(days=7 + 30)).timestamp())
    assert not [name for name in raw if name.startswith("gsi")]
    assert leads.history("tenant-x", "hist-1", 3) is None  # another tenant: no such lead
    assert leads.history("tenant-h", "nope", 3) is None


def test_query_budget_bucket_is_a_compare_and_set_shared_by_instances(
    aws: Callable[[str], Any], local_info: dict[str, Any]
) -> None:
    """Two API instances (two QueryBudgets over one JobsTable item) charge the same bucket: a charge written from a
    stale read fails its condition and is recomputed, so no point is spent twice."""
    table = local_info["tables"]["JobsTable"]
    store = QueryBudgetRepository(table, aws("dynamodb"))
    size = CostBudget.model_validate({"maximumAvailable": 100, "restoreRate": 10})
    now = [1_000.0]
    first, second = QueryBudgets(store, lambda: now[0]), QueryBudgets(QueryBudgetRepository(table, aws("dynamodb")),
                                                                      lambda: now[0])  # fmt: skip
    assert first.charge("key-cas", size, 60).currently_available == 40
    stale = store.get("key-cas")
    assert stale == Bucket(40.0, 1_000.0)
    now[0] += 1  # +10 points
    assert second.charge("key-cas", size, 30).currently_available == 20
    assert not store.replace("key-cas", Bucket(0.0, 1_001.0), stale, 0)  # the stale write is refused
    refused = first.charge("key-cas", size, 30)
    assert not refused.allowed
    assert refused.retry_after == 1  # 10 points short at 10 a second
    item = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": "graphql-cost#key-cas"},
                                                          "sk": {"S": "cost-bucket"}})["Item"]  # fmt: skip
    assert int(item["expires_at"]["N"]) == 1_001 + 8 + 60  # full again in 8 s, then a minute's grace
