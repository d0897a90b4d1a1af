"""The learning loop through the local cloud, as an operator drives it: the demo tenant's stored history (leads,
outcomes, interaction logs as `make run` seeds them) -> `POST /v1/models/training-jobs` -> the training function
(TrainingQueue) -> a candidate better than chance on its holdout, registered with its comparison -> promoted ->
the next score carries it -> rolled back; the other tenant, with too little history, is refused with the reason
and keeps the global model; a tampered candidate is refused; the schedule queues a job per tenant."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud import LocalCloud
from infra.local_cloud.cloud import write_state_file
from tests.integration.conftest import run_cli
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration
TRAINING_TIMEOUT = 600.0  # a few hundred leads on this host take well under a minute; loaded CI hosts are slower


def follow(info: dict[str, Any], job_id: str, key: str, timeout: float = TRAINING_TIMEOUT) -> dict[str, Any]:
    """GET /v1/jobs/{id} until the job completes or fails, at most `timeout` seconds; every stage seen is kept."""
    deadline, stages = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        status, _, job = api(info, "GET", f"/v1/jobs/{job_id}", key=key)
        assert status == 200, job
        if job.get("stage") and job["stage"] not in stages:
            stages.append(job["stage"])
        if job["status"] in ("completed", "failed"):
            return {**job, "stages_seen": stages}
        time.sleep(0.5)
    raise AssertionError(f"training job {job_id} did not finish within {timeout}s (stages seen: {stages})")


def score_version(info: dict[str, Any], key: str) -> str:
    status, _, score = api(info, "POST", "/v1/leads/score", {**LEAD, "id": "it-loop-probe"}, key=key)
    assert status == 200, score
    return str(score["model_version"])


@pytest.fixture(scope="module")
def trained(running_info: dict[str, Any]) -> dict[str, Any]:
    """One training job for the demo tenant, submitted with its admin key, followed to its end."""
    key = running_info["admin_api_key"]
    status, headers, accepted = api(running_info, "POST", "/v1/models/training-jobs", {}, key=key)
    assert status == 202, accepted
    assert headers["Location"].endswith(f"/v1/jobs/{accepted['job_id']}")
    return follow(running_info, accepted["job_id"], key)


def test_training_needs_an_admin_key_and_a_valid_body(running_info: dict[str, Any]) -> None:
    status, _, body = api(running_info, "POST", "/v1/models/training-jobs", {})  # the demo's member key
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, _, body = api(
        running_info,
        "POST",
        "/v1/models/training-jobs",
        {"challengers": "sometimes"},
        key=running_info["admin_api_key"],
    )
    assert status == 422
    assert body["error"]["details"][0]["field"] == "challengers"


def test_the_demo_history_trains_a_candidate_better_than_chance_registered_with_its_comparison(
    trained: dict[str, Any], running_info: dict[str, Any]
) -> None:
    assert trained["status"] == "completed", trained
    assert trained["kind"] == "training"
    assert trained["progress"] == {"done": 5, "total": 5, "percent": 100.0}
    model = trained["model"]
    comparison = model["comparison"]
    assert comparison["serving_version"] == "2.0.0"
    assert comparison["holdout_rows"] >= 200
    assert comparison["candidate"]["roc_auc"] > 0.6  # better than chance on the newest leads it never saw
    assert model["decision"] in ("promoted", "kept")
    assert model["decision"] == ("promoted" if comparison["beats_serving"] else "kept")

    status, _, shown = api(running_info, "GET", f"/v1/models/{model['version']}")
    assert status == 200, shown
    assert shown["tenant"] == "demo"
    assert shown["comparison"] == comparison
    assert shown["training_rows"] > 1000
    assert shown["lineage"]["parent_version"] == "2.0.0"
    assert shown["lineage"]["data_snapshot"] == f"models/tenants/demo/{model['version']}/dataset.parquet"
    assert len(shown["lineage"]["data_sha256"]) == 64


def test_promote_the_candidate_the_next_score_carries_it_and_rollback_restores_the_default(
    trained: dict[str, Any], running_info: dict[str, Any]
) -> None:
    version, admin = trained["model"]["version"], running_info["admin_api_key"]
    other = running_info["other_tenant_api_key"]
    if trained["model"]["decision"] != "promoted":
        status, _, change = api(running_info, "PUT", "/v1/models/aliases/production", {"version": version}, key=admin)
        assert status == 200, change
    assert score_version(running_info, running_info["api_key"]) == version
    assert score_version(running_info, other) == "2.0.0"  # one tenant's model never scores another's leads
    status, _, back = api(running_info, "POST", "/v1/models/aliases/production/rollback", key=admin)
    assert status == 200, back
    assert (back["previous_version"], back["version"]) == (version, "2.0.0")
    assert score_version(running_info, running_info["api_key"]) == "2.0.0"


def test_too_little_history_is_refused_with_the_reason_and_the_global_model_keeps_serving(
    running_info: dict[str, Any],
) -> None:
    key = running_info["other_tenant_admin_api_key"]
    status, _, accepted = api(running_info, "POST", "/v1/models/training-jobs", {}, key=key)
    assert status == 202, accepted
    job = follow(running_info, accepted["job_id"], key)
    assert (job["status"], job["refused"], job["model"]) == ("failed", True, None)
    assert "training needs at least 1000" in job["error"]
    status, _, models = api(running_info, "GET", "/v1/models", key=key)
    assert [entry["version"] for entry in models["data"]] == ["2.0.0"]
    assert models["serving"] == "2.0.0"


def test_a_tampered_candidate_is_refused_at_promotion(
    trained: dict[str, Any], running_info: dict[str, Any], running_aws: Callable[[str], Any]
) -> None:
    version = trained["model"]["version"]
    running_aws("s3").put_object(
        Bucket=running_info["buckets"]["ModelsBucket"], Key=f"models/tenants/demo/{version}/model.onnx", Body=b"x"
    )
    status, _, body = api(
        running_info, "PUT", "/v1/models/aliases/shadow", {"version": version}, key=running_info["admin_api_key"]
    )
    assert (status, body["error"]["code"]) == (409, "artifact_corrupt")


def test_the_cli_trains_and_waits_and_the_schedule_queues_a_job_per_tenant(
    running_cloud: LocalCloud, running_info: dict[str, Any], tmp_path: Path
) -> None:
    state = write_state_file(tmp_path / "local.json", running_info)
    code, job, err = run_cli("models", "train", "--wait", "--challengers", "shadow", "--local-state", str(state))
    assert code == 0, err
    assert job["status"] == "completed"
    assert job["model"]["decision"] in ("promoted", "shadow")

    fired = running_cloud.fire_schedule("TrainingFunction")
    assert fired["scheduled"] >= 2  # every tenant in TenantsTable: demo and the other tenant at least
    outcomes = []
    for job_id in fired["job_ids"]:  # a job is its tenant's: the one key that finds it follows it
        for key in (running_info["admin_api_key"], running_info["other_tenant_admin_api_key"]):
            if api(running_info, "GET", f"/v1/jobs/{job_id}", key=key)[0] == 200:
                outcomes.append(follow(running_info, job_id, key)["status"])
                break
    assert len(outcomes) == len(fired["job_ids"])
    assert "completed" in outcomes
    assert "failed" in outcomes  # the other tenant's history is too short
