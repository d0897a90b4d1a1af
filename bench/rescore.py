"""Rescoring after a promotion, through the local cloud: how many open leads per second the job rescores.

    python -m bench.rescore        # BENCH_RESCORE_ROWS (default 20,000) leads uploaded for tenant demo

Starts the local cloud (`make run`'s, alias TTL 0), uploads BENCH_RESCORE_ROWS generated leads created in the
last 60 days (inside the label window) for the demo tenant through the bulk path (seed 8: ids apart from the
demo's 3,000, which stay);
trains a small model with our pipeline (so grades move), registers it for demo and promotes it with the admin key,
then follows the returned job through GET /v1/jobs/{id}. Prints the leads rescored, the wall time from the
promotion to completed, the job's own processing time from `model.rescored`, and both as leads per second. moto
runs in a process of its own; the functions share this one (two cores here, shared with other work).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiqleads.features.spec import default_spec
from aiqleads.files.tabular import write_table
from aiqleads.registry.service import ModelRegistry
from aiqleads.storage.models import ArtifactBucket, ModelRepository
from aiqleads_offline.generate import generate_file, generate_table
from infra.local_cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


def _api(info: dict[str, Any], method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    request = urllib.request.Request(
        info["api_url"].rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"x-api-key": key or info["api_key"], "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait(info: dict[str, Any], job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = _api(info, "GET", f"/v1/jobs/{job_id}")
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} not done within {timeout} s")


def measure(rows: int) -> dict[str, float]:
    from aiqleads.training.pipeline import TrainingOptions, train

    with (
        tempfile.TemporaryDirectory() as work,
        LocalCloud(TEMPLATE, port=0, parameters={"ModelAliasTtlSeconds": 0}) as cloud,
    ):
        info = cloud.info()
        directory = Path(work)
        now = datetime.now(UTC)
        upload = directory / "rescore-bench.csv"
        write_table(
            generate_table(rows, 8, leads_only=True, invalid_rate=0.0, start=now - timedelta(days=60), days=60), upload
        )
        sqs, sns = cloud.client("sqs"), cloud.client("sns")
        url = sqs.create_queue(QueueName=f"bench-rescore-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(
                          {"event_type": ["bulk.completed", "model.rescored"]})})  # fmt: skip
        cloud.client("s3").upload_file(str(upload), info["uploads_bucket"], "uploads/rescore-bench.csv",
                                       ExtraArgs={"Metadata": {"tenant-id": "demo"}})  # fmt: skip

        def receive(kind: str, timeout: float) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
                    event: dict[str, Any] = json.loads(message["Body"])
                    if event["type"] == kind:
                        return event
            raise TimeoutError(f"no {kind} within {timeout} s")

        receive("bulk.completed", 900)
        training = directory / "training.csv"
        generate_file(6_000, 11, training)
        model = directory / "model"
        train(training, model, TrainingOptions(label="converted", id_column="id", spec=default_spec(), trees=30,
                                               version="bench"))  # fmt: skip
        tables, buckets = info["tables"], info["buckets"]
        registry = ModelRegistry(ModelRepository(tables["ModelsTable"], cloud.client("dynamodb")),
                                 ArtifactBucket(buckets["ModelsBucket"], cloud.client("s3")))  # fmt: skip
        version = f"9.{uuid.uuid4().int % 1000}.0"
        registry.register_directory("demo", model, version=version)
        started = time.monotonic()
        change = _api(info, "PUT", "/v1/models/aliases/production", {"version": version}, key=info["admin_api_key"])
        job = _wait(info, change["rescore_job_id"], 3600)
        wall = time.monotonic() - started
        summary = receive("model.rescored", 60)["data"]
        rescored = float(summary["leads_rescored"])
        return {
            "leads_in_window": float(job["progress"]["total"]),
            "leads_rescored": rescored,
            "grades_moved": float(summary["grades_moved"]),
            "wall_s": wall,
            "job_s": float(summary["processing_s"]),
            "leads_per_s_wall": rescored / wall,
            "leads_per_s_job": rescored / float(summary["processing_s"]),
        }


def main() -> None:
    rows = int(os.environ.get("BENCH_RESCORE_ROWS", "20000"))
    figures = measure(rows)
    print(f"\nRescoring after a promotion, local cloud, {figures['leads_in_window']:,.0f} leads in the window:")
    print(f"  leads rescored                     {figures['leads_rescored']:>10,.0f}")
    print(f"  grades moved                       {figures['grades_moved']:>10,.0f}")
    print(
        f"  promotion -> completed (wall)      {figures['wall_s']:>10.1f} s   {figures['leads_per_s_wall']:,.0f} leads/s"
    )
    print(
        f"  the job's processing time          {figures['job_s']:>10.1f} s   {figures['leads_per_s_job']:,.0f} leads/s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
