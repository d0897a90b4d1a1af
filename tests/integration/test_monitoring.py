"""Model monitoring through the local cloud, as an operator and a tenant meet it: leads arrive in bulk files (drawn
as the training data was, or with prices four times the market's), outcomes through `POST /v1/conversions`, a run
starts with `POST /v1/monitoring/runs` (or `aiqleads monitor run`) and the monitor function runs it from
MonitorQueue; the figures come back from `GET /v1/models/{version}/health` and `GET /v1/monitoring/runs`, and
alerts arrive on an SQS queue subscribed to the alerts topic, as an operator's subscriber would have them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from aiqleads.files.tabular import write_table
from aiqleads_offline.generate import generate_table
from tests.integration.conftest import receive_until, run_cli
from tests.integration.test_backbone import api
from tests.integration.test_observability import emf

pytestmark = pytest.mark.integration

MODEL = "2.0.0"
ROWS = 1500
WEEK = timedelta(days=7)
DEADLINE = 120.0


@pytest.fixture(scope="module")
def state_file(running_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("monitoring") / "local.json"
    path.write_text(json.dumps(running_info))
    return path


def aiqleads(state_file: Path, *args: str) -> tuple[int, Any, str]:
    return run_cli(*args, "--local-state", str(state_file), timeout=300)


def new_tenant(state_file: Path, name: str) -> tuple[str, str]:
    """A tenant of its own (nothing else scores its leads), and its admin key."""
    tenant = f"{name}-{uuid.uuid4().hex[:6]}"
    code, _, err = aiqleads(state_file, "tenants", "create", tenant)
    assert code == 0, err
    code, issued, err = aiqleads(
        state_file, "keys", "issue", "--tenant", tenant, "--tier", "enterprise", "--role", "admin"
    )
    assert code == 0, err
    return tenant, str(issued["api_key"])


@pytest.fixture(scope="module")
def alerts(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    """An SQS queue subscribed to the alerts topic for the model alerts, as an operator's subscriber would filter."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName="it-model-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"alert_type": ["model.drift", "model.performance", "model.calibration"]}
    sns.subscribe(TopicArn=running_info["alerts_topic_arn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy)})  # fmt: skip
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture(scope="module")
def completions(running_aws: Callable[[str], Any], running_info: dict[str, Any]) -> Iterator[str]:
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName="it-monitoring-bulk")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true",
                              "FilterPolicy": json.dumps({"event_type": ["bulk.completed"]})})  # fmt: skip
    yield url
    sqs.delete_queue(QueueUrl=url)


def live_batch(seed: int, price_factor: float = 1.0) -> tuple[pa.Table, np.ndarray]:
    """Leads drawn as the training data was (behaviour and market columns included), each moved forward by whole
    weeks into the last seven days (the weekday and hour they were drawn with stay), and their real outcomes."""
    table = generate_table(ROWS, seed, invalid_rate=0.0)
    labels = np.asarray(pc.cast(table["converted"], pa.int64()).to_numpy(zero_copy_only=False))
    now = datetime.now(UTC)
    start = now - WEEK + timedelta(minutes=5)
    moved: list[str | None] = []
    for text in table["created_at"].to_pylist():
        if text is None:  # arrives without a date: the service dates it on arrival, as training saw it missing
            moved.append(None)
            continue
        created = datetime.fromisoformat(text.replace("Z", "+00:00"))
        weeks = max(0, -(-(start - created) // WEEK))
        moved.append((created + weeks * WEEK).strftime("%Y-%m-%dT%H:%M:%SZ"))
    table = table.set_column(table.schema.get_field_index("created_at"), "created_at", pa.array(moved, pa.string()))
    if price_factor != 1.0:
        price = pc.cast(pc.multiply(pc.cast(table["price"], pa.float64()), price_factor), pa.string())
        table = table.set_column(table.schema.get_field_index("price"), "price", price)
    return table.drop_columns(["converted"]), labels


def upload(aws: Callable[[str], Any], info: dict[str, Any], completions: str, tenant: str, table: pa.Table,
           tmp: Path) -> None:  # fmt: skip
    """A bulk file in the tenant's folder, scored by the bulk function (waits for its bulk.completed)."""
    name = f"it-monitor-{uuid.uuid4().hex[:8]}"
    path = tmp / f"{name}.csv"
    write_table(table, path)
    aws("s3").upload_file(str(path), info["uploads_bucket"], f"uploads/{tenant}/{name}.csv")

    def done(message: dict[str, Any]) -> bool:
        event = json.loads(message["Body"])
        return event["tenant_id"] == tenant and event["data"].get("key", "").endswith(f"{name}.csv")

    message, _ = receive_until(aws("sqs"), completions, done, timeout=DEADLINE)
    assert json.loads(message["Body"])["data"]["scored"] == ROWS


def record_outcomes(info: dict[str, Any], key: str, table: pa.Table, converted: np.ndarray) -> None:
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = table["id"].to_pylist()
    for start in range(0, len(ids), 100):
        outcomes = [
            {"lead_id": lead_id, "outcome": "converted" if label else "lost", "at": at}
            for lead_id, label in zip(ids[start : start + 100], converted[start : start + 100], strict=True)
        ]
        status, _, body = api(info, "POST", "/v1/conversions", {"conversions": outcomes}, key=key)
        assert status == 201, body


def run(info: dict[str, Any], key: str) -> dict[str, Any]:
    """POST /v1/monitoring/runs, then GET /v1/jobs/{id} until the monitor function completed it."""
    status, headers, accepted = api(info, "POST", "/v1/monitoring/runs", key=key)
    assert status == 202, accepted
    assert headers["Location"].endswith(f"/v1/jobs/{accepted['job_id']}")
    deadline = time.monotonic() + DEADLINE
    while True:
        status, _, job = api(info, "GET", accepted["status_url"], key=key)
        assert status == 200, job
        if job["status"] == "completed":
            assert job["kind"] == "monitor"
            return dict(job["monitoring"])
        assert job.get("error") is None, job
        assert time.monotonic() < deadline, f"monitoring job still {job['status']}"
        time.sleep(0.5)


def health(info: dict[str, Any], key: str) -> dict[str, Any]:
    status, _, body = api(info, "GET", f"/v1/models/{MODEL}/health", key=key)
    assert status == 200, body
    return dict(body)


def model_alerts(sqs: Any, url: str, tenant: str) -> list[dict[str, Any]]:
    """The model alerts for `tenant` on the queue now (each publish reached it before its run completed)."""
    found = []
    while True:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = response.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            alert = json.loads(message["Body"])
            if alert["tenant_id"] == tenant:
                found.append(alert)


def test_prices_several_times_the_market_act_and_alert_once_a_day(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    state_file: Path,
    alerts: str,
    completions: str,
    tmp_path: Path,
) -> None:
    tenant, key = new_tenant(state_file, "drifting")
    status, _, missing = api(running_info, "GET", f"/v1/models/{MODEL}/health", key=key)
    assert status == 404  # no run has watched it yet
    assert "POST /v1/monitoring/runs" in missing["error"]["message"]
    table, _ = live_batch(seed=61, price_factor=4.0)
    upload(running_aws, running_info, completions, tenant, table, tmp_path)

    summary = run(running_info, key)
    assert summary["production_version"] == MODEL
    assert summary["leads"] == ROWS
    assert summary["psi_max"] >= 0.25
    psi_lines = emf(running_info, "MonitorFunction", "ModelPsiMax")  # the ModelPsiAlarm's metric, in its log
    assert any(line["ModelPsiMax"] == [summary["psi_max"]] for line in psi_lines)
    figures = health(running_info, key)
    assert figures["run_id"] == summary["run_id"]
    bands = {d["name"]: d["band"] for d in figures["health"]["features"]}
    assert {bands["price"], bands["price_per_sqft"], bands["price_vs_market"]} == {"act"}
    assert figures["health"]["performance"]["roc_auc"]["value"] is None  # no outcomes yet: no number, but why
    assert "not enough outcomes" in figures["health"]["performance"]["roc_auc"]["note"]

    (alert,) = model_alerts(running_aws("sqs"), alerts, tenant)
    assert alert["type"] == "model.drift"
    details = alert["details"]
    assert (details["kind"], details["model_version"], details["threshold"]) == ("drift", MODEL, 0.25)
    assert details["subject"] in {"price", "price_per_sqft", "price_vs_market"}
    assert details["value"] >= 0.25

    # The same day again, through the operator's command: the run is made and stored, the alert is not resent.
    code, job, err = aiqleads(state_file, "monitor", "run", "--tenant", tenant, "--wait")
    assert code == 0, err
    assert job["status"] == "completed"
    assert [a["sent"] for a in job["monitoring"]["alerts"]] == [False]
    assert model_alerts(running_aws("sqs"), alerts, tenant) == []
    status, _, page = api(running_info, "GET", "/v1/monitoring/runs?limit=1", key=key)
    assert status == 200
    assert [r["id"] for r in page["runs"]] == [job["id"]]
    assert page["next_cursor"] is not None
    status, _, older = api(running_info, "GET", f"/v1/monitoring/runs?limit=5&cursor={page['next_cursor']}", key=key)
    assert status == 200
    assert [r["id"] for r in older["runs"]] == [summary["run_id"]]
    assert older["next_cursor"] is None


def test_leads_like_the_training_data_raise_nothing_until_outcomes_contradict_the_model(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    state_file: Path,
    alerts: str,
    completions: str,
    tmp_path: Path,
) -> None:
    tenant, key = new_tenant(state_file, "steady")
    table, labels = live_batch(seed=62)
    upload(running_aws, running_info, completions, tenant, table, tmp_path)
    record_outcomes(running_info, key, table, labels)

    summary = run(running_info, key)
    assert summary["leads"] == ROWS
    assert summary["psi_max"] < 0.25
    assert summary["alerts"] == []
    assert model_alerts(running_aws("sqs"), alerts, tenant) == []
    performance = health(running_info, key)["health"]["performance"]
    assert performance["outcomes"] == ROWS
    assert performance["roc_auc"]["value"] > 0.75  # the model does on them what it did in training

    # The same leads' outcomes turned around (a later report supersedes): the model is now wrong about them.
    record_outcomes(running_info, key, table, 1 - labels)
    summary = run(running_info, key)
    assert summary["live_auc"] < 0.5
    kinds = {a["kind"] for a in summary["alerts"] if a["sent"]}
    assert {"performance", "calibration"} <= kinds
    received = {a["details"]["kind"]: a for a in model_alerts(running_aws("sqs"), alerts, tenant)}
    assert {"performance", "calibration"} <= set(received)
    performance_alert = received["performance"]["details"]
    assert performance_alert["subject"] == "roc_auc"
    assert performance_alert["value"] == summary["live_auc"]
    assert performance_alert["threshold"] == pytest.approx(0.802032 - 0.05, abs=1e-6)
    drops = [line["ModelLiveAucDrop"][0] for line in emf(running_info, "MonitorFunction", "ModelLiveAucDrop")]
    assert pytest.approx(0.802032 - summary["live_auc"], abs=1e-6) in drops  # what ModelLiveAucDropAlarm reads


def test_monitoring_runs_need_an_admin_key(running_info: dict[str, Any]) -> None:
    status, _, body = api(running_info, "POST", "/v1/monitoring/runs")  # the demo member key
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    status, _, body = api(running_info, "GET", "/v1/monitoring/runs?cursor=bm9wZQ")
    assert status == 422
    assert body["error"]["details"][0]["field"] == "cursor"


def test_the_daily_schedule_queues_one_run_per_tenant(running_cloud: Any, running_info: dict[str, Any]) -> None:
    fired = running_cloud.fire_schedule("MonitorFunction")
    assert fired["scheduled"] >= 2  # every tenant in TenantsTable: demo and the other tenant at least
    key = running_info["admin_api_key"]
    followed = [
        job_id for job_id in fired["job_ids"] if api(running_info, "GET", f"/v1/jobs/{job_id}", key=key)[0] == 200
    ]
    assert len(followed) == 1  # demo's own run: only its key finds it
    deadline = time.monotonic() + DEADLINE
    while (job := api(running_info, "GET", f"/v1/jobs/{followed[0]}", key=key)[2])["status"] != "completed":
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["monitoring"]["production_version"] == MODEL
    assert health(running_info, key)["run_id"] == followed[0]
