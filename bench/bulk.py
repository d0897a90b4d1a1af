"""Bulk scoring CPU per row beside the CLI's and beside the bare cost of its DynamoDB writes.

    python -m bench.bulk            # also part of `make bench` (bench/run_all.py); BENCH_BULK_ROWS (default 50,000)
    BENCH_BULK_HISTORY=1 python -m bench.bulk   # the same file as a CRM export with outcomes (a conversion item a row)

One generated csv file (1% invalid rows), three figures, all process CPU time (user + system, every thread) per
row of the file:

- CLI: `aiqleads score FILE -o OUT` in a process of its own that has scored a small file first (imports and the
  model load are a cold start, as they are for the function's warm invocations below);
- bulk: the bulk_score handler in this process, fed the upload's S3 notification from BulkQueue as Lambda's event
  source mapping would, after a small warm-up job, against the local cloud's moto, which runs in a process of its
  own and is not counted; boto3 calls are counted (S3 download and upload, JobsTable, SNS, BatchWriteItem);
- floor: the lead and score items that job wrote (scanned back from LeadsTable, already in DynamoDB's
  AttributeValue form) written again to the same moto by a bare loop of `batch_write_item` calls of 25, on a
  client with the functions' configuration: what the writes alone cost in boto3.

Beside them: the same items written again the function's way (put requests as JSON joined into the request
body, `storage.batch.batch_write_json`), which is how the function can come in under the floor. The floor and
that figure are each the less of two interleaved runs (the host is shared); the bulk job runs once.

The target is bulk <= 1.5 x (CLI + floor): the function may add a half of what it cannot avoid, no more.
BENCH_BULK_PROFILE=FILE also writes a cProfile of the measured invocation to FILE (pstats format; the handler's
thread only: BatchWriteItem runs in its write threads, which `py-spy record -- python -m bench.bulk` also samples).
"""

from __future__ import annotations

import cProfile
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiqleads.bulk.requests import parse_message
from aiqleads.storage.aws import new_client, reset_clients
from aiqleads.storage.batch import batch_write_json
from bench.data import history_file, leads_file
from infra.local_cloud import LocalCloud
from infra.local_cloud.functions import discover_functions, local_environment
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
MODEL_DIR = ROOT / "model_artifacts" / "lead_scorer" / "2.0.0"
HANDLER_FILE = ROOT / "functions" / "bulk_score" / "handler.py"
FUNCTION = "BulkScoreFunction"
TARGET_RATIO = 1.5
WARM_UP_ROWS = 2_000
BATCH_WRITE_LIMIT = 25

_CLI_CODE = """
import sys, time
from aiqleads_offline.cli import main
warm, source, output = sys.argv[1:4]
assert main(["score", warm, "-o", output, "-q"]) == 0
start = time.process_time()
assert main(["score", source, "-o", output, "-q"]) == 0
print(time.process_time() - start)
"""


def cli_cpu(source: Path, warm: Path) -> float:
    """CPU seconds of `aiqleads score source` in a process that scored `warm` first."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-c", _CLI_CODE, str(warm), str(source), str(Path(scratch) / "out.csv")],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "AIQLEADS_MODEL_DIR": str(MODEL_DIR)},
        )
    return float(done.stdout.strip().splitlines()[-1])


class _Context:
    """What Lambda passes the handler (a full 900 s: one invocation does the whole file)."""

    function_name = "aiqleads-bench-bulk-score"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:aiqleads-bench-bulk-score"

    def __init__(self) -> None:
        self.aws_request_id = uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _function_environment(cloud: LocalCloud) -> dict[str, str]:
    """The bulk function's environment as the template declares it, resolved against the local cloud (the
    model from the repository, not the layer's /opt)."""
    specs = discover_functions(load_template(TEMPLATE), ROOT)
    environment, _ = local_environment(
        {FUNCTION: specs[FUNCTION]},
        cloud.resources.resolve,
        aws=cloud.server.environment(),
        overrides={"AIQLEADS_MODEL_DIR": str(MODEL_DIR), "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    return environment


def _load_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("bench_bulk_score_handler", HANDLER_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    reset_clients()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_clients()


class _Bulk:
    def __init__(self, cloud: LocalCloud) -> None:
        refs = cloud.resources.ref
        self.s3, self.sqs, self.dynamodb = cloud.client("s3"), cloud.client("sqs"), cloud.client("dynamodb")
        self.bucket, self.queue_url, self.leads_table = refs("UploadsBucket"), refs("BulkQueue"), refs("LeadsTable")
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.handler = _load_handler()

    def notification(self, key: str) -> dict[str, Any]:
        """The upload's S3 notification as the SQS event Lambda would invoke the function with."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                if any(getattr(request, "key", None) == key for request in parse_message(message["Body"])):
                    record = {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "md5OfBody": message["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": self.queue_arn,
                        "awsRegion": "us-east-1",
                    }
                    return {"Records": [record]}
        raise RuntimeError(f"no notification for {key} on the bulk queue")

    def run(self, source: Path, tenant: str, profile: Path | None = None) -> float:
        """CPU seconds of the invocation that scores `source` as an upload of `tenant`."""
        key = f"uploads/{tenant}/{source.name}"
        self.s3.upload_file(str(source), self.bucket, key)
        event = self.notification(key)
        profiler = cProfile.Profile() if profile else None
        start = time.process_time()
        if profiler:
            profiler.enable()
        result = self.handler(event, _Context())
        if profiler:
            profiler.disable()
        seconds = time.process_time() - start
        if profiler and profile:
            profiler.dump_stats(str(profile))
        if result != {"batchItemFailures": []}:
            raise RuntimeError(f"the bulk job failed: {result}")
        if not self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"results/{tenant}/").get("KeyCount"):
            raise RuntimeError("the bulk job wrote no results")
        return seconds

    def items(self) -> list[dict[str, Any]]:
        """Every item of LeadsTable, as DynamoDB returns (and takes) them."""
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.leads_table)
        return [item for page in pages for item in page["Items"]]


def floor_cpu(endpoint_url: str, table: str, items: list[dict[str, Any]]) -> float:
    """CPU seconds of a bare BatchWriteItem loop writing `items` (AttributeValue form) in calls of 25."""
    dynamodb = new_client("dynamodb", endpoint_url=endpoint_url)
    dynamodb.describe_table(TableName=table)  # the client's first call loads its models: not a write
    requests = [{"PutRequest": {"Item": item}} for item in items]
    start = time.process_time()
    for offset in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: requests[offset : offset + BATCH_WRITE_LIMIT]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return time.process_time() - start


def joined_writes_cpu(endpoint_url: str, table: str, items: list[dict[str, Any]]) -> float:
    """CPU seconds of the function's own write path for `items`: their put requests as JSON texts (made before
    the clock starts, as the function makes them from columns) joined 25 to a body (`batch_write_json`)."""
    dynamodb = new_client("dynamodb", endpoint_url=endpoint_url)
    dynamodb.describe_table(TableName=table)
    requests = [json.dumps({"PutRequest": {"Item": item}}) for item in items]
    start = time.process_time()
    batch_write_json(dynamodb, table, requests)
    return time.process_time() - start


def measure(rows: int | None = None) -> dict[str, Any]:
    rows = rows or int(os.environ.get("BENCH_BULK_ROWS", "50000"))
    profile = os.environ.get("BENCH_BULK_PROFILE")
    source, warm = leads_file(rows), leads_file(WARM_UP_ROWS)
    if os.environ.get("BENCH_BULK_HISTORY") == "1":
        source, warm = history_file(source), history_file(warm)
    cli = cli_cpu(source, warm)
    with LocalCloud(TEMPLATE, port=0, run_functions=False, demo=False) as cloud:
        environment = _function_environment(cloud)
        with _environment(environment):
            bulk = _Bulk(cloud)
            bulk.run(warm, "bench-warm-up")
            started = time.perf_counter()
            bulk_seconds = bulk.run(source, "bench", Path(profile) if profile else None)
            bulk_wall = time.perf_counter() - started
            items = [item for item in bulk.items() if item["tenant_id"]["S"] == "bench"]
            # Each twice, interleaved, the less of the two: the host is shared and these runs are cheap.
            floors, joins = [], []
            for _ in range(2):
                floors.append(floor_cpu(cloud.endpoint_url, bulk.leads_table, items))
                joins.append(joined_writes_cpu(cloud.endpoint_url, bulk.leads_table, items))
            floor, joined = min(floors), min(joins)
    per_row = {
        "cli_us": cli / rows * 1e6,
        "bulk_us": bulk_seconds / rows * 1e6,
        "floor_us": floor / rows * 1e6,
        "joined_writes_us": joined / rows * 1e6,
    }
    ratio = per_row["bulk_us"] / (per_row["cli_us"] + per_row["floor_us"])
    return {"rows": rows, "items": len(items), "bulk_wall_s": bulk_wall, **per_row, "ratio": ratio}


def report(result: dict[str, Any], line: Callable[[str, str, str, bool | None], str]) -> None:
    rows, ratio = result["rows"], result["ratio"]
    print(f"\nBulk scoring CPU per row, {rows:,} generated leads csv ({result['items']:,} DynamoDB items written):")
    print(line("CLI (aiqleads score, process CPU)", f"{result['cli_us']:.1f} µs/row", "", None))
    print(line("bulk function (handler process, boto3 included)", f"{result['bulk_us']:.1f} µs/row", "", None))
    print(line("floor: bare BatchWriteItem loop, same items", f"{result['floor_us']:.1f} µs/row", "", None))
    print(line("bulk / (CLI + floor)", f"{ratio:.2f}x", f"<= {TARGET_RATIO}x", ratio <= TARGET_RATIO))
    joined = f"{result['joined_writes_us']:.1f} µs/row"
    print(line("its writes alone, its way (joined JSON bodies)", joined, "", None))
    print(line("bulk job wall time (moto included)", f"{result['bulk_wall_s']:.1f} s", "", None))


def _line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


if __name__ == "__main__":
    measured = measure(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    report(measured, _line)
    print(json.dumps(measured))
