"""The serverless backbone through the local cloud, driven from outside as a user would: HTTP calls to the API,
boto3 uploads to S3, and an SQS queue subscribed to the domain-events topic to observe what is published."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aiqleads_offline.generate import generate_file, generate_table
from tests.integration.conftest import receive_until

pytestmark = pytest.mark.integration

LEAD: dict[str, Any] = {
    "id": "it-lead-1",
    "source": "zillow",
    "created_at": "2026-11-20T10:00:00Z",
    "contact": {"name": "Ana Diaz", "email": "ana@example.com", "phone": "+1 702 555 0100"},
    "property": {"type": "single_family", "price": 425000, "beds": 3, "baths": 2, "sqft": 1800,
                 "lat": 36.17, "lon": -115.14, "market": "las-vegas"},
    "intent": "sell",
    "timeline": "0-3 months",
    "description": "Motivated seller, relocating",
}  # fmt: skip


def api(
    info: dict[str, Any],
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = "default",
    request_id: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP call to the local API; returns status, headers and the decoded JSON body."""
    headers = {"content-type": "application/json"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    if key is not None:
        headers["x-api-key"] = info["api_key"] if key == "default" else key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(info["api_url"] + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def observer(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    """An SQS queue subscribed to the domain-events topic, as an AWS-native subscriber would have."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName="it-domain-events-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    yield url
    sqs.delete_queue(QueueUrl=url)


def event_of(message: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message["Body"])
    return body


def test_score_a_lead(running_info: dict[str, Any], running_aws: Callable[[str], Any], observer: str) -> None:
    status, headers, score = api(running_info, "POST", "/v1/leads", LEAD)
    assert status == 201, score
    assert headers["X-Request-ID"]
    assert 0 <= score["probability"] <= 1
    assert score["grade"] in "ABCD"
    assert score["model_version"] == "2.0.0"
    assert any(reason["direction"] == "up" for reason in score["reasons"])
    status, _, stored = api(running_info, "GET", f"/v1/leads/{LEAD['id']}")
    assert status == 200
    assert stored["lead"]["contact"]["phone"] == "+17025550100"
    assert stored["score"]["score"] == score["score"]
    published, _ = receive_until(
        running_aws("sqs"),
        observer,
        lambda m: event_of(m)["type"] == "lead.scored" and event_of(m)["data"]["lead_id"] == LEAD["id"],
    )
    event = event_of(published)
    assert event["tenant_id"] == running_info["tenant_id"]
    assert event["data"]["score"] == score["score"]


def test_batch_with_a_bad_item(running_info: dict[str, Any]) -> None:
    good = {**LEAD, "id": "it-batch-good"}
    bad = {**LEAD, "id": "it-batch-bad", "property": {**LEAD["property"], "price": "lots"}}
    status, _, body = api(running_info, "POST", "/v1/leads/batch", {"leads": [good, bad]})
    assert status == 200
    assert [item["status"] for item in body["data"]] == [201, 422]
    assert body["data"][1]["error"]["details"][0]["field"] == "property.price"
    assert api(running_info, "GET", "/v1/leads/it-batch-good")[0] == 200
    assert api(running_info, "GET", "/v1/leads/it-batch-bad")[0] == 404


def test_missing_or_wrong_api_key(running_info: dict[str, Any]) -> None:
    status, _, body = api(running_info, "GET", "/v1/leads/x", key=None)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    status, _, body = api(running_info, "GET", "/v1/leads/x", key="aiq_not-a-real-key")
    assert status in (401, 403)
    assert body["error"]["code"] in ("unauthorized", "forbidden")
    assert api(running_info, "GET", "/v1/health", key=None)[0] == 200  # public route


def test_another_tenants_lead_is_invisible(running_info: dict[str, Any]) -> None:
    lead_id = running_info["demo_lead_ids"][0]
    assert api(running_info, "GET", f"/v1/leads/{lead_id}")[0] == 200
    status, _, body = api(running_info, "GET", f"/v1/leads/{lead_id}", key=running_info["other_tenant_api_key"])
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_events_change_a_score_and_publish_it(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], observer: str
) -> None:
    lead = {**LEAD, "id": "it-events-1", "timeline": "unknown", "description": None}
    status, _, before = api(running_info, "POST", "/v1/leads", lead)
    assert status == 201
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    actions = ["view", "click", "inquiry", "message", "schedule", "contact"]
    events = [{"lead_id": lead["id"], "actor": "buyer-pro-texas", "action": a, "timestamp": now} for a in actions]
    status, _, accepted = api(running_info, "POST", "/v1/events", {"events": events})
    assert status == 202
    assert accepted["accepted"] == len(actions)

    def is_change(message: dict[str, Any]) -> bool:
        event = event_of(message)
        return event["type"] == "lead.score_changed" and event["data"]["lead_id"] == lead["id"]

    changed, _ = receive_until(running_aws("sqs"), observer, is_change, timeout=30)
    data = event_of(changed)["data"]
    assert data["previous"]["score"] == before["score"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the last event's re-score lands after its announcement is published
        _, _, current = api(running_info, "GET", f"/v1/leads/{lead['id']}/score")
        if current["score"] != before["score"]:
            break
        time.sleep(0.5)
    assert current["score"] != before["score"]


def _history(info: dict[str, Any], lead_id: str, limit: int, key: str = "default") -> list[dict[str, Any]]:
    """Every page of a lead's score history, `limit` entries a page, in order."""
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = api(info, "GET", f"/v1/leads/{lead_id}/score/history{query}", key=key)
        assert status == 200, page
        assert len(page["data"]) <= limit
        entries += page["data"]
        if not page["meta"]["has_more"]:
            return entries
        cursor = page["meta"]["next_cursor"]


def test_every_score_a_lead_had_is_its_history_newest_first(
    running_info: dict[str, Any], running_aws: Callable[[str], Any]
) -> None:
    lead = {**LEAD, "id": "it-history-1", "timeline": "unknown", "description": None}
    status, _, first = api(running_info, "POST", "/v1/leads", lead)
    assert status == 201
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    actions = ["view", "click", "inquiry", "message", "schedule", "contact", "contact", "schedule"]
    events = [{"lead_id": lead["id"], "actor": "buyer-pro-texas", "action": a, "timestamp": now} for a in actions]
    assert api(running_info, "POST", "/v1/events", {"events": events})[0] == 202

    # Done when the events function has taken every interaction off its queue (none waiting, none in flight).
    sqs, queue = running_aws("sqs"), running_info["queues"]["EventsQueue"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
        if all(int(counts[name]) == 0 for name in names):
            break
        time.sleep(0.2)
    assert all(int(counts[name]) == 0 for name in names), counts

    history = _history(running_info, lead["id"], limit=2)
    assert len(history) >= 2, history  # the ingest, then at least one re-score the events caused
    assert [entry["cause"] for entry in history] == ["event"] * (len(history) - 1) + ["ingest"]
    assert history[-1]["score"] == first["score"]
    assert history[-1]["model_version"] == first["model_version"]
    assert [entry["at"] for entry in history] == sorted((entry["at"] for entry in history), reverse=True)
    assert set(history[0]) >= {"at", "cause", "model_version", "probability", "score", "grade", "fit", "engagement",
                               "matrix_grade"}  # fmt: skip
    assert history[0]["matrix_grade"] is not None
    assert _history(running_info, lead["id"], limit=500) == history  # one page or many: the same entries
    _, _, stored = api(running_info, "GET", f"/v1/leads/{lead['id']}")
    assert stored["score"]["score"] == history[0]["score"]
    assert stored["trend"]["delta"] == history[0]["score"] - first["score"]
    assert stored["trend"]["direction"] in ("improving", "steady", "declining")

    query = """query($after: String) { lead(leadId: "it-history-1") { trend { direction delta }
      scoreHistory(first: 1, after: $after) { edges { node { at cause score grade modelVersion } }
      pageInfo { hasNextPage endCursor } } } }"""
    served: list[dict[str, Any]] = []
    after = None
    while True:
        status, _, body = api(running_info, "POST", "/v1/graphql", {"query": query, "variables": {"after": after}})
        assert status == 200, body
        assert "errors" not in body, body
        connection = body["data"]["lead"]["scoreHistory"]
        served += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert [(n["cause"].lower(), n["score"], n["grade"]) for n in served] == [
        (e["cause"], e["score"], e["grade"]) for e in history
    ]

    other = running_info["other_tenant_api_key"]
    status, _, body = api(running_info, "GET", f"/v1/leads/{lead['id']}/score/history", key=other)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _, body = api(running_info, "POST", "/v1/graphql", {"query": query, "variables": {"after": None}},
                          key=other)  # fmt: skip
    assert status == 200
    assert body["data"]["lead"] is None


def test_bulk_upload_scores_every_good_row(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], observer: str, tmp_path: Path
) -> None:
    source = tmp_path / "leads-it.csv"
    generate_file(10_000, 99, source, leads_only=True, invalid_rate=0.01)
    bucket = running_info["uploads_bucket"]
    running_aws("s3").upload_file(
        str(source), bucket, "uploads/leads-it.csv", ExtraArgs={"Metadata": {"tenant-id": "demo"}}
    )

    def completed(message: dict[str, Any]) -> bool:
        event = event_of(message)
        return event["type"] == "bulk.completed" and event["data"].get("results_key", "").endswith(
            "leads-it.scored.csv"
        )

    done, seen = receive_until(running_aws("sqs"), observer, completed, timeout=300)
    data = event_of(done)["data"]
    assert data["rows"] == 10_000
    assert data["invalid"] > 0
    assert data["scored"] + data["invalid"] == 10_000
    results = running_aws("s3").get_object(Bucket=bucket, Key=data["results_key"])["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(results)))
    assert len(rows) == data["scored"]
    assert {"probability", "score", "grade", "reasons"} <= set(rows[0])
    errors = running_aws("s3").get_object(Bucket=bucket, Key=data["errors_key"])["Body"].read().decode().splitlines()
    bad_rows = {json.loads(line)["row"] for line in errors}
    assert len(bad_rows) == data["invalid"]
    source_ids = [row["id"] for row in csv.DictReader(source.open())]
    assert [row["id"] for row in rows] == [i for n, i in enumerate(source_ids, start=1) if n not in bad_rows]
    later = [m for m in seen if completed(m)]
    assert len(later) == 1  # one bulk.completed
    assert api(running_info, "GET", f"/v1/leads/{rows[0]['id']}")[0] == 200  # stored for the tenant
    status, _, history = api(running_info, "GET", f"/v1/leads/{rows[0]['id']}/score/history")
    assert status == 200, history
    (entry,) = history["data"]  # the upload's score, kept as the lead's first history entry
    assert (entry["cause"], entry["score"], entry["grade"]) == ("ingest", int(rows[0]["score"]), rows[0]["grade"])


def test_every_response_echoes_the_callers_request_id(running_info: dict[str, Any]) -> None:
    """The API's responses and API Gateway's own (template.yaml's GatewayResponses) alike."""
    lead = f"/v1/leads/{running_info['demo_lead_ids'][0]}"
    for status, path, key in (
        (200, lead, "default"),
        (401, lead, None),
        (401, lead, "aiq_wrong"),
        (404, "/v1/x", "default"),
    ):
        got, headers, body = api(running_info, "GET", path, key=key, request_id=f"it-{status}")
        assert (got, headers["X-Request-ID"]) == (status, f"it-{status}"), body
        assert headers["x-amzn-RequestId"]
    status, headers, body = api(running_info, "GET", lead, key=None)
    assert status == 401
    assert body["error"]["details"]["request_id"] == headers["x-amzn-RequestId"]


def test_throttling_returns_429_with_retry_after(running_info: dict[str, Any]) -> None:
    key = running_info["api_keys"]["basic"]  # basic: 60 requests/min with a burst of 10
    path = f"/v1/leads/{running_info['demo_lead_ids'][1]}"
    # 20 requests at once: the gateway counts them on arrival, however slowly the function then answers them.
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: api(running_info, "GET", path, key=key), range(20)))
    statuses = sorted(status for status, _, _ in replies)
    assert statuses.count(200) >= 10, statuses
    assert 429 in statuses, statuses
    throttled = next(reply for reply in replies if reply[0] == 429)
    assert int(throttled[1]["Retry-After"]) >= 1
    assert throttled[2]["error"]["code"] == "rate_limited"
    assert throttled[1]["X-RateLimit-Remaining"] == "0"
    allowed = next(reply for reply in replies if reply[0] == 200)
    assert allowed[1]["X-RateLimit-Limit"] == "60"
    assert int(allowed[1]["X-RateLimit-Reset"]) >= 1


def test_a_redelivered_interaction_counts_once(running_info: dict[str, Any], running_aws: Callable[[str], Any]) -> None:
    lead_id = running_info["demo_lead_ids"][2]
    tables = running_info["tables"]
    key = {"pk": {"S": f"{running_info['tenant_id']}#{lead_id}"}, "sk": {"S": "total"}}

    def views() -> int:
        item = running_aws("dynamodb").get_item(TableName=tables["AggregatesTable"], Key=key, ConsistentRead=True)
        return int(item.get("Item", {}).get("views", {"N": "0"})["N"])

    before = views()
    message = {
        "event_id": "evt_redelivered_once",
        "tenant_id": running_info["tenant_id"],
        "interaction": {"lead_id": lead_id, "actor": "lead", "action": "view", "timestamp": "2026-11-26T12:00:00Z"},
    }
    queue = running_info["queues"]["EventsQueue"]
    for _ in range(2):  # SQS delivers at least once: the same message twice
        running_aws("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(message))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and views() == before:
        time.sleep(0.3)
    time.sleep(2)  # give the second copy time to be (not) applied
    assert views() == before + 1


# ------------------------------------------------------------------------------------------------ market signals
EXTREME_SIGNALS = {"median_price": 4_900_000, "inventory": 3, "days_on_market": 350, "views": 10,
                   "inquiries": 9_000, "offers": 0, "price_trend": -0.8}  # fmt: skip


@pytest.fixture(scope="module")
def admin_key(running_info: dict[str, Any], running_aws: Callable[[str], Any]) -> str:
    """The demo tenant's admin key: the demo's own once it writes one, else an admin key record put into
    ApiKeysTable, as issuing a key does."""
    if running_info.get("admin_api_key"):
        return str(running_info["admin_api_key"])
    from aiqleads.models import Tier
    from aiqleads.storage.api_keys import ApiKeyRepository
    from aiqleads.tenants.api_keys import ApiKeyRecord

    key, record = ApiKeyRecord.issue(running_info["tenant_id"], Tier.ENTERPRISE, name="integration admin")
    ApiKeyRepository(running_info["tables"]["ApiKeysTable"], running_aws("dynamodb")).put(
        record.model_copy(update={"role": "admin"})
    )
    return key


def test_an_admins_snapshot_moves_only_its_own_tenants_scores(running_info: dict[str, Any], admin_key: str) -> None:
    lead = {**LEAD, "id": "it-market-lead", "property": {**LEAD["property"], "market": "reno"}}
    other = running_info["other_tenant_api_key"]
    _, _, own_before = api(running_info, "POST", "/v1/leads/score", lead)
    _, _, other_before = api(running_info, "POST", "/v1/leads/score", lead, key=other)
    path = "/v1/markets/reno/snapshots/2099-12"
    status, _, body = api(running_info, "PUT", path, EXTREME_SIGNALS)  # a member key
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    status, headers, body = api(running_info, "PUT", path, EXTREME_SIGNALS, key=admin_key)
    assert headers["Location"] == path
    assert status == 201, body
    assert body == {"market": "reno", "period": "2099-12", **EXTREME_SIGNALS}
    assert api(running_info, "GET", "/v1/markets/reno/snapshots/latest")[2] == body  # members read
    _, _, own_after = api(running_info, "POST", "/v1/leads/score", lead)
    _, _, other_after = api(running_info, "POST", "/v1/leads/score", lead, key=other)
    assert own_after["probability"] != own_before["probability"]  # the tenant's scores use its latest snapshot
    assert other_after == other_before  # another tenant's are untouched
    assert api(running_info, "GET", path, key=other)[0] == 404
    status, _, body = api(running_info, "PUT", path, {**EXTREME_SIGNALS, "inventory": -1}, key=admin_key)
    assert status == 422
    assert body["error"]["details"][0]["field"] == "inventory"


def test_a_market_signals_file_is_imported_and_reported(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], observer: str, admin_key: str
) -> None:
    text = (
        "market,period,median_price,inventory,days_on_market,views,inquiries,offers,price_trend,note\n"
        "boise,2099-11,455000,1200,31,90000,3100,410,0.02,fine\n"
        "boise,2026-13,-1,1200,31,90000,3100,410,0.02,two bad cells\n"
        "tucson,2099-11,380000,2100,44,,,,,blank optional cells\n"
    )
    key = "market-signals/demo/it-signals.csv"
    running_aws("s3").put_object(Bucket=running_info["uploads_bucket"], Key=key, Body=text.encode())

    def imported(message: dict[str, Any]) -> bool:
        event = event_of(message)
        return event["type"] == "bulk.completed" and event["data"].get("key") == key

    done, _ = receive_until(running_aws("sqs"), observer, imported, timeout=120)
    data = event_of(done)["data"]
    assert (data["kind"], data["status"]) == ("market_signals", "completed")
    assert (data["rows"], data["stored"], data["invalid"]) == (3, 2, 1)
    assert data["markets"] == ["boise", "tucson"]
    s3 = running_aws("s3")
    errors = s3.get_object(Bucket=running_info["uploads_bucket"], Key=data["errors_key"])["Body"].read().decode()
    lines = [json.loads(line) for line in errors.splitlines()]
    assert {(line["row"], line["field"]) for line in lines} == {(2, "period"), (2, "median_price")}
    report = json.loads(s3.get_object(Bucket=running_info["uploads_bucket"], Key=data["report_key"])["Body"].read())
    assert report["markets"] == {"boise": "2099-11", "tucson": "2099-11"}
    assert report["ignored_columns"] == ["note"]
    status, _, job = api(running_info, "GET", f"/v1/jobs/{data['job_id']}")
    assert status == 200
    assert (job["kind"], job["status"], job["result"]["key"]) == ("market_signals", "completed", data["report_key"])
    _, _, tucson = api(running_info, "GET", "/v1/markets/tucson/snapshots/latest")
    assert (tucson["period"], tucson["views"], tucson["price_trend"]) == ("2099-11", 0, 0.0)
    other = running_info["other_tenant_api_key"]
    assert api(running_info, "GET", "/v1/markets/boise/snapshots/latest", key=other)[0] == 404  # demo's file only


def test_an_upload_with_outcomes_stores_them_as_conversions_read_like_the_apis(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], observer: str, tmp_path: Path
) -> None:
    """A new tenant's CRM export with its outcomes, in every form `aiqleads train` accepts, and one bad value:
    the leads are stored with their outcome, the bad row is reported by field, and an outcome posted later
    through the API is read back beside them by the one reader a training job uses."""
    from aiqleads.storage.leads import LeadRepository, latest_outcomes

    tenant, run = running_info["tenant_id"], uuid.uuid4().hex[:8]
    forms = ["converted", "lost", "1", "0", "yes", "no", "true", "false", "Converted", "maybe", "", "won"]
    times = ["2026-06-01T12:00:00Z", "2026-06-02", *[""] * 9, "2026-13-01"]
    rows = generate_table(len(forms), 7, leads_only=True, invalid_rate=0.0).to_pylist()
    for index, row in enumerate(rows):
        row |= {"id": f"hist-{run}-{index}", "created_at": "2026-05-01T00:00:00Z"}
        row |= {"outcome": forms[index], "outcome_at": times[index]}
    source = tmp_path / f"history-{run}.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    bucket, key = running_info["uploads_bucket"], f"uploads/{tenant}/history-{run}.csv"
    running_aws("s3").upload_file(str(source), bucket, key)

    def completed(message: dict[str, Any]) -> bool:
        event = event_of(message)
        return event["type"] == "bulk.completed" and event["data"].get("key") == key

    done, _ = receive_until(running_aws("sqs"), observer, completed, timeout=120)
    data = event_of(done)["data"]
    assert (data["status"], data["rows"], data["scored"], data["invalid"]) == ("completed", 12, 10, 2)
    errors = running_aws("s3").get_object(Bucket=bucket, Key=data["errors_key"])["Body"].read().decode()
    reported = [json.loads(line) for line in errors.splitlines()]
    assert [(e["row"], e["field"], e.get("value")) for e in reported] == [
        (10, "outcome", "maybe"),
        (12, "outcome_at", "2026-13-01"),
    ]

    # What the tenant sees: each lead with its outcome.
    expected = ["converted", "lost"] * 4 + ["converted"]
    for index, outcome in zip([0, 1, 2, 3, 4, 5, 6, 7, 8], expected, strict=True):
        status, _, body = api(running_info, "GET", f"/v1/leads/hist-{run}-{index}")
        assert status == 200
        assert [c["outcome"] for c in body["conversions"]] == [outcome]
    status, _, body = api(running_info, "GET", f"/v1/leads/hist-{run}-0")
    assert body["conversions"][0]["at"].startswith("2026-06-01T12:00:00")
    status, _, body = api(running_info, "GET", f"/v1/leads/hist-{run}-10")
    assert (status, body["conversions"]) == (200, [])  # a blank outcome: stored, no outcome known

    # The blank one converts later, reported through the API.
    conversion = {"lead_id": f"hist-{run}-10", "outcome": "converted", "at": "2026-07-01T00:00:00Z"}
    assert api(running_info, "POST", "/v1/conversions", {"conversions": [conversion]})[0] == 201

    repository = LeadRepository(running_info["tables"]["LeadsTable"], running_aws("dynamodb"))
    ours = [o for o in repository.outcomes(tenant) if o.lead_id.startswith(f"hist-{run}-")]
    latest = latest_outcomes(ours)
    assert {lead: o.outcome.value for lead, o in latest.items()} == {
        **{f"hist-{run}-{index}": outcome for index, outcome in enumerate(expected)},
        f"hist-{run}-10": "converted",
    }
    assert [o.at for o in ours] == sorted(o.at for o in ours)  # oldest first
    api_one, bulk_one = latest[f"hist-{run}-10"], latest[f"hist-{run}-1"]
    assert (api_one.via, api_one.at_reported, api_one.job_id) == ("api", True, None)
    assert (bulk_one.via, bulk_one.at_reported, bulk_one.job_id) == ("bulk", True, data["job_id"])
    assert latest[f"hist-{run}-2"].at_reported is False  # no outcome_at: dated by the upload
    assert latest[f"hist-{run}-2"].at == latest[f"hist-{run}-2"].recorded_at
    other = repository.outcomes(running_info["other_tenant_id"])
    assert not [o for o in other if o.lead_id.startswith(f"hist-{run}-")]
