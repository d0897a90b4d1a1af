"""Shadow scoring through the local cloud: a second version registered with `aiqleads models register`, set as
the tenant's shadow, leads posted; the lead responses and events are production's alone, and the shadow
version's `GET /v1/models/{version}` compares the two on exactly those leads (then on their outcomes)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiqleads.models import Score
from tests.integration.conftest import receive_until
from tests.integration.test_backbone import LEAD, api
from tests.integration.test_model_registry import new_version, register, state  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration
LEADS = 24  # at least MIN_OUTCOMES (20), so the AUCs are reported once every lead has an outcome


@pytest.fixture
def scored_events(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    """A queue receiving every domain event (no filter): a shadow announcement of any kind would show up."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName=f"it-shadow-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                                 Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]  # fmt: skip
    yield url
    # Unsubscribed first: moto stops fanning a topic's messages out at a subscription whose queue is gone.
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def test_a_shadow_version_scores_beside_production_and_is_compared(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    state: Path,  # noqa: F811
    scored_events: str,
) -> None:
    admin = running_info["admin_api_key"]
    serving = api(running_info, "GET", "/v1/models")[2]["serving"]
    version = new_version()
    register(state, version)  # the shipped model's files under a new version: a second model
    assert api(running_info, "PUT", "/v1/models/aliases/shadow", {"version": version}, key=admin)[0] == 200
    try:
        run = uuid.uuid4().hex[:8]
        ids = [f"it-sh-{run}-{i}" for i in range(LEADS)]
        for i, lead_id in enumerate(ids):
            # Varied leads, so the probabilities vary and a correlation is defined.
            lead = {**LEAD, "id": lead_id, "property": {**LEAD["property"], "price": 150_000 + 40_000 * i,
                                                         "sqft": 900 + 120 * i}}  # fmt: skip
            status, _, body = api(running_info, "POST", "/v1/leads", lead)
            assert status == 201, body
            assert body["model_version"] == serving  # the response is production's, unchanged
            assert set(body) == set(Score.model_fields)  # production's score, fit and engagement included
            assert version not in json.dumps(body)
        status, _, shown = api(running_info, "GET", f"/v1/models/{version}")
        assert status == 200, shown
        figures = shown["shadow"]
        assert figures["count"] == LEADS
        assert figures["production_versions"] == [serving]
        assert figures["grade_agreement"] == 1.0  # the same model's files: every grade agrees
        assert figures["score_correlation"] == pytest.approx(1.0)
        assert (figures["outcomes"], figures["production_roc_auc"], figures["shadow_roc_auc"]) == (0, None, None)
        assert figures["note"].startswith("not enough outcomes")

        # Outcomes arrive: both AUCs on the same leads.
        conversions = [{"lead_id": lead_id, "outcome": "converted" if i % 3 == 0 else "lost",
                        "at": "2026-11-30T00:00:00Z"} for i, lead_id in enumerate(ids)]  # fmt: skip
        assert api(running_info, "POST", "/v1/conversions", {"conversions": conversions})[0] == 201
        figures = api(running_info, "GET", f"/v1/models/{version}")[2]["shadow"]
        assert figures["outcomes"] == LEADS
        assert figures["note"] is None
        assert figures["shadow_roc_auc"] == figures["production_roc_auc"] is not None
        assert 0.0 <= figures["shadow_roc_auc"] <= 1.0
        # The production version shadowed nothing.
        assert api(running_info, "GET", f"/v1/models/{serving}")[2]["shadow"] is None

        # Exactly one event per lead, production's: nothing announces the shadow score.
        sentinel = f"it-sh-{run}-sentinel"
        assert api(running_info, "POST", "/v1/leads", {**LEAD, "id": sentinel})[0] == 201

        def last(message: dict[str, Any]) -> bool:
            return bool(json.loads(message["Body"]).get("data", {}).get("lead_id") == sentinel)

        _, seen = receive_until(running_aws("sqs"), scored_events, last, timeout=30)  # seen ends with it
        events = [json.loads(m["Body"]) for m in seen]
        ours = [e for e in events if str(e.get("data", {}).get("lead_id", "")).startswith(f"it-sh-{run}-")]
        assert sorted(e["data"]["lead_id"] for e in ours) == sorted([*ids, sentinel])
        assert {e["type"] for e in ours} == {"lead.scored"}
        assert {e["data"]["model_version"] for e in ours} == {serving}
        assert version not in json.dumps(events)
    finally:
        assert api(running_info, "PUT", "/v1/models/aliases/shadow", {"version": None}, key=admin)[0] == 200


def test_a_bulk_upload_is_shadowed_too(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    state: Path,  # noqa: F811
    scored_events: str,
    tmp_path: Path,
) -> None:
    import csv

    from aiqleads_offline.generate import generate_file

    admin = running_info["admin_api_key"]
    serving = api(running_info, "GET", "/v1/models")[2]["serving"]
    version = new_version()
    register(state, version)
    assert api(running_info, "PUT", "/v1/models/aliases/shadow", {"version": version}, key=admin)[0] == 200
    try:
        name = f"it-shadow-bulk-{uuid.uuid4().hex[:6]}"
        source = tmp_path / f"{name}.csv"
        generate_file(40, 9, source, leads_only=True, invalid_rate=0.0)
        ids = [row["id"] for row in csv.DictReader(source.open())]
        running_aws("s3").upload_file(str(source), running_info["uploads_bucket"], f"uploads/{name}.csv",
                                      ExtraArgs={"Metadata": {"tenant-id": "demo"}})  # fmt: skip

        def completed(message: dict[str, Any]) -> bool:
            event = json.loads(message["Body"])
            return event["type"] == "bulk.completed" and event["data"].get("key", "").endswith(f"{name}.csv")

        done, seen = receive_until(running_aws("sqs"), scored_events, completed, timeout=120)
        data = json.loads(done["Body"])["data"]
        assert (data["status"], data["scored"], data["model_version"]) == ("completed", len(ids), serving)
        assert version not in json.dumps([json.loads(m["Body"]) for m in seen])  # never announced

        figures = api(running_info, "GET", f"/v1/models/{version}")[2]["shadow"]
        assert figures["count"] == len(ids)  # every row of the file, compared on the same leads
        assert figures["production_versions"] == [serving]
        assert figures["grade_agreement"] == 1.0  # the same model's files under another version
        results = running_aws("s3").get_object(Bucket=running_info["uploads_bucket"], Key=data["results_key"])
        text = results["Body"].read().decode()
        assert version not in text
        assert "shadow" not in text.splitlines()[0]
        assert api(running_info, "GET", f"/v1/leads/{ids[0]}/score")[2]["model_version"] == serving
    finally:
        assert api(running_info, "PUT", "/v1/models/aliases/shadow", {"version": None}, key=admin)[0] == 200
