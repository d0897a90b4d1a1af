"""Rescoring after a promotion through the local cloud: a second model (trained by our pipeline, so grades move)
registered for tenant `demo` with `aiqleads models register`, promoted with the admin key; the answer names the
rescoring job, GET /v1/jobs/{id} follows it to completed, the stored scores (and the ScoreIndex) carry the new
version except where an outcome is recorded, the other tenant's scores are untouched, and `model.rescored`
arrives with `lead.score_changed` for at most the cap's worth of grade moves."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiqleads.scoring.artifact import ModelArtifact
from infra.local_cloud import LocalCloud
from tests.integration.conftest import TEMPLATE, receive_until
from tests.integration.test_backbone import LEAD, api
from tests.integration.test_model_registry import cli, state  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration
CAP = 20  # RescoreEventCap for this module's cloud: well under the grade moves of a few hundred open leads


@pytest.fixture(scope="module")
def running_cloud() -> Iterator[LocalCloud]:
    """conftest's, with a small event cap: the template parameter reaches the bulk function's RESCORE_EVENT_CAP."""
    parameters = {"ModelAliasTtlSeconds": 0, "RescoreEventCap": CAP}
    with LocalCloud(TEMPLATE, port=0, retry_delay=1, parameters=parameters) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def rescore_events(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    """A queue subscribed to the domain-events topic for what a rescoring announces."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName=f"it-rescore-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                                 Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(
                                     {"event_type": ["model.rescored", "lead.score_changed"]})})["SubscriptionArn"]  # fmt: skip
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)  # moto's fan-out stops at a subscription whose queue is gone
    sqs.delete_queue(QueueUrl=url)


def score(info: dict[str, Any], lead_id: str, key: str = "default") -> dict[str, Any]:
    status, _, body = api(info, "GET", f"/v1/leads/{lead_id}/score", key=key)
    assert status == 200, body
    return body


def test_a_promotion_rescores_the_tenants_open_leads(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    state: Path,  # noqa: F811
    rescore_events: str,
    small_model: ModelArtifact,
) -> None:
    admin, other = running_info["admin_api_key"], running_info["other_tenant_api_key"]
    run = uuid.uuid4().hex[:6]
    # Leads stored before the promotion: demo's (one with an outcome, so it is not open) and the other tenant's.
    demo_ids = [f"it-rs-{run}-{i}" for i in range(6)]
    for i, lead_id in enumerate(demo_ids):
        lead = {**LEAD, "id": lead_id, "property": {**LEAD["property"], "price": 150_000 + 60_000 * i}}
        assert api(running_info, "POST", "/v1/leads", lead)[0] == 201
    decided = demo_ids[0]
    outcome = {"conversions": [{"lead_id": decided, "outcome": "converted", "at": "2026-11-30T00:00:00Z"}]}
    assert api(running_info, "POST", "/v1/conversions", outcome)[0] == 201
    other_ids = [f"it-rs-other-{run}-{i}" for i in range(3)]
    for lead_id in other_ids:
        assert api(running_info, "POST", "/v1/leads", {**LEAD, "id": lead_id}, key=other)[0] == 201
    other_before = {lead_id: score(running_info, lead_id, other) for lead_id in other_ids}
    before = {lead_id: score(running_info, lead_id) for lead_id in demo_ids}
    assert {s["model_version"] for s in before.values()} == {"2.0.0"}

    version = f"3.{uuid.uuid4().int % 10_000}.0"
    code, _record, err = cli("models", "register", "--dir", str(small_model.directory), "--tenant", "demo",
                            "--version", version, "--local-state", str(state))  # fmt: skip
    assert code == 0, err
    status, _, change = api(running_info, "PUT", "/v1/models/aliases/production", {"version": version}, key=admin)
    assert status == 200, change
    job_id = change["rescore_job_id"]
    assert job_id
    assert change["version"] == version

    started = time.monotonic()
    deadline = started + 600
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, _, job = api(running_info, "GET", f"/v1/jobs/{job_id}")
        assert status == 200, job
        assert job["kind"] == "rescore"
        if job["status"] in ("completed", "failed"):
            break
        time.sleep(1)
    elapsed = time.monotonic() - started
    assert job["status"] == "completed", job
    total = job["progress"]["total"]
    assert job["progress"]["done"] == total > len(demo_ids)  # the demo's open leads and this test's
    print(f"\nrescored {total} leads in {elapsed:.1f} s: {total / elapsed:.0f} leads/s through the local cloud")

    after = {lead_id: score(running_info, lead_id) for lead_id in demo_ids}
    assert after[decided] == before[decided]  # an outcome is recorded: not open, not rescored
    assert {after[i]["model_version"] for i in demo_ids[1:]} == {version}
    assert {lead_id: score(running_info, lead_id, other) for lead_id in other_ids} == other_before

    # The ScoreIndex moved with the scores: each rescored lead is found under its new score, with the new version.
    dynamodb = running_aws("dynamodb")
    for lead_id in demo_ids[1:]:
        page = dynamodb.query(TableName=running_info["tables"]["LeadsTable"], IndexName="ScoreIndex",
                              KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :sk",
                              ExpressionAttributeValues={":pk": {"S": f"demo#{LEAD['property']['market']}"},
                                                         ":sk": {"S": f"{after[lead_id]['score']:03d}#{lead_id}"}})  # fmt: skip
        assert [item["model_version"]["S"] for item in page["Items"]] == [version]

    def summary(message: dict[str, Any]) -> bool:
        event = json.loads(message["Body"])
        return event["type"] == "model.rescored" and event["data"]["job_id"] == job_id

    found, seen = receive_until(running_aws("sqs"), rescore_events, summary, timeout=60)
    event = json.loads(found["Body"])
    assert event["tenant_id"] == "demo"
    data = event["data"]
    assert (data["previous_version"], data["version"]) == ("2.0.0", version)
    assert data["leads_rescored"] == total - data["leads_with_outcome"] - data["invalid"]
    assert data["leads_with_outcome"] >= 1
    assert data["grades_moved"] > CAP  # another model: many grades move, and only the cap's worth is announced
    assert (data["events_published"], data["events_suppressed"]) == (CAP, data["grades_moved"] - CAP)
    changed = [json.loads(m["Body"]) for m in seen if json.loads(m["Body"])["type"] == "lead.score_changed"]
    ours = [e for e in changed if e["data"].get("trigger", {}).get("job_id") == job_id]
    assert len(ours) == CAP
    assert all(e["tenant_id"] == "demo" and e["data"]["model_version"] == version for e in ours)
    moves = [(e["data"]["grade"], e["data"]["matrix_grade"]) for e in ours]
    before = [(e["data"]["previous"]["grade"], e["data"]["previous"]["matrix_grade"]) for e in ours]
    assert all(now != then for now, then in zip(moves, before, strict=True))  # a grade or a matrix grade moved
