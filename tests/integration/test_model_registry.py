"""The model registry through the local cloud, driven as an operator would: `aiqleads models register` and
`promote`/`rollback` against the API, scores over HTTP (real-time and re-scored by the events function),
`model.promoted` on the domain-events topic, a tampered artifact refused at promotion and at load, and the other
tenant's scores never moved."""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiqleads_offline.generate import generate_file
from infra.local_cloud.cloud import write_state_file
from tests.integration.conftest import receive_until, run_cli
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration
SHIPPED = Path(__file__).resolve().parents[2] / "model_artifacts" / "lead_scorer" / "2.0.0"


@pytest.fixture(scope="module")
def state(running_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .aiqleads/local.json a user's CLI reads."""
    return write_state_file(tmp_path_factory.mktemp("registry") / "local.json", running_info)


@pytest.fixture(scope="module")
def promotions(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    """A queue subscribed to the domain-events topic for model.promoted and bulk.completed, as a subscriber
    would filter them."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName="it-model-promotions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true",
                              "FilterPolicy": json.dumps({"event_type": ["model.promoted", "bulk.completed"]})})  # fmt: skip
    yield url
    sqs.delete_queue(QueueUrl=url)


def cli(*argv: str) -> tuple[int, Any, str]:
    return run_cli(*argv)


def register(state: Path, version: str) -> None:
    code, record, err = cli("models", "register", "--dir", str(SHIPPED), "--tenant", "demo", "--version", version,
                            "--local-state", str(state))  # fmt: skip
    assert code == 0, err
    assert record["version"] == version
    assert record["lineage"]["parent_version"] == "2.0.0"


def score_version(info: dict[str, Any], key: str = "default") -> str:
    status, _, score = api(info, "POST", "/v1/leads/score", {**LEAD, "id": "it-model-probe"}, key=key)
    assert status == 200, score
    return str(score["model_version"])


def bulk_versions(info: dict[str, Any], aws: Callable[[str], Any], events: str, tenant: str, tmp: Path) -> set[str]:
    """Upload a small lead file for `tenant`; the model versions on the score items the bulk job stored, and the
    one its bulk.completed names."""
    name = f"it-models-{tenant}-{uuid.uuid4().hex[:6]}"
    source = tmp / f"{name}.csv"
    generate_file(20, 5, source, leads_only=True, invalid_rate=0.0)
    aws("s3").upload_file(str(source), info["uploads_bucket"], f"uploads/{name}.csv",
                          ExtraArgs={"Metadata": {"tenant-id": tenant}})  # fmt: skip

    def completed(message: dict[str, Any]) -> bool:
        event = json.loads(message["Body"])
        return event["type"] == "bulk.completed" and event["data"].get("key", "").endswith(f"{name}.csv")

    done, _ = receive_until(aws("sqs"), events, completed, timeout=120)
    ids = [row["id"] for row in csv.DictReader(source.open())][:3]
    key = info["api_key"] if tenant == "demo" else info["other_tenant_api_key"]
    stored = {api(info, "GET", f"/v1/leads/{lead_id}/score", key=key)[2]["model_version"] for lead_id in ids}
    return stored | {json.loads(done["Body"])["data"]["model_version"]}


def new_version() -> str:
    # Unique per run: nothing downloaded earlier can stand in for what this test registers.
    return f"2.{uuid.uuid4().int % 10_000}.0"


def test_promote_then_roll_back_through_the_cli(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], state: Path, promotions: str, tmp_path: Path
) -> None:
    other = running_info["other_tenant_api_key"]
    assert score_version(running_info) == score_version(running_info, other) == "2.0.0"
    lead_id = f"it-model-{uuid.uuid4().hex[:8]}"  # stored before the promotion, re-scored after it
    status, _, stored = api(running_info, "POST", "/v1/leads", {**LEAD, "id": lead_id})
    assert (status, stored["model_version"]) == (201, "2.0.0")
    version = new_version()
    register(state, version)
    code, listed, _ = cli("models", "list", "--local-state", str(state))
    assert code == 0
    assert listed["serving"] == "2.0.0"
    assert {(m["version"], m["tenant"]) for m in listed["data"]} == {(version, "demo"), ("2.0.0", None)}

    code, change, err = cli("models", "promote", version, "--local-state", str(state))
    assert code == 0, err
    assert (change["previous_version"], change["version"]) == ("2.0.0", version)
    assert score_version(running_info) == version  # the next real-time score carries it
    assert score_version(running_info, other) == "2.0.0"  # the other tenant is never scored by demo's model
    status, _, other_models = api(running_info, "GET", "/v1/models", key=other)
    assert status == 200
    assert [m["version"] for m in other_models["data"]] == ["2.0.0"]

    # The events function re-scores with the tenant's model too.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    actions = ["view", "click", "inquiry", "message", "schedule", "contact"]
    events = [{"lead_id": lead_id, "actor": "buyer-pro-texas", "action": a, "timestamp": now} for a in actions]
    assert api(running_info, "POST", "/v1/events", {"events": events})[0] == 202
    deadline = time.monotonic() + 20
    rescored: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rescored = api(running_info, "GET", f"/v1/leads/{lead_id}/score")[2]
        if rescored.get("model_version") == version:
            break
        time.sleep(0.2)
    assert rescored.get("model_version") == version, rescored

    def promoted(message: dict[str, Any]) -> bool:
        event = json.loads(message["Body"])
        return event["type"] == "model.promoted" and event["tenant_id"] == "demo"

    published, _ = receive_until(running_aws("sqs"), promotions, promoted)
    event = json.loads(published["Body"])
    assert (event["data"]["previous_version"], event["data"]["version"]) == ("2.0.0", version)

    # Bulk scores with the tenant's model; the other tenant's file with the global default.
    assert bulk_versions(running_info, running_aws, promotions, "demo", tmp_path) == {version}
    assert bulk_versions(running_info, running_aws, promotions, "acme-realty", tmp_path) == {"2.0.0"}

    code, back, err = cli("models", "rollback", "--local-state", str(state))
    assert code == 0, err
    assert (back["previous_version"], back["version"]) == (version, "2.0.0")
    assert score_version(running_info) == "2.0.0"
    rolled, _ = receive_until(
        running_aws("sqs"), promotions, lambda m: promoted(m) and json.loads(m["Body"])["data"]["rollback"]
    )
    assert json.loads(rolled["Body"])["data"]["version"] == "2.0.0"


def test_a_tampered_artifact_is_refused_at_promotion_and_at_load(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], state: Path
) -> None:
    s3, bucket = running_aws("s3"), running_info["buckets"]["ModelsBucket"]
    admin = running_info["admin_api_key"]
    tampered = new_version()
    register(state, tampered)
    key = f"models/tenants/demo/{tampered}/model.onnx"
    s3.put_object(Bucket=bucket, Key=key, Body=b"not the registered model")  # outside our code: S3 lets it
    status, _, refused = api(running_info, "PUT", "/v1/models/aliases/production", {"version": tampered}, key=admin)
    assert (status, refused["error"]["code"]) == (409, "artifact_corrupt"), refused
    assert "model.onnx does not match the sha256" in refused["error"]["message"]
    assert score_version(running_info) == "2.0.0"

    # Promoted while intact, tampered before any function loaded it: loading refuses it, the previous one serves.
    later = new_version()
    register(state, later)
    assert api(running_info, "PUT", "/v1/models/aliases/production", {"version": later}, key=admin)[0] == 200
    s3.put_object(Bucket=bucket, Key=f"models/tenants/demo/{later}/model.onnx", Body=b"tampered after promotion")
    assert score_version(running_info) == "2.0.0"
    assert api(running_info, "POST", "/v1/models/aliases/production/rollback", key=admin)[0] == 200


def test_alias_writes_need_an_admin_key_of_the_tenant(running_info: dict[str, Any], state: Path) -> None:
    version = new_version()
    register(state, version)
    status, _, body = api(running_info, "PUT", "/v1/models/aliases/production", {"version": version})
    assert (status, body["error"]["code"]) == (403, "forbidden")  # the demo's default key is a member key
    assert api(running_info, "POST", "/v1/models/aliases/production/rollback")[0] == 403
    status, _, body = api(running_info, "PUT", "/v1/models/aliases/shadow", {"version": version},
                          key=running_info["other_tenant_admin_api_key"])  # fmt: skip
    assert status == 404  # another tenant's admin cannot even name demo's version
    code, _, err = cli("models", "promote", version, "--local-state", str(state),
                       "--api-key", running_info["api_key"])  # fmt: skip
    assert code == 1
    assert "403" in err
    assert score_version(running_info) == "2.0.0"
