"""The scheduled rescoring through the local cloud: leads stored in two fresh markets of tenant `demo`, then a
market snapshot for one of them (signals those leads were scored without), which moves some of their grades and
not others; the bulk function's `Rescore` schedule fired as EventBridge fires it queues one job per tenant, and
the demo's job rewrites and announces exactly the leads whose grade moved: the others' score items (and score
histories) are untouched (one of them has a new score with the same grade), a redelivered schedule event starts
nothing, and the job's counts and its `model.rescored` summary agree."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiqleads.rescoring.schedule import JOB_PREFIX
from infra.local_cloud import LocalCloud
from infra.local_cloud.schedules import scheduled_event
from tests.integration.conftest import TEMPLATE, receive_until
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration
FUNCTION = "BulkScoreFunction"


@pytest.fixture(scope="module")
def running_cloud() -> Iterator[LocalCloud]:
    """conftest's, with room for every grade move to be announced (the demo's own leads may move too)."""
    parameters = {"ModelAliasTtlSeconds": 0, "RescoreEventCap": 100_000}
    with LocalCloud(TEMPLATE, port=0, retry_delay=1, parameters=parameters) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def rescore_events(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName=f"it-sched-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                                 Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(
                                     {"event_type": ["model.rescored", "lead.score_changed"]})})["SubscriptionArn"]  # fmt: skip
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def score_item(aws: Callable[[str], Any], info: dict[str, Any], lead_id: str) -> dict[str, Any]:
    item = aws("dynamodb").get_item(TableName=info["tables"]["LeadsTable"], ConsistentRead=True,
                                    Key={"pk": {"S": f"demo#{lead_id}"}, "sk": {"S": "score"}})["Item"]  # fmt: skip
    return dict(item)


def test_the_schedule_rewrites_and_announces_only_the_leads_whose_grade_moved(
    running_cloud: LocalCloud,
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    rescore_events: str,
) -> None:
    run = uuid.uuid4().hex[:6]
    signalled, quiet = f"it-sched-{run}", f"it-sched-{run}-quiet"  # markets without any snapshot yet
    created = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    leads = []
    for market in (signalled, quiet):
        for i, (source, price) in enumerate([("zillow", 150_000), ("zillow", 400_000), ("zillow", 900_000),
                                             ("referral", 250_000), ("fsbo", 600_000), ("fsbo", 900_000)]):  # fmt: skip
            leads.append({**LEAD, "id": f"{market}-{i}", "source": source, "created_at": created,
                          "property": {**LEAD["property"], "price": price, "market": market}})  # fmt: skip
    for lead in leads:
        status, _, body = api(running_info, "POST", "/v1/leads", lead)
        assert status == 201, body
    before = {lead["id"]: score_item(running_aws, running_info, lead["id"]) for lead in leads}

    # The lever: signals for one market (the leads were scored without); real-time scoring says what they give.
    period = datetime.now(UTC).strftime("%Y-%m")
    signals = {"median_price": 300_000, "inventory": 50, "days_on_market": 12, "inquiries": 900, "price_trend": 0.08}
    status, _, body = api(running_info, "PUT", f"/v1/markets/{signalled}/snapshots/{period}", signals,
                          key=running_info["admin_api_key"])  # fmt: skip
    assert status == 201, body
    now_scores = {lead["id"]: api(running_info, "POST", "/v1/leads/score", lead)[2] for lead in leads}

    def grades(item: dict[str, Any]) -> tuple[str, str | None]:
        return item["grade"]["S"], item["matrix_grade"]["S"] if "matrix_grade" in item else None

    moved = {i for i, s in now_scores.items() if (s["grade"], s["matrix_grade"]) != grades(before[i])}
    rescored = {i for i, s in now_scores.items() if s["score"] != int(before[i]["score"]["N"])}
    assert moved
    assert all(i.startswith(f"{signalled}-") for i in moved)
    same_grade_new_score = rescored - moved
    assert same_grade_new_score  # a score that moved within its grade: not written either
    assert len(moved) < len(leads) // 2

    result = running_cloud.fire_schedule(FUNCTION)
    assert result["tenants"]["demo"] == "queued", result
    job_id = result["job_id"]
    assert job_id.startswith(JOB_PREFIX)

    # The same event again (EventBridge redelivers it): the job exists, nothing starts twice.
    at = datetime.strptime(job_id.removeprefix(JOB_PREFIX), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", running_info["region"], "123456789012")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert running_cloud.runtime is not None
    again = running_cloud.runtime.invoke(FUNCTION, event)
    assert again["tenants"]["demo"] == "already queued", again

    deadline = time.monotonic() + 300
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:  # until the job says it is done
        status, _, job = api(running_info, "GET", f"/v1/jobs/{job_id}")
        assert status == 200, job
        assert job["kind"] == "rescore"
        if job["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
    assert job["status"] == "completed", job
    assert api(running_info, "GET", "/v1/jobs/rescore-schedule")[0] == 404  # the schedule's bookkeeping

    after = {lead["id"]: score_item(running_aws, running_info, lead["id"]) for lead in leads}
    for lead_id in moved:
        now = now_scores[lead_id]
        assert grades(after[lead_id]) == (now["grade"], now["matrix_grade"]) != grades(before[lead_id])
        assert int(after[lead_id]["score"]["N"]) == now_scores[lead_id]["score"]
    for lead_id in set(before) - moved:
        assert after[lead_id] == before[lead_id], lead_id  # not written at all: same score, same scored_at

    # The score history: a moved lead's newest entry is the schedule's, the others have only their ingest.
    def causes(lead_id: str) -> list[str]:
        status, _, page = api(running_info, "GET", f"/v1/leads/{lead_id}/score/history")
        assert status == 200, page
        return [entry["cause"] for entry in page["data"]]

    assert all(causes(lead_id) == ["rescoring", "ingest"] for lead_id in moved)
    assert all(causes(lead_id) == ["ingest"] for lead_id in set(before) - moved)

    def summary(message: dict[str, Any]) -> bool:
        event = json.loads(message["Body"])
        return event["type"] == "model.rescored" and event["data"]["job_id"] == job_id

    found, seen = receive_until(running_aws("sqs"), rescore_events, summary, timeout=60)
    data = json.loads(found["Body"])["data"]
    assert data["cause"] == "rescoring"
    assert data["previous_version"] == data["version"]
    assert data["leads_examined"] == job["progress"]["total"] >= len(leads)
    assert data["grades_moved"] >= len(moved)
    assert data["leads_written"] == data["grades_moved"] == data["events_published"]
    assert data["events_suppressed"] == 0
    changed = [json.loads(m["Body"]) for m in seen if json.loads(m["Body"])["type"] == "lead.score_changed"]
    ours = [e for e in changed if e["data"].get("trigger") == {"action": "rescoring", "job_id": job_id}]
    assert len(ours) == data["events_published"]
    assert {e["data"]["lead_id"] for e in ours} & set(before) == moved
    assert all(
        (e["data"]["grade"], e["data"]["matrix_grade"])
        != (e["data"]["previous"]["grade"], e["data"]["previous"]["matrix_grade"])
        for e in ours
    )
